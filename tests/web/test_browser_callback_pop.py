"""The callback screen pop on a real appliance, carrier, dialer and headless
Chromium: a known client goes through the IVR (enters a contract number) to
operator 1001 (Anna), who types a note and orders a callback from her
desktop. When the call has ended and Anna is ready, the dialer rings her
phone for the order: her desktop pops the card of the client to be called —
the order (number, "as soon as possible"), the original call's IVR path and
her note — and what she types next continues the same session."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.harness import korund, wait_for
from tests.web.test_browser_desktop import CLIENT_NUMBER, chromium, desktop_of, site  # noqa: F401



def test_the_dialer_rings_the_operator_and_her_desktop_pops_the_order_with_the_session(chromium, site,
                                                                                       appliance, carrier):
    with appliance.db() as conn:   # a short ring for the client, read by the dialer every pass
        for key, value in (("dialer.client_ring", "8"), ("dialer.operator_ring", "15")):
            conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", [key, value])
    korund(appliance, "operator", "pause", "1002", "1")   # only Anna can take the order
    carrier.phone("1001", "answer", tone=700)
    anna_ctx, anna = desktop_of(chromium, site, "anna")
    try:
        call = carrier.call(ani=CLIENT_NUMBER, dnis="100", hold=14, dtmf="4711#", dtmf_delay=1.5)
        call.wait("SimPhoneAnswered", timeout=40, Phone="1001")
        expect(anna.locator("#card-state")).to_have_text("answered")
        expect(anna.locator("#ivr-path")).to_contain_text("contract entered: 4711")
        linkedid = anna.locator("#call").get_attribute("data-linkedid")
        expect(anna.locator("#callback-info")).to_be_hidden()
        anna.fill("#note", "Call back about 4711")
        expect(anna.locator("#note-status")).to_have_text("Saved")
        pops = len(anna.evaluate("window.korundPops"))
        mark = carrier.events.mark()   # before the order: the dialer may ring at once
        anna.click("#callback")   # the caller's own number, as soon as possible
        expect(anna.locator("#callback-done")).to_contain_text("placed")
        call.ended(timeout=60)
        # Anna is ready again: the dialer rings her phone first, for the order.
        rang = carrier.events.wait(mark, 60, Event="UserEvent", UserEvent="SimPhoneRang", Phone="1001")
        assert rang["CallerNum"] == CLIENT_NUMBER.lstrip("+")
        wait_for(lambda: len(anna.evaluate("window.korundPops")) > pops, 20, what="the callback's pop")
        pop = anna.evaluate("window.korundPops")[-1]
        assert pop["linkedid"] == linkedid   # the original call's session continues
        info = anna.locator("#callback-info")
        expect(info).to_be_visible()
        expect(info).to_contain_text(CLIENT_NUMBER.lstrip("+"))
        expect(info).to_contain_text("as soon as possible")
        expect(anna.locator("#c-name")).to_have_value("Ivan Sidorov")
        expect(anna.locator("#ivr-path")).to_contain_text("contract entered: 4711")
        expect(anna.locator("#note")).to_have_value("Call back about 4711")
        expect(anna.locator("#edits")).to_contain_text("callback ordered")
        # The client answers; what Anna types now belongs to the same session.
        carrier.events.wait(mark, 40, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone=CLIENT_NUMBER.lstrip("+"))
        anna.fill("#note", "Call back about 4711 — reached, extended")
        expect(anna.locator("#note-status")).to_have_text("Saved")
    finally:
        anna_ctx.close()
        for line in appliance.cli("core show channels concise"):   # Anna ends the talk
            if line.startswith("PJSIP/1001-"):
                appliance.mgr.send_action({"Action": "Hangup", "Channel": line.split("!", 1)[0]})
        korund(appliance, "operator", "ready", "1002")
    with appliance.db() as conn:
        notes = conn.execute("SELECT linkedid, text FROM session_notes WHERE author = 'anna'").fetchall()
        order = conn.execute("SELECT id, uniqueid FROM callbacks ORDER BY id DESC LIMIT 1").fetchone()
        legs = conn.execute("SELECT extension, linkedid FROM offers WHERE uniqueid IN "
                            "(SELECT uniqueid FROM callback_attempts WHERE callback_id = ?)", [order[0]]).fetchall()
    assert [tuple(n) for n in notes] == [(linkedid, "Call back about 4711 — reached, extended")]
    assert order[1] == linkedid and [tuple(l) for l in legs] == [("1001", linkedid)]

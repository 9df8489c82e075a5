"""The operator's desktop in a real headless Chromium against a real
appliance and carrier: a known client goes through the IVR (enters a
contract number) to operator 1001, whose phone rings without answering —
the card pops in the browser while it rings, with the client's data and the
IVR path; the operator types a note (saved as typed), picks up, and
transfers the call to 1002; the second operator's desktop (another browser
context) pops the same session with the earlier note."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from appliance.clients import store as clients
from appliance.base import store
from appliance.users import store as users
from appliance.scenarios import store as scenarios
from tests.harness import wait_for
from tests.web.browser import chromium, logged_in  # noqa: F401 (fixtures)


PASSWORD = "Operat0r-Pa55word"
CLIENT_NUMBER = "+74951112233"
GRAPH = {
    "start": "contract",
    "nodes": {
        "contract": {"type": "input", "prompts": ["t-contract"], "variable": "contract", "min_digits": 4,
                     "max_digits": 6, "timeout": 5, "retries": 0, "next": {"next": "ops", "fail": "ops"}},
        "ops": {"type": "route", "to": "operator", "operator": "1001"},
    },
}


@pytest.fixture(scope="module")
def site(pbx):
    appliance, _carrier = pbx
    appliance.tone_prompt("t-contract", 800, seconds=1)
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        users.create(db, "admin", PASSWORD, "admin")   # else the panel asks for the first administrator
        for name, ext in (("anna", "1001"), ("boris", "1002")):
            op = db.execute("SELECT id FROM operators WHERE extension = ?", [ext]).fetchone()[0]
            users.create(db, name, PASSWORD, "operator", language="en", operator_id=op)
        clients.save(db, {"name": "Ivan Sidorov", "phones": CLIENT_NUMBER, "company": "Roga i Kopyta"}, by="test")
        scenarios.create(db, "contract", "Contract", GRAPH)
        scenarios.publish(db, "contract", "test")
        scenarios.bind(db, "100", scenario="contract")
    finally:
        db.close()
    return appliance.panel_url()


def desktop_of(chromium, site, username):
    """*username*'s operator desktop, waiting for calls."""
    context, page = logged_in(chromium, site, username, PASSWORD, "/desktop")
    expect(page.locator("#waiting")).to_be_visible()
    return context, page


def offer_state(appliance, ext):
    with appliance.db() as conn:
        row = conn.execute("SELECT state FROM offers WHERE extension = ? ORDER BY id DESC LIMIT 1", [ext]).fetchone()
    return row[0] if row else None


def test_screen_pop_while_ringing_note_transfer_and_the_next_desktop(chromium, site, appliance, carrier):
    carrier.phone("1001", "noanswer")
    anna_ctx, anna = desktop_of(chromium, site, "anna")
    boris_ctx, boris = desktop_of(chromium, site, "boris")
    try:
        call = carrier.call(ani=CLIENT_NUMBER, dnis="100", hold=45, dtmf="4711#", dtmf_delay=1.5)
        rang = call.wait("SimPhoneRang", timeout=40, Phone="1001")
        # The card is up while the phone rings (the phone is set not to answer).
        card = anna.locator("#call")
        expect(card).to_be_visible()
        expect(anna.locator("#card-ani")).to_have_text(CLIENT_NUMBER)
        expect(anna.locator("#c-name")).to_have_value("Ivan Sidorov")
        expect(anna.locator("#c-company")).to_have_value("Roga i Kopyta")
        expect(anna.locator("#card-known")).to_contain_text("Known client")
        expect(anna.locator("#card-state")).to_have_text("ringing")
        expect(anna.locator("#ivr-path")).to_contain_text("contract entered: 4711")
        expect(anna.locator("#card-dnis")).to_have_text("100")
        assert not carrier.events.find(call.mark, Event="UserEvent", UserEvent="SimPhoneAnswered")
        assert offer_state(appliance, "1001") == "ringing"
        # A note typed during the call is saved without a button.
        anna.fill("#note", "Wants to extend contract 4711")
        expect(anna.locator("#note-status")).to_have_text("Saved")
        # 1001 picks up: the ringing channel on the phone side starts over in answer mode.
        carrier.phone("1001", "answer", tone=700)
        carrier.mgr.send_action({"Action": "Redirect", "Channel": rang["Channel"], "Context": "sim-phones",
                                 "Exten": "1001", "Priority": "1"})
        call.wait("SimPhoneAnswered", timeout=20, Phone="1001")
        wait_for(lambda: offer_state(appliance, "1001") == "answered", 10, what="the offer answered")
        expect(anna.locator("#card-state")).to_have_text("answered")
        # Blind transfer to 1002 from the desktop.
        anna.fill("#transfer-target", "1002")
        anna.select_option("#transfer-kind", "blind")
        anna.click("#transfer")
        expect(anna.locator("#transfer-done")).to_contain_text("1002")
        expect(anna.locator("#card-state")).to_have_text("ended")   # her leg is gone
        call.wait("SimPhoneAnswered", timeout=30, Phone="1002")
        # Boris's desktop pops the same session: path, client, Anna's note, the transfer.
        expect(boris.locator("#call")).to_be_visible()
        expect(boris.locator("#card-ani")).to_have_text(CLIENT_NUMBER)
        expect(boris.locator("#c-name")).to_have_value("Ivan Sidorov")
        expect(boris.locator("#ivr-path")).to_contain_text("4711")
        expect(boris.locator("#notes-earlier")).to_contain_text("Wants to extend contract 4711")
        expect(boris.locator("#edits")).to_contain_text(re.compile(r"anna .*blind → 1002"))
        pops = anna.evaluate("window.korundPops")
        assert pops and pops[0]["linkedid"] == boris.locator("#call").get_attribute("data-linkedid")
        # Boris's own note joins the session.
        boris.fill("#note", "Extended")
        expect(boris.locator("#note-status")).to_have_text("Saved")
        call.ended(timeout=60)
    finally:
        anna_ctx.close()
        boris_ctx.close()
        carrier.phone("1001", "answer", tone=700)
    with appliance.db() as conn:
        notes = {r[0]: r[1] for r in conn.execute("SELECT author, text FROM session_notes")}
    assert notes == {"anna": "Wants to extend contract 4711", "boris": "Extended"}

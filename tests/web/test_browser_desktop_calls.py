"""Calling out from the operator's desktop in a real headless Chromium
against a real appliance and carrier: a known client's call ends, the
operator clicks "Call" on one of the card's numbers -- her phone rings
first, showing the number, then the carrier sees the number -- and the card
pops again for the call out; a number typed in "Call a number" that the
outbound policy refuses is shown as an error and nothing rings."""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from appliance.base import store
from appliance.clients import store as clients
from appliance.scenarios import store as scenarios
from appliance.users import store as users
from tests.harness import wait_for
from tests.web.browser import chromium, logged_in  # noqa: F401 (fixtures)

PASSWORD = "Operat0r-Pa55word"
CLIENT = "+74951112233"
OTHER = "84957001122"          # the client's second number, on the card
DIALLED = "74957001122"        # ... as the card keeps it, and so as its button dials it
GRAPH = {"start": "ops", "nodes": {"ops": {"type": "route", "to": "operator", "operator": "1001"}}}


@pytest.fixture(scope="module")
def site(pbx):
    appliance, _carrier = pbx
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        users.create(db, "admin", PASSWORD, "admin")   # else the panel asks for the first administrator
        op = db.execute("SELECT id FROM operators WHERE extension = '1001'").fetchone()[0]
        users.create(db, "anna", PASSWORD, "operator", language="en", operator_id=op)
        clients.save(db, {"name": "Ivan Sidorov", "phones": f"{CLIENT}\n{OTHER}"}, by="test")
        scenarios.create(db, "to-anna", "To Anna", GRAPH)
        scenarios.publish(db, "to-anna", "test")
        scenarios.bind(db, "200", scenario="to-anna")
    finally:
        db.close()
    return appliance.panel_url()


def test_call_on_the_card_rings_the_operator_then_the_number_and_pops_the_card(chromium, site, appliance, carrier):  # noqa: F811
    ctx, anna = logged_in(chromium, site, "anna", PASSWORD, "/desktop")
    try:
        expect(anna.locator("#waiting")).to_be_visible()
        # the client calls in and talks to Anna a moment: the card pops with its numbers
        call = carrier.call(ani=CLIENT, dnis="200", hold=3)
        call.wait("SimPhoneAnswered", timeout=40, Phone="1001")
        expect(anna.locator("#c-name")).to_have_value("Ivan Sidorov")
        expect(anna.locator("#card-outbound")).to_be_hidden()
        call.ended(timeout=60)
        expect(anna.locator("#card-state")).to_have_text("ended")
        wait_for(lambda: appliance.active_channels() == 0, 20, what="the call to end")
        # Anna calls the client back on the card's second number
        carrier.phone(DIALLED, "answer", tone=1700)
        mark = carrier.events.mark()
        button = anna.locator(f'button.call-number[data-number="{DIALLED}"]')
        expect(button).to_have_text(f"Call {DIALLED}")
        button.click()
        expect(anna.locator("#card-call-status")).to_contain_text("is ringing")
        mine = carrier.events.wait(mark, 40, Event="UserEvent", UserEvent="SimPhoneRang", Phone="1001")
        assert mine["CallerNum"] == DIALLED and mine["CallerName"] == "Ivan Sidorov"
        carrier.events.wait(mark, 40, Event="UserEvent", UserEvent="SimPhoneRang", Phone=DIALLED)
        carrier.events.wait(mark, 20, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone=DIALLED)
        # the card of the call out: the client's, marked outgoing
        expect(anna.locator("#card-outbound")).to_be_visible()
        expect(anna.locator("#card-ani")).to_have_text(DIALLED)
        expect(anna.locator("#c-name")).to_have_value("Ivan Sidorov")
        expect(anna.locator("#card-state")).to_have_text("answered")
        pops = anna.evaluate("window.korundPops")
        assert len(pops) == 2 and pops[1]["ani"] == DIALLED
        anna.fill("#note", "Called back about the invoice")
        expect(anna.locator("#note-status")).to_have_text("Saved")
        hang_up(carrier, DIALLED)
        expect(anna.locator("#card-state")).to_have_text("ended")
    finally:
        ctx.close()


def test_a_refused_number_is_shown_and_nothing_rings(chromium, site, appliance, carrier):  # noqa: F811
    ctx, anna = logged_in(chromium, site, "anna", PASSWORD, "/desktop")
    try:
        mark = carrier.events.mark()
        anna.fill("#dial-number", "+44 1632 960123")
        anna.click("#dial")
        expect(anna.locator("#dial-error")).to_have_text(
            "+441632960123: international numbers are not allowed by the outbound policy")
        expect(anna.locator("#dial-status")).to_be_hidden()
        anna.fill("#dial-number", "12; drop")
        anna.click("#dial")
        expect(anna.locator("#dial-error")).to_contain_text("is not a number to call")
        time.sleep(2)   # proving nothing happened: a ring would have shown by now
        assert not carrier.events.find(mark, Event="UserEvent", UserEvent="SimPhoneRang")
    finally:
        ctx.close()


def hang_up(carrier, number: str) -> None:
    """The far end *number* puts the receiver down."""
    def channel():   # concise: channel!context!extension!...
        return next((f[0] for f in (line.split("!") for line in carrier.cli("core show channels concise"))
                     if len(f) > 2 and f[1] == "sim-phones" and f[2] == number), None)
    carrier.cli(f"channel request hangup {wait_for(channel, 15, what=f'{number} on the carrier')}")

"""Attended transfer from the desktop on a real appliance, carrier and
headless Chromium: operator 1001 (Anna) talks to the caller, consults 1002
(Boris) — Boris's phone rings and answers, the consultation shows on Anna's
desktop, Boris's desktop pops the same session with Anna's note — and then
Anna completes the transfer (the caller then hears Boris's phone) or cancels
it (the caller is back with Anna). Asterisk's AMI Atxfer starts the
consultation; completing hangs up Anna's leg, cancelling is AMI CancelAtxfer."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from appliance.scenarios import store as scenarios
from appliance.base import store
from tests import audio
from tests.harness import wait_for
from tests.web.test_browser_desktop import chromium, desktop_of, offer_state, site as desktop_site  # noqa: F401

TONE_ANNA, TONE_BORIS = 700, 1300
GRAPH = {"start": "ops", "nodes": {"ops": {"type": "route", "to": "operator", "operator": "1001"}}}


@pytest.fixture(scope="module")
def site(desktop_site, pbx):
    appliance, _carrier = pbx
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        scenarios.create(db, "to-anna", "To Anna", GRAPH)
        scenarios.publish(db, "to-anna", "test")
        scenarios.bind(db, "200", scenario="to-anna")
    finally:
        db.close()
    return desktop_site


def consult(anna, boris, call, appliance):
    """Anna (already talking to the caller) consults Boris."""
    anna.fill("#transfer-target", "1002")
    anna.select_option("#transfer-kind", "attended")
    anna.click("#transfer")
    expect(anna.locator("#consult")).to_be_visible()
    expect(anna.locator("#consult-target")).to_have_text("1002")
    call.wait("SimPhoneAnswered", timeout=30, Phone="1002")
    expect(anna.locator("#consult-state")).to_have_text("answered")
    # Boris's desktop shows the same session, with Anna's note.
    expect(boris.locator("#call")).to_be_visible()
    expect(boris.locator("#notes-earlier")).to_contain_text("Consulting about the invoice")
    assert boris.locator("#call").get_attribute("data-linkedid") == anna.locator("#call").get_attribute("data-linkedid")
    assert offer_state(appliance, "1001") == "answered"   # Anna is still on the call


def answered_by_anna(anna, call, appliance, number):
    call.wait("SimPhoneAnswered", timeout=40, Phone="1001")
    wait_for(lambda: offer_state(appliance, "1001") == "answered", 10, what="Anna's offer answered")
    expect(anna.locator("#card-ani")).to_have_text(number)
    expect(anna.locator("#card-state")).to_have_text("answered")
    anna.fill("#note", "Consulting about the invoice")
    expect(anna.locator("#note-status")).to_have_text("Saved")


def test_attended_transfer_completed_joins_the_caller_to_the_other_operator(chromium, site, appliance, carrier):
    carrier.phone("1001", "answer", tone=TONE_ANNA)
    carrier.phone("1002", "answer", tone=TONE_BORIS)
    anna_ctx, anna = desktop_of(chromium, site, "anna")
    boris_ctx, boris = desktop_of(chromium, site, "boris")
    try:
        call = carrier.call(ani="+74957770001", dnis="200", hold=40)
        answered_by_anna(anna, call, appliance, "+74957770001")
        consult(anna, boris, call, appliance)
        mark = carrier.events.mark()
        anna.click("#consult-complete")
        expect(anna.locator("#transfer-done")).to_contain_text("1002")
        expect(anna.locator("#consult")).to_be_hidden()
        expect(anna.locator("#card-state")).to_have_text("ended")
        expect(boris.locator("#edits")).to_contain_text(re.compile(r"anna .*attended → 1002"))
        assert offer_state(appliance, "1002") == "answered"
        call.ended(timeout=60)
        assert not carrier.events.find(mark, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone="1001")
    finally:
        anna_ctx.close()
        boris_ctx.close()
    heard = audio.samples(call.recording())
    anna_at = audio.first_tone_at(heard, TONE_ANNA)
    boris_at = audio.first_tone_at(heard, TONE_BORIS)
    # The caller talked with Anna, then (after the hold) with Boris.
    assert anna_at is not None and boris_at is not None and boris_at > anna_at, (anna_at, boris_at)
    assert audio.tone_seconds(heard[int(boris_at * audio.RATE):], TONE_BORIS) > 3
    with appliance.db() as conn:
        whats = [r[0] for r in conn.execute("SELECT what FROM session_edits ORDER BY id")]
    assert whats[-2:] == ["consulting", "transferred"]


def test_attended_transfer_cancelled_brings_the_caller_back(chromium, site, appliance, carrier):
    carrier.phone("1001", "answer", tone=TONE_ANNA)
    carrier.phone("1002", "answer", tone=TONE_BORIS)
    anna_ctx, anna = desktop_of(chromium, site, "anna")
    boris_ctx, boris = desktop_of(chromium, site, "boris")
    try:
        call = carrier.call(ani="+74957770002", dnis="200", hold=40)
        answered_by_anna(anna, call, appliance, "+74957770002")
        consult(anna, boris, call, appliance)
        anna.click("#consult-cancel")
        expect(anna.locator("#transfer-done")).to_contain_text("cancelled")
        expect(anna.locator("#consult")).to_be_hidden()
        wait_for(lambda: offer_state(appliance, "1002") in ("ended", "missed"), 15, what="Boris's leg dropped")
        assert offer_state(appliance, "1001") == "answered"   # the caller is back with Anna
        expect(anna.locator("#card-state")).to_have_text("answered")
        call.ended(timeout=60)
    finally:
        anna_ctx.close()
        boris_ctx.close()
    heard = audio.samples(call.recording())
    boris_at = audio.first_tone_at(heard, TONE_BORIS)
    # The caller never talked to Boris; Anna's tone is back after the hold.
    assert boris_at is None or audio.tone_seconds(heard, TONE_BORIS) < 1
    first = audio.first_tone_at(heard, TONE_ANNA)
    assert first is not None
    gap = next(i for i, w in enumerate(audio.windows(heard[int(first * audio.RATE):]))
               if not (audio.rms(w) > 200 and audio.tone_share(w, TONE_ANNA) > 0.6))
    back = audio.first_tone_at(heard[int(first * audio.RATE) + gap * 400:], TONE_ANNA)
    assert back is not None, "Anna's tone did not come back after the consultation"

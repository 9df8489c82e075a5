"""Any one process may die: calls still reach operators and no history row
is lost."""
from __future__ import annotations

import pytest

from tests import audio
from tests.conftest import TONES


def test_with_the_agi_server_stopped_the_call_still_reaches_an_operator(appliance, carrier):
    appliance.stop_service("agi")
    try:
        before = appliance.last_call_id()
        call = carrier.call(ani="4950000001", hold=8)
        operator = call.answered_by_phone(timeout=20)["Phone"]
        call.ended()
        heard = audio.samples(call.recording())
        # No greeting: the operator's line comes almost at once.
        tone_at = audio.first_tone_at(heard, TONES[operator])
        assert tone_at is not None and tone_at < 3.0
        row = appliance.call_row(ani="4950000001", since_id=before)
        assert row["route_source"] == "fallback"
        assert row["grp"] == "support"
        assert row["operator"] == operator
        assert row["outcome"] == "answered"
    finally:
        appliance.start_service("agi")
        appliance.wait_service("agi")


@pytest.mark.parametrize("service", ["agi", "events", "web"])
def test_a_killed_service_is_restarted_and_the_next_call_works(appliance, carrier, service):
    rows_before = appliance.calls()
    dead = appliance.kill_service(service)
    appliance.wait_service(service, not_pid=dead)
    ani = f"49511100{len(rows_before):02d}"
    call = carrier.call(ani=ani, hold=8)
    call.answered_by_phone()
    call.ended()
    row = appliance.call_row(ani=ani, since_id=max((r["id"] for r in rows_before), default=0))
    assert row["outcome"] == "answered"
    assert row["route_source"] == "agi"
    after = appliance.calls()
    assert [r["uniqueid"] for r in after[:len(rows_before)]] == [r["uniqueid"] for r in rows_before]


def test_events_killed_during_a_call_loses_no_history(appliance, carrier):
    """The consumer dies while a call is up and the call ends before it is
    back: the row is still completed (from Asterisk's CDR log)."""
    before = appliance.last_call_id()
    appliance.stop_service("events")
    try:
        call = carrier.call(ani="4952223344", hold=9)
        operator = call.answered_by_phone()["Phone"]
        call.ended()
    finally:
        appliance.start_service("events")
        appliance.wait_service("events")
    row = appliance.call_row(ani="4952223344", since_id=before)
    assert row["operator"] == operator
    assert row["outcome"] == "answered"
    assert row["trunk"] == "pstn"

    # And a call that was already up when the consumer died.
    before = appliance.last_call_id()
    call = carrier.call(ani="4952223355", hold=10)
    call.answered_by_phone()
    dead = appliance.kill_service("events")
    call.ended()
    appliance.wait_service("events", not_pid=dead)
    # The AgentConnect happened while nobody listened: the CDR log tells.
    row = appliance.call_row(ani="4952223355", since_id=before, outcome="answered")
    assert row["operator"] in ("1001", "1002")
    assert row["route_source"] == "agi"

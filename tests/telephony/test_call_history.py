"""The complete call history (F14) on real calls: one record per call with
its legs in order — trunk, IVR, queue, every operator offered and whether
they answered, talk, transfers, who hung up — built from Asterisk's events,
and rebuilt from its CEL/CDR logs when the events service was down."""
from __future__ import annotations

import json
import time

import pytest

from appliance.base import store
from tests.harness import configure, korund, ready, support_group, wait_for




@pytest.fixture(autouse=True)
def linear_support(appliance, carrier):
    """support = 1001 then 1002 (linear), 5 s of ringing each, nobody paused
    for not answering."""
    configure(appliance, lambda db: support_group(db, "linear", 5, noanswer_after=1))
    ready(appliance, "1001", "1002")
    yield


def legs_of(appliance, linkedid: str) -> list[dict]:
    out = korund(appliance, "calls", "--legs", linkedid, "--json").stdout
    return json.loads(out)["legs"]


def kinds(legs: list[dict]) -> list[str]:
    return [l["kind"] for l in legs if l["kind"] not in ("note", "recording")]


def finished(appliance, ani: str, since: int, **want) -> dict:
    """The call's row once it ended and its hang-up is known."""
    return appliance.call_row(ani=ani, since_id=since, timeout=40, **want)


def hang_up_phone(carrier, ext: str) -> None:
    """The operator puts the receiver down: the phone's side hangs up."""
    def channel():   # concise: channel!context!extension!...
        return next((f[0] for f in (l.split("!") for l in carrier.cli("core show channels concise"))
                     if len(f) > 2 and f[1] == "sim-phones" and f[2] == ext), None)
    name = wait_for(channel, 10, what=f"phone {ext}'s channel")
    carrier.cli(f"channel request hangup {name}")


def test_ivr_queue_no_answer_then_answer_operator_hangs_up(appliance, carrier):
    carrier.phone("1001", "noanswer")
    before = appliance.last_call_id()
    call = carrier.call(ani="4956100001", hold=60)
    call.wait("SimPhoneRang", 30, Phone="1001")
    assert call.answered_by_phone()["Phone"] == "1002"
    time.sleep(3)   # talk time: talk_seconds is asserted between 2 and 10
    hang_up_phone(carrier, "1002")
    call.ended(timeout=30)
    row = finished(appliance, "4956100001", before, hangup_by="operator")
    legs = legs_of(appliance, row["uniqueid"])
    assert kinds(legs) == ["trunk", "ivr", "queue", "offer", "offer", "operator", "hangup"]
    offers = [l for l in legs if l["kind"] == "offer"]
    assert [(o["party"], o["result"]) for o in offers] == [("1001", "no-answer"), ("1002", "answered")]
    assert row["outcome"] == "answered" and row["operator"] == "1002"
    assert 4 < row["wait_seconds"] < 20
    assert 2 < row["talk_seconds"] < 10
    assert row["ivr_only"] == 0 and row["transfers"] == 0


def test_a_call_abandoned_in_the_queue(appliance, carrier):
    for ext in ("1001", "1002"):
        carrier.phone(ext, "noanswer")
    before = appliance.last_call_id()
    # The caller gives up after the prompt (about 5 s) and some 8 s of waiting.
    call = carrier.call(ani="4956100002", hold=13)
    call.wait("SimPhoneRang", 30, Phone="1001")
    call.ended(timeout=40)
    row = finished(appliance, "4956100002", before, hangup_by="caller")
    legs = legs_of(appliance, row["uniqueid"])
    assert kinds(legs)[:4] == ["trunk", "ivr", "queue", "offer"] and kinds(legs)[-1] == "hangup"
    queue = next(l for l in legs if l["kind"] == "queue")
    assert queue["result"] == "abandoned"
    assert all(l["result"] in ("no-answer", "cancelled") for l in legs if l["kind"] == "offer")
    assert row["outcome"] == "abandoned" and row["operator"] is None
    assert row["talk_seconds"] is None and row["ivr_only"] == 0
    assert 4 < row["wait_seconds"] < 13
    assert abs(row["wait_seconds"] - queue["duration"]) < 0.5


def test_a_blind_transfer_from_the_desktop(appliance, carrier):
    from appliance.clients import desktop
    before = appliance.last_call_id()
    call = carrier.call(ani="4956100003", hold=25)
    assert call.answered_by_phone()["Phone"] == "1001"
    row = appliance.call_row(ani="4956100003", since_id=before, ended=False)
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        wait_for(lambda: (desktop.live_offer(db, row["uniqueid"], "1001") or {}).get("state") == "answered",
                 10, what="1001's offer answered")
        mark = carrier.events.mark()
        desktop.transfer(db, appliance.mgr, row["uniqueid"], "blind", "1002", "anna", "1001")
    finally:
        db.close()
    carrier.events.wait(mark, 20, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone="1002")
    call.ended(timeout=40)
    row = finished(appliance, "4956100003", before, transfers=1)
    legs = legs_of(appliance, row["uniqueid"])
    assert kinds(legs) == ["trunk", "ivr", "queue", "offer", "operator", "transfer", "offer", "operator",
                           "hangup"]
    transfer = next(l for l in legs if l["kind"] == "transfer")
    assert transfer["party"] == "1002" and transfer["detail"]["kind"] == "blind"
    talks = [l["party"] for l in legs if l["kind"] == "operator"]
    assert talks == ["1001", "1002"]
    assert row["hangup_by"] == "caller"


FULL = ["trunk", "ivr", "queue", "offer", "offer", "operator", "hangup"]


def test_events_killed_mid_call_the_call_and_its_legs_are_complete(appliance, carrier):
    carrier.phone("1001", "noanswer")
    before = appliance.last_call_id()
    call = carrier.call(ani="4956100004", hold=60)
    assert call.answered_by_phone()["Phone"] == "1002"
    row = appliance.call_row(ani="4956100004", since_id=before, ended=False)
    wait_for(lambda: "operator" in kinds(legs_of(appliance, row["uniqueid"])), 10, what="the talk leg")
    dead = appliance.kill_service("events")
    hang_up_phone(carrier, "1002")      # the call ends while nobody listens
    call.ended(timeout=30)
    appliance.wait_service("events", not_pid=dead)
    row = finished(appliance, "4956100004", before, hangup_by="operator")
    legs = legs_of(appliance, row["uniqueid"])
    assert kinds(legs) == FULL
    assert [(l["party"], l["result"]) for l in legs if l["kind"] == "offer"] == \
        [("1001", "no-answer"), ("1002", "answered")]
    assert row["outcome"] == "answered" and row["operator"] == "1002" and row["talk_seconds"] > 0
    # Another restart reads nothing twice.
    dead = appliance.kill_service("events")
    appliance.wait_service("events", not_pid=dead)
    time.sleep(6)   # a catch-up round (every 5 s)
    # (a recording leg may meanwhile turn from "recording" to "good": the archive service's doing)
    history_legs = lambda ls: [l for l in ls if l["kind"] != "recording"]  # noqa: E731
    again = legs_of(appliance, row["uniqueid"])
    assert history_legs(again) == history_legs(legs)
    assert [l["key"] for l in again if l["kind"] == "recording"] == \
        [l["key"] for l in legs if l["kind"] == "recording"]
    assert len([r for r in appliance.calls() if r["ani"] == "4956100004"]) == 1


def test_a_call_made_while_the_events_service_was_stopped_is_rebuilt(appliance, carrier):
    carrier.phone("1001", "noanswer")
    before = appliance.last_call_id()
    appliance.stop_service("events")
    try:
        call = carrier.call(ani="4956100005", hold=16)
        assert call.answered_by_phone()["Phone"] == "1002"
        call.ended(timeout=40)
    finally:
        appliance.start_service("events")
        appliance.wait_service("events")
    row = finished(appliance, "4956100005", before, hangup_by="caller")
    legs = legs_of(appliance, row["uniqueid"])
    assert kinds(legs) == FULL
    assert [(l["party"], l["result"]) for l in legs if l["kind"] == "offer"] == \
        [("1001", "no-answer"), ("1002", "answered")]
    assert (row["outcome"], row["operator"], row["grp"]) == ("answered", "1002", "support")
    assert 4 < row["wait_seconds"] < 12


def test_an_attended_transfer_from_the_desktop(appliance, carrier):
    from appliance.clients import desktop
    before = appliance.last_call_id()
    call = carrier.call(ani="4956100006", hold=30)
    assert call.answered_by_phone()["Phone"] == "1001"
    row = appliance.call_row(ani="4956100006", since_id=before, ended=False)
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        wait_for(lambda: (desktop.live_offer(db, row["uniqueid"], "1001") or {}).get("state") == "answered",
                 10, what="1001's offer answered")
        mark = carrier.events.mark()
        desktop.transfer(db, appliance.mgr, row["uniqueid"], "attended", "1002", "anna", "1001")
        carrier.events.wait(mark, 20, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone="1002")
        time.sleep(2)   # Anna and Boris talk
        desktop.finish_attended(db, appliance.mgr, row["uniqueid"], "complete", "anna", "1001")
    finally:
        db.close()
    call.ended(timeout=40)
    row = finished(appliance, "4956100006", before, transfers=1)
    legs = legs_of(appliance, row["uniqueid"])
    transfer = next(l for l in legs if l["kind"] == "transfer")
    assert (transfer["party"], transfer["detail"]["kind"], transfer["detail"]["by"]) == ("1002", "attended", "1001")
    assert [(l["party"], l["result"]) for l in legs if l["kind"] == "offer"] == \
        [("1001", "answered"), ("1002", "answered")]
    assert [l["party"] for l in legs if l["kind"] == "operator"] == ["1001", "1002"]
    assert kinds(legs)[-2:] == ["transfer", "hangup"]
    assert row["hangup_by"] == "caller" and row["operator"] == "1001"
    # Anna's consultation held the caller until the transfer joined them to Boris
    holds = [l for l in legs if l["kind"] == "hold"]
    assert len(holds) == 1 and abs(holds[0]["offset"] + holds[0]["duration"] - transfer["offset"]) < 0.5
    assert 1.5 < row["hold_seconds"] < 10


def test_a_callback_the_dialer_places_is_an_outbound_call_with_its_legs(appliance, carrier):
    from datetime import datetime, timedelta, timezone
    number = "74956100007"
    start = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat(timespec="seconds")
    mark = carrier.events.mark()
    with appliance.db() as conn:
        conn.execute("INSERT INTO callbacks (grp, number, ani, asap, slot_from, slot_until, status, uniqueid, "
                     "created_at) VALUES ('support', ?, ?, 1, ?, NULL, 'new', '', ?)", [number, number, start, start])
    carrier.events.wait(mark, 40, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone=number)
    time.sleep(2)   # talk time: talk_seconds > 1 below
    hang_up_phone(carrier, number)     # the client hangs up
    row = appliance.call_row(ani=number, timeout=40, hangup_by="caller")
    assert (row["direction"], row["grp"], row["outcome"]) == ("outbound", "support", "answered")
    assert row["operator"] in ("1001", "1002") and row["talk_seconds"] > 1
    legs = legs_of(appliance, row["uniqueid"])
    assert [(l["kind"], l["result"]) for l in legs if l["kind"] not in ("recording", "note")] == [
        ("offer", "answered"), ("trunk", "answered"), ("operator", ""), ("hangup", "caller")]
    assert legs[0]["party"] == row["operator"]
    calls = json.loads(korund(appliance, "calls", "--json").stdout)
    assert any(c["ani"] == number for c in calls)

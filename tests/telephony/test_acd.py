"""The ACD on real Asterisk: strategies, operator states as queue pauses,
the no-answer redirect (F10), phone feature codes and overflow after max
wait. Operators' simulated phones answer with their own tone; which phone
rang or answered tells where a call went."""
from __future__ import annotations

import json
import time

import pytest

from appliance.operators import member_states
from appliance.operators import store as operators
from tests.conftest import TONES
from tests.harness import configure, korund, ready, support_group, wait_for

HOLD = 6




def agent(appliance, ext: str) -> dict:
    rows = json.loads(korund(appliance, "operator", "list", "--json").stdout)
    return next(r for r in rows if r["extension"] == ext)


@pytest.fixture(autouse=True)
def demo_config(appliance, carrier):
    """Every test starts from the demo: support = 1001 + 1002, round robin,
    both operators ready."""
    def reset(db):
        db.execute("UPDATE groups SET overflow_kind = '', overflow_target = ''")
        db.execute("DELETE FROM groups WHERE name = 'sales'")
        support_group(db, "rrmemory", 15, noanswer_after=1)
    configure(appliance, reset)
    ready(appliance, "1001", "1002")
    yield


def answered_by(carrier, ani: str, hold: float = HOLD) -> str:
    call = carrier.call(ani=ani, hold=hold)
    phone = call.answered_by_phone()["Phone"]
    call.ended(timeout=hold + 40)
    return phone


def test_linear_always_offers_the_first_member_first(appliance, carrier):
    configure(appliance, lambda db: operators.update_group(db, "support", "Support", "linear", 15, True))
    assert [answered_by(carrier, f"49510000{i}") for i in range(2)] == ["1001", "1001"]


def test_round_robin_takes_turns(appliance, carrier):
    first, second = (answered_by(carrier, f"49520000{i}") for i in range(2))
    assert {first, second} == {"1001", "1002"}


def test_ring_all_rings_every_ready_phone(appliance, carrier):
    configure(appliance, lambda db: operators.update_group(db, "support", "Support", "ringall", 15, True))
    assert any("'ringall' strategy" in line for line in appliance.cli("queue show support"))
    # both phones idle again after the previous test's calls (a busy phone is rightly not rung)
    wait_for(lambda: all("(Not in use)" in appliance.queue_member("support", ext) for ext in ("1001", "1002")),
             20, what="both operators' phones idle")
    mark = appliance.events.mark()
    call = carrier.call(ani="4953000001", hold=HOLD)
    call.answered_by_phone()
    # app_queue rang both phones at once (AMI AgentCalled for each). The simulated
    # phones answer at once, so the second INVITE may be cancelled before that
    # phone reports ringing: the appliance's own events say what was rung.
    rang = {appliance.events.wait(mark, 10, Event="AgentCalled", Interface=f"PJSIP/{ext}")["Interface"]
            for ext in ("1001", "1002")}
    assert rang == {"PJSIP/1001", "PJSIP/1002"}
    call.ended(timeout=HOLD + 30)


def test_a_paused_operator_gets_no_calls_even_after_an_apply(appliance, carrier):
    out = korund(appliance, "operator", "pause", "1001", "lunch").stdout
    assert "1001 paused (lunch)" in out
    assert agent(appliance, "1001")["state"] == "paused"
    assert appliance.paused("1001")
    # A reload gives Asterisk's queues a fresh start; the pause survives it.
    configure(appliance, lambda db: None)
    wait_for(lambda: appliance.paused("1001"), 10, what="1001 paused again after a reload")
    assert [answered_by(carrier, f"49540000{i}") for i in range(2)] == ["1002", "1002"]
    bad = korund(appliance, "operator", "pause", "1001", "siesta", check=False)
    assert bad.returncode == 2 and "no pause reason 'siesta'" in bad.stderr


def test_an_unanswered_operator_is_skipped_and_paused_no_answer(appliance, carrier):
    def no_answer_redirect(db):
        operators.update_group(db, "support", "Support", "linear", 5, True)
        operators.set_group_acd(db, "support", {"noanswer_pause": 1, "noanswer_after": 1})
    configure(appliance, no_answer_redirect)
    carrier.phone("1001", "noanswer")
    # The caller holds on through the prompt, 5 s of ringing at 1001, then 1002.
    call = carrier.call(ani="4955000001", hold=HOLD + 14)
    call.wait("SimPhoneRang", 30, Phone="1001")
    assert call.answered_by_phone()["Phone"] == "1002"
    call.ended(timeout=HOLD + 50)
    state = agent(appliance, "1001")
    assert (state["state"], state["reason"]) == ("paused", "no answer")
    assert appliance.paused("1001")
    # Paused, 1001 is not offered the next call (linear would try it first).
    carrier.phone("1001", "answer", tone=TONES["1001"])
    assert answered_by(carrier, "4955000002") == "1002"


def test_logged_out_operator_logs_in_with_the_feature_code(appliance, carrier):
    korund(appliance, "operator", "logout", "1001")
    assert agent(appliance, "1001")["state"] == "logged_out"
    assert answered_by(carrier, "4956000001") == "1002"
    # 1001 dials *51 from their phone (the appliance rings it and runs the code).
    mark = appliance.events.mark()
    resp = appliance.mgr.send_action({
        "Action": "Originate", "Channel": "PJSIP/1001", "Context": "korund-operators",
        "Exten": "*51", "Priority": "1", "Async": "true", "Timeout": "20000"})
    assert resp.get_header("Response") == "Success"
    wait_for(lambda: agent(appliance, "1001")["state"] == "ready", 30, what="1001 ready after *51")
    # They heard the confirmation.
    wait_for(lambda: any("agent-loginok" in e.get("Command", "")
                         for e in appliance.events.find(mark, Event="AGIExecStart")),
             10, what="the login confirmation played")
    wait_for(lambda: not appliance.paused("1001"), 10, what="1001 unpaused")
    wait_for(lambda: appliance.active_channels() == 0, 20, what="the feature-code call to end")
    korund(appliance, "operator", "pause", "1002", "2")
    assert agent(appliance, "1002")["reason"] == "training"
    assert answered_by(carrier, "4956000002") == "1001"


def test_overflow_after_max_wait_goes_to_the_other_group(appliance, carrier):
    def overflow(db):
        operators.add_group(db, "sales", "Sales")
        operators.set_members(db, "sales", ["1002"])
        operators.set_members(db, "support", ["1001"])
        operators.set_group_acd(db, "support", {"max_wait": 10, "overflow_kind": "group",
                                            "overflow_target": "sales"})
    configure(appliance, overflow)
    korund(appliance, "operator", "logout", "1001")
    before = appliance.last_call_id()
    call = carrier.call(ani="4957000001", hold=30)
    assert call.answered_by_phone(timeout=45)["Phone"] == "1002"
    call.ended(timeout=60)
    row = appliance.call_row(ani="4957000001", since_id=before)
    assert (row["grp"], row["operator"], row["route_source"]) == ("sales", "1002", "overflow")


def test_no_ready_member_is_held_unavailable_and_a_state_nudge_reaches_no_phone(appliance, carrier):
    """appliance.operators.member_states on real Asterisk: the demo's ready operators
    are not taken for stale members; the nudge a stale member gets makes
    Asterisk request a channel to the phone and release it uncalled (what
    makes it compute the device state again) -- the phone never rings, and
    no CDR line nor history row comes of it."""
    assert member_states.Refresher().refresh(appliance.mgr) == []
    calls_before = appliance.last_call_id()
    mark, carrier_mark = appliance.events.mark(), carrier.events.mark()
    assert member_states.nudge(appliance.mgr, "PJSIP/1001")
    requested = appliance.events.wait(mark, 15, Event="VarSet", Variable="AVAILCHAN")
    assert requested["Value"].startswith("PJSIP/1001-"), requested
    appliance.events.wait(mark, 15, Event="Hangup", Channel=requested["Value"])
    wait_for(lambda: not [c for c in appliance.cli("core show channels concise") if "korund-devstate" in c],
             15, what="the nudge's Local channel gone")
    time.sleep(2)   # a call to the phone would have reached the carrier by now (the qualify's OPTIONS is no call)
    assert not carrier.events.find(carrier_mark, Event="Newchannel")
    assert not carrier.events.find(carrier_mark, Event="UserEvent", UserEvent="SimPhoneRang")
    assert appliance.last_call_id() == calls_before
    cdr = appliance.inst.cdr_log
    assert "korund-devstate" not in (cdr.read_text(encoding="utf-8") if cdr.exists() else "")
    assert "(Not in use)" in appliance.queue_member("support", "1001")
    # the heavier mend (res_pjsip rebuilds its endpoints' states) leaves ready operators ready
    mark = appliance.events.mark()
    assert member_states.resync_pjsip(appliance.mgr, appliance.inst.etc / "pjsip.conf")
    appliance.events.wait(mark, 15, Event="Reload", Module="res_pjsip.so")
    wait_for(lambda: "(Not in use)" in appliance.queue_member("support", "1001"), 15,
             what="1001 ready in app_queue after res_pjsip's rebuild")
    assert answered_by(carrier, "4959900001") in ("1001", "1002")

"""An operator whose phone is on a call -- ringing or talking, a queue's or
a direct one -- is offered no other call by any route: not by the personal
or last-operator routing, not by a scenario's route to the operator, not by
the group's queue. Such a call goes to the group's queue and the other
operator takes it. The direct call here is a personal-operator route (a
Dial, not app_queue), the kind the store's operator state never sees.

Also: a queue call, plain or by skill, leaves no "Invalid value" of
app_queue's QUEUE_MAX_PENALTY in Asterisk's log.

The group is linear, so the queue would offer 1001 first if it counted them
free. Run with KORUND_TEST_SLOT=<n>."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from appliance.clients import store as clients
from appliance.routing import store as routing
from tests.harness import configure, ready, support_group
from tests.telephony.test_scenarios import publish_and_bind

pytestmark = pytest.mark.telephony

TALKER = "4966000001"        # personal operator 1001: keeps 1001's phone busy
PERSONAL = "4966000002"      # personal operator 1001
LAST = "4966000003"          # 1001 answered this number yesterday
SCENARIO = "4966000004"      # dials 303: a scenario routing to operator 1001
SCENARIO_DNIS = "303"


@pytest.fixture(autouse=True)
def linear_support(appliance, carrier):
    """support = 1001 + 1002, linear, 15 s, both ready; no skills; the
    clients and history of our numbers."""
    def reset(db):
        db.execute("UPDATE groups SET overflow_kind = '', overflow_target = ''")
        db.execute("DELETE FROM groups WHERE name = 'sales'")
        support_group(db, "linear", 15)
        db.execute("DELETE FROM operator_skills")
        db.execute("DELETE FROM vip_numbers")
        routing.set_group_settings(db, "support", {"skill": "", "skill_widen": 20, "skill_all": 60,
                                                   "last_days": ""})
        db.execute("DELETE FROM client_phones WHERE number LIKE '4966%'")
        db.execute("DELETE FROM calls WHERE ani LIKE '4966%'")
        for name, number in (("Talker", TALKER), ("Personal", PERSONAL)):
            clients.save(db, {"name": name, "phones": number, "personal_operator": "1001"})
        yesterday = datetime.now(UTC).timestamp() - 86400
        db.execute("INSERT INTO calls (uniqueid, ani, operator, started_at, outcome) "
                   "VALUES ('busy-hist-1', ?, '1001', ?, 'answered')",
                   [LAST, datetime.fromtimestamp(yesterday, UTC).isoformat(timespec="milliseconds")])
    configure(appliance, reset)
    ready(appliance, "1001", "1002")
    yield


def rang(carrier, since: int, phone: str, caller: str) -> list[dict]:
    """The rings *phone* was shown for *caller* since *since*."""
    return carrier.events.find(since, Event="UserEvent", UserEvent="SimPhoneRang",
                               Phone=phone, CallerNum=caller)


def reaches_1002_not_1001(carrier, ani: str, dnis: str = "100") -> None:
    call = carrier.call(ani=ani, dnis=dnis, hold=10)
    answered = call.wait("SimPhoneAnswered", 60, CallerNum=ani)
    assert answered["Phone"] == "1002", answered
    call.ended(timeout=60)
    assert rang(carrier, call.mark, "1001", ani) == [], "1001's busy phone was offered the call"


def test_an_operator_talking_on_a_direct_call_is_offered_no_other(appliance, carrier):
    talker = carrier.call(ani=TALKER, hold=120)
    assert talker.wait("SimPhoneAnswered", 60, CallerNum=TALKER)["Phone"] == "1001"
    assert appliance.call_row(TALKER, ended=False, operator="1001")["route_source"] == "personal"
    # Their personal operator and their last operator is 1001, who is talking:
    # the group's queue, which skips 1001 too although linear puts them first.
    reaches_1002_not_1001(carrier, PERSONAL)
    reaches_1002_not_1001(carrier, LAST)
    for ani in (PERSONAL, LAST):
        row = appliance.call_row(ani, operator="1002")
        assert row["route_source"] == "agi", row       # not "personal"/"last": nobody was rung directly
    # A scenario's route to operator 1001 (no routing decision, the dialplan's own check).
    publish_and_bind(appliance, "to-1001", {"start": "op", "nodes": {
        "op": {"type": "route", "to": "operator", "operator": "1001"}}}, SCENARIO_DNIS)
    reaches_1002_not_1001(carrier, SCENARIO, SCENARIO_DNIS)
    carrier.cli("channel request hangup all")          # the talker has been kept long enough
    talker.ended(timeout=30)
    # Free again: the personal route rings 1001.
    call = carrier.call(ani=PERSONAL, hold=10)
    assert call.wait("SimPhoneAnswered", 60, CallerNum=PERSONAL)["Phone"] == "1001"
    call.ended(timeout=60)


def test_an_operator_whose_phone_is_ringing_is_offered_no_other_call(appliance, carrier):
    carrier.phone("1001", "noanswer")
    # The talker's personal route rings 1001 for the group's 15 s; the caller
    # gives up after 20 s (counted from the welcome), unanswered.
    ringing = carrier.call(ani=TALKER, hold=20)
    ringing.wait("SimPhoneRang", 60, Phone="1001", CallerNum=TALKER)
    reaches_1002_not_1001(carrier, LAST)
    ringing.ended(timeout=60)


def test_queue_calls_plain_or_by_skill_leave_no_invalid_penalty_in_the_log(appliance, carrier):
    log = appliance.host_base / "log" / "messages.log"
    start = log.stat().st_size
    mark = appliance.events.mark()
    # Plain: an unknown caller, the group's queue, linear: 1001.
    call = carrier.call(ani="4966000011", hold=10)
    assert call.wait("SimPhoneAnswered", 60, CallerNum="4966000011")["Phone"] == "1001"
    call.ended(timeout=60)
    appliance.events.wait(mark, 10, Event="QueueCallerJoin", Queue="support")

    def skills(db):
        routing.set_skills(db, "1001", "billing:3")
        routing.set_skills(db, "1002", "billing:9")
        routing.set_group_settings(db, "support", {"skill": "billing"})
    configure(appliance, skills)
    # By skill: the skill queue, the best-skilled first: 1002.
    call = carrier.call(ani="4966000012", hold=10)
    assert call.wait("SimPhoneAnswered", 60, CallerNum="4966000012")["Phone"] == "1002"
    call.ended(timeout=60)
    appliance.events.wait(mark, 10, Event="QueueCallerJoin", Queue="support--billing")
    assert appliance.call_row("4966000012", operator="1002")["route_source"] == "skill"
    # Back to plain once more, after a skill call on the same appliance.
    configure(appliance, lambda db: routing.set_group_settings(db, "support", {"skill": ""}))
    call = carrier.call(ani="4966000013", hold=10)
    assert call.wait("SimPhoneAnswered", 60, CallerNum="4966000013")["Phone"] == "1001"
    call.ended(timeout=60)
    logged = log.read_bytes()[start:].decode(errors="replace")
    assert "Invalid value" not in logged and "QUEUE_MAX_PENALTY" not in logged, logged[-2000:]

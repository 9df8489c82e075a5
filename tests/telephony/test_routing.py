"""Routing (F7) on real Asterisk: a known caller's personal operator, the
operator who served the number last, skill routing that widens while the
caller waits (queuerules.conf on stock app_queue) and VIP priority. The
group is linear, so without routing 1001 would always be offered first."""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from appliance.clients import store as clients
from appliance.routing import store as routing
from appliance.scenarios import store as scenarios
from tests.harness import ready, support_group, wait_for
from tests.telephony.test_acd import HOLD, answered_by, configure, korund


@pytest.fixture(autouse=True)
def linear_support(appliance, carrier):
    """The demo (support = 1001 + 1002, both ready), linear, no skills,
    clients, VIP numbers or history of our test numbers."""
    def reset(db):
        db.execute("UPDATE groups SET overflow_kind = '', overflow_target = ''")
        db.execute("DELETE FROM groups WHERE name = 'sales'")
        support_group(db, "linear", 15)
        db.execute("DELETE FROM operator_skills")
        db.execute("DELETE FROM vip_numbers")
        db.execute("DELETE FROM client_phones WHERE number LIKE '4967%'")
        db.execute("DELETE FROM calls WHERE ani LIKE '4967%'")
        routing.set_group_settings(db, "support", {"skill": "", "skill_widen": 20, "skill_all": 60,
                                                   "last_days": ""})
    configure(appliance, reset)
    ready(appliance, "1001", "1002")
    yield


def waiting(appliance, queue: str) -> int:
    head = next((l for l in appliance.cli(f"queue show {queue}") if l.startswith(f"{queue} has")), "")
    m = re.match(rf"{re.escape(queue)} has (\d+) call", head)
    return int(m.group(1)) if m else 0


def test_a_known_caller_reaches_their_personal_operator(appliance, carrier):
    configure(appliance, lambda db: clients.save(db, {"name": "Olga", "phones": "4967000001",
                                                      "personal_operator": "1002"}))
    assert answered_by(carrier, "4967000001") == "1002"
    row = appliance.call_row("4967000001", operator="1002")
    assert row["route_source"] == "personal"
    # An unknown caller still meets 1001 first (linear).
    assert answered_by(carrier, "4967000002") == "1001"


def test_when_the_personal_operator_is_paused_the_group_takes_the_call(appliance, carrier):
    configure(appliance, lambda db: clients.save(db, {"name": "Olga", "phones": "4967000011",
                                                      "personal_operator": "1002"}))
    korund(appliance, "operator", "pause", "1002", "lunch")
    wait_for(lambda: appliance.paused("1002"), 10, what="1002 paused")
    assert answered_by(carrier, "4967000011") == "1001"


def test_the_last_operator_within_n_days_gets_the_next_call(appliance, carrier):
    def history(db):
        at = lambda days: (datetime.now(timezone.utc) - timedelta(days=days)).isoformat(  # noqa: E731
            timespec="milliseconds")
        db.execute("INSERT INTO calls (uniqueid, ani, operator, started_at, outcome) "
                   "VALUES ('hist-1', '4967000021', '1002', ?, 'answered')", [at(3)])
        db.execute("INSERT INTO calls (uniqueid, ani, operator, started_at, outcome) "
                   "VALUES ('hist-2', '4967000022', '1002', ?, 'answered')", [at(45)])
    configure(appliance, history)
    assert answered_by(carrier, "4967000021") == "1002"
    assert appliance.call_row("4967000021", operator="1002")["route_source"] == "last"
    # 45 days ago is older than the default 30: the group's linear order.
    assert answered_by(carrier, "4967000022") == "1001"


def test_skill_routing_prefers_the_best_and_widens_while_the_caller_waits(appliance, carrier):
    def skills(db):
        routing.set_skills(db, "1001", "billing:3")
        routing.set_skills(db, "1002", "billing:9")
        routing.set_group_settings(db, "support", {"skill": "billing", "skill_widen": 2, "skill_all": 8})
    configure(appliance, skills)
    assert "korund-widen-support" in "\n".join(appliance.cli("queue show rules"))
    shown = "\n".join(appliance.cli("queue show support--billing"))
    assert re.search(r"\(PJSIP/1002\) with penalty 1\b", shown) and re.search(r"\(PJSIP/1001\) with penalty 7\b", shown)
    # Both ready: the best-skilled (1002) although 1001 comes first in linear order.
    first = carrier.call(ani="4967000031", hold=40)
    assert first.answered_by_phone()["Phone"] == "1002"
    # 1002 is busy: the next caller waits for them first, then 1001 is let in.
    second = carrier.call(ani="4967000032", hold=30)
    wait_for(lambda: waiting(appliance, "support--billing") == 1, 30, what="the second caller queued")
    queued_at = time.monotonic()
    second.wait("SimPhoneRang", 40, Phone="1001")
    assert time.monotonic() - queued_at >= 4, "1001 was offered the call before the widening"
    second.ended(timeout=60)
    first.ended(timeout=60)
    row = appliance.call_row("4967000032", operator="1001")
    assert row["route_source"] == "skill"


def test_a_vip_caller_is_answered_before_an_earlier_normal_caller(appliance, carrier):
    configure(appliance, lambda db: routing.add_vip(db, "4967000099", 7))
    for ext in ("1001", "1002"):
        korund(appliance, "operator", "pause", ext, "lunch")
    wait_for(lambda: appliance.paused("1001") and appliance.paused("1002"),
             10, what="both operators paused")
    normal = carrier.call(ani="4967000041", hold=45)
    wait_for(lambda: waiting(appliance, "support") == 1, 30, what="the normal caller queued")
    vip = carrier.call(ani="4967000099", hold=45)
    wait_for(lambda: waiting(appliance, "support") == 2, 30, what="the VIP caller queued")
    mark = carrier.events.mark()
    korund(appliance, "operator", "ready", "1001")
    answered = carrier.events.wait(mark, 30, Event="UserEvent", UserEvent="SimPhoneAnswered")
    assert answered["CallerNum"] == "4967000099"
    assert appliance.call_row("4967000099", ended=False, operator="1001")["route_source"] == "vip"
    for c in (vip, normal):
        c.ended(timeout=60)


def test_a_route_node_asks_for_a_skill_and_a_direct_group_binding_is_routed_too(appliance, carrier):
    graph = {"start": "r", "nodes": {"r": {"type": "route", "to": "group", "group": "support",
                                           "skill": "en", "priority": 2}}}

    def setup(db):
        routing.set_skills(db, "1001", "en:2")
        routing.set_skills(db, "1002", "en:8")
        db.execute("DELETE FROM scenario_bindings WHERE dnis IN ('301', '302')")
        if not db.execute("SELECT 1 FROM scenarios WHERE name = 'english'").fetchone():
            scenarios.create(db, "english", "English", graph)
            scenarios.publish(db, "english", "test")
        scenarios.bind(db, "301", scenario="english")
        scenarios.bind(db, "302", group="support")
        clients.save(db, {"name": "Pavel", "phones": "4967000052", "personal_operator": "1002"})
    configure(appliance, setup)
    call = carrier.call(ani="4967000051", dnis="301", hold=HOLD)
    assert call.answered_by_phone()["Phone"] == "1002"     # best English, not linear's 1001
    call.ended(timeout=HOLD + 40)
    assert appliance.call_row("4967000051", operator="1002")["route_source"] == "skill"
    # A number bound straight to the group still honours the personal operator.
    call = carrier.call(ani="4967000052", dnis="302", hold=HOLD)
    assert call.answered_by_phone()["Phone"] == "1002"
    call.ended(timeout=HOLD + 40)
    assert appliance.call_row("4967000052", operator="1002")["route_source"] == "personal"

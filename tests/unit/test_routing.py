"""Routing (F7) without Asterisk: decide() on a seeded store, skills and VIP
validation, and what the queues, rules and dialplan render from them."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from appliance.operators import states as operator_states
from appliance.clients import store as clients
from appliance.operators import store as operators
from appliance.routing import store as routing
from appliance.render import dialplan
from appliance.operators import render as queues
from appliance.scenarios import nodes
from appliance.base.errors import ConfigError
from appliance.render import config as render_config

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def call(db, ani, operator, days_ago, uid):
    at = (NOW - timedelta(days=days_ago)).isoformat(timespec="milliseconds")
    db.execute("INSERT INTO calls (uniqueid, ani, operator, started_at, outcome) VALUES (?, ?, ?, ?, 'answered')",
               [uid, ani, operator, at])


def pause(db, ext):
    op = db.execute("SELECT id FROM operators WHERE extension = ?", [ext]).fetchone()[0]
    operator_states.set_state(db, op, "paused", "lunch")


@pytest.fixture
def rdb(demo_db):
    operators.add_operator(demo_db, "1003", "Third")
    operators.set_members(demo_db, "support", ["1001", "1002", "1003"])
    return demo_db


def test_an_unknown_caller_goes_to_the_group_asked_for_or_the_default(rdb):
    d = routing.decide(rdb, "4951112233", "100", routing.Request("support", priority=2), now=NOW)
    assert (d.group, d.operator, d.skill, d.priority, d.source) == ("support", "", "", 2, "agi")
    assert d.queue == "support"
    d = routing.decide(rdb, "4951112233", "100", routing.Request("nosuch", source="scenario"), now=NOW)
    assert d.group == "support" and "no group nosuch" in d.reasons[0]


def test_personal_operator_first_when_ready_else_last_operator_else_group(rdb):
    clients.save(rdb, {"name": "Anna", "phones": "+7 916 000-11-22", "personal_operator": "1002"})
    d = routing.decide(rdb, "79160001122", "100", routing.Request("support"), now=NOW)
    assert (d.operator, d.source, d.operator_ring) == ("1002", "personal", 15)
    pause(rdb, "1002")
    d = routing.decide(rdb, "79160001122", "100", routing.Request("support"), now=NOW)
    assert (d.operator, d.source) == ("", "agi")
    # Served last by 1003 five days ago (and by 1001 forty days ago).
    call(rdb, "79160001122", "1001", 40, "a")
    call(rdb, "79160001122", "1003", 5, "b")
    d = routing.decide(rdb, "79160001122", "100", routing.Request("support"), now=NOW)
    assert (d.operator, d.source) == ("1003", "last")
    routing.set_group_settings(rdb, "support", {"last_days": "3"})
    assert routing.decide(rdb, "79160001122", "100", routing.Request("support"), now=NOW).operator == ""
    routing.set_group_settings(rdb, "support", {"last_days": ""})
    routing.set_last_days(rdb, 0)   # off everywhere
    assert routing.decide(rdb, "79160001122", "100", routing.Request("support"), now=NOW).operator == ""


def test_last_operator_must_be_ready_and_in_the_group(rdb):
    operators.add_operator(rdb, "2001", "Sales")
    call(rdb, "4957770000", "2001", 1, "a")
    assert routing.decide(rdb, "4957770000", "100", routing.Request("support"), now=NOW).operator == ""
    call(rdb, "4957770000", "1001", 0.5, "b")
    assert routing.decide(rdb, "4957770000", "100", routing.Request("support"), now=NOW).operator == "1001"
    pause(rdb, "1001")
    assert routing.decide(rdb, "4957770000", "100", routing.Request("support"), now=NOW).operator == ""


def test_vip_clients_and_listed_numbers_get_priority(rdb):
    clients.save(rdb, {"name": "Boss", "phones": "74950000001", "vip": True})
    d = routing.decide(rdb, "74950000001", "100", routing.Request("support", priority=1), now=NOW)
    assert (d.priority, d.source) == (routing.VIP_PRIORITY, "vip")
    routing.add_vip(rdb, "+7495123*", 8)
    routing.add_vip(rdb, "74951234567", 3)
    assert routing.vip_priority(rdb, "74951234567") == 3      # the longer entry wins
    assert routing.vip_priority(rdb, "74951239999") == 8
    assert routing.vip_priority(rdb, "74959999999") == 0
    # A route node's higher priority stays.
    assert routing.decide(rdb, "74951234567", "", routing.Request("support", priority=9), now=NOW).priority == 9
    for bad in ("12a", "*", "1"):
        with pytest.raises(ConfigError, match="not a number or a prefix"):
            routing.add_vip(rdb, bad)
    with pytest.raises(ConfigError, match="between 1 and 9"):
        routing.add_vip(rdb, "123", 10)
    routing.remove_vip(rdb, "+7495123*")
    with pytest.raises(ConfigError, match="not in the VIP list"):
        routing.remove_vip(rdb, "+7495123*")


def test_skill_starts_at_the_best_ready_level(rdb):
    routing.set_skills(rdb, "1001", "billing:4")
    routing.set_skills(rdb, "1002", "billing:9, en:5")
    d = routing.decide(rdb, "4951112233", "", routing.Request("support", skill="billing"), now=NOW)
    assert (d.skill, d.queue, d.max_penalty, d.source) == ("billing", "support--billing", 1, "skill")
    pause(rdb, "1002")
    assert routing.decide(rdb, "", "", routing.Request("support", skill="billing"), now=NOW).max_penalty == 6
    # The group's default skill applies when the route asks for none.
    routing.set_group_settings(rdb, "support", {"skill": "en"})
    assert routing.decide(rdb, "", "", routing.Request("support"), now=NOW).skill == "en"
    # A skill nobody in the group has: the whole group.
    d = routing.decide(rdb, "", "", routing.Request("support", skill="german"), now=NOW)
    assert (d.skill, d.queue) == ("", "support")


@pytest.mark.parametrize("text, message", [
    ("billing:11", "from 1 to 10"),
    ("billing:0", "from 1 to 10"),
    ("billing:high", "from 1 to 10"),
    ("Bad Name:3", "not a valid skill name"),
    ("en:3, en:4", "given twice"),
])
def test_bad_skills_are_refused_and_nothing_is_lost(rdb, text, message):
    routing.set_skills(rdb, "1001", "en:7")
    with pytest.raises(ConfigError, match=message) as exc:
        routing.set_skills(rdb, "1001", text)
    assert exc.value.field == "skills"
    assert routing.skills(rdb, "1001") == {"en": 7}


def test_group_settings_validation(rdb):
    with pytest.raises(ConfigError, match="no operator has the skill 'billing'"):
        routing.set_group_settings(rdb, "support", {"skill": "billing"})
    with pytest.raises(ConfigError, match="between 1 and 600"):
        routing.set_group_settings(rdb, "support", {"skill_widen": "0"})
    with pytest.raises(ConfigError, match="must not be shorter"):
        routing.set_group_settings(rdb, "support", {"skill_widen": "30", "skill_all": "10"})
    with pytest.raises(ConfigError, match="between 0 and 365"):
        routing.set_group_settings(rdb, "support", {"last_days": "400"})
    with pytest.raises(ConfigError, match="no group named"):
        routing.set_group_settings(rdb, "nosuch", {})
    assert routing.group_settings(rdb, "support") == {"skill": "", "skill_widen": 20, "skill_all": 60,
                                                      "last_days": None}


def test_skill_queues_rules_and_dialplan_render(rdb):
    routing.set_skills(rdb, "1001", "billing:4")
    routing.set_skills(rdb, "1002", "billing:9")
    routing.set_group_settings(rdb, "support", {"skill_widen": 5, "skill_all": 12})
    config = render_config.load(rdb)
    text = queues.render(config)
    section = text.split("[support--billing]")[1]
    assert "member => PJSIP/1001,6,Ivan" in section or "member => PJSIP/1001,6," in section
    assert "member => PJSIP/1002,1," in section
    assert "member => PJSIP/1003,10," in section     # no skill: only when everyone is let in
    rules = queues.render_rules(config)
    assert rules == "[korund-widen-support]\npenaltychange => 5,+3\npenaltychange => 12,10\n"
    plan = dialplan.render(config)
    assert "Queue(support--${KORUND_QSKILL}," in plan and ",,korund-record,korund-widen-support)" in plan
    assert "${FILTER(a-z0-9_,${KORUND_SKILL})}" in plan
    assert "QUEUE_EXISTS(support--${KORUND_QSKILL})" in plan


def test_route_node_skill_is_validated_and_passed_on():
    assert "skill" in nodes.route.validate({"to": "group", "group": "support", "skill": "Bad skill"})[0]
    assert "skill" in nodes.route.validate({"to": "operator", "operator": "1001", "skill": "billing"})[0]
    assert nodes.route.validate({"to": "group", "group": "support", "skill": "billing"}) == []

    class IO:
        def route(self, *args):
            self.args = args
    io = IO()
    nodes.route.run({"to": "group", "group": "support", "priority": 2, "skill": "billing"}, io, None)
    assert io.args == ("group", "support", 2, "billing")
    nodes.route.run({"to": "group", "group": "support"}, io, None)
    assert io.args == ("group", "support", 0)


def test_routing_command(inst, demo_db, capsys):
    from korund import cli
    base = ["-i", str(inst.base), "routing"]
    assert cli.main(base + ["skills", "1002", "billing:9,", "en:4"]) == 0
    assert cli.main(base + ["skills", "1001", "billing:0"]) == 2
    assert "from 1 to 10" in capsys.readouterr().err
    assert cli.main(base + ["group", "support", "--skill", "billing", "--widen", "10", "--all", "30"]) == 0
    assert cli.main(base + ["vip", "add", "+7495*", "--priority", "6"]) == 0
    assert cli.main(base + ["vip", "add", "12ab"]) == 2
    capsys.readouterr()
    assert cli.main(base + ["explain", "74951112233"]) == 0
    out = capsys.readouterr().out
    assert '"queue": "support--billing"' in out and '"priority": 6' in out and '"max_penalty": 1' in out


def test_an_operator_whose_phone_is_on_a_call_is_not_routed_to(rdb):
    """The store still says "ready" through a direct call; *busy* (the
    phone's live channels, asked by the AGI) decides."""
    clients.save(rdb, {"name": "Anna", "phones": "79160001122", "personal_operator": "1002"})
    call(rdb, "79160001122", "1003", 1, "a")
    on_a_call = {"1002"}
    d = routing.decide(rdb, "79160001122", "100", routing.Request("support"), now=NOW,
                       busy=lambda ext: ext in on_a_call)
    assert (d.operator, d.source) == ("1003", "last")
    assert "personal operator 1002 is on a call" in d.reasons
    on_a_call.add("1003")
    d = routing.decide(rdb, "79160001122", "100", routing.Request("support"), now=NOW,
                       busy=lambda ext: ext in on_a_call)
    assert (d.operator, d.source, d.operator_ring) == ("", "agi", 0)
    assert "last operator 1003 is on a call" in d.reasons
    # The personal operator who is also the last one is asked once.
    asked = []
    call(rdb, "79160001122", "1002", 0.5, "b")
    routing.decide(rdb, "79160001122", "100", routing.Request("support"), now=NOW,
                   busy=lambda ext: asked.append(ext) or True)
    assert asked == ["1002"]


def test_the_dialplan_checks_the_phone_before_it_dials_and_never_empties_the_penalty(rdb):
    plan = dialplan.render(render_config.load(rdb))
    step = plan.split("exten => operator,1,", 1)[1].split("exten => outside", 1)[0]
    check = "GotoIf($[${LEN(${CHANNELS(^${KORUND_OPERATOR_DIAL}-)})} > 0]?busy)"
    assert step.index(check) < step.index("Dial(${KORUND_OPERATOR_DIAL}") < step.index("n(busy),")
    # app_queue logs "Invalid value ()" for an empty QUEUE_MAX_PENALTY: never set empty.
    assert "QUEUE_MAX_PENALTY=)" not in plan
    assert f"n(plain),Set(QUEUE_MAX_PENALTY={dialplan.NO_PENALTY_LIMIT})" in plan
    assert "Set(QUEUE_MAX_PENALTY=${IF($[\"${KORUND_QPENALTY}\" = \"\"]?2147483647:${KORUND_QPENALTY})})" in plan

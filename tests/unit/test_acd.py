"""The ACD without Asterisk: group settings and their validation, what the
queues and dialplan render from them, operator states from app_queue's
events, and the pushes that make Asterisk's pauses follow the database."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from appliance.operators import queue_events
from appliance.operators import states as operator_states
from appliance.operators import store as operators
from appliance.render import dialplan
from appliance.operators import render as queues
from appliance.base.errors import ConfigError
from appliance.render import config as render_config


class FakeAmi:
    def __init__(self):
        self.actions = []

    def send_action(self, action):
        self.actions.append(action)
        return type("R", (), {"get_header": lambda self, k: "Success"})()


def test_clear_errors_for_unknown_operators_and_duplicates(demo_db):
    with pytest.raises(ConfigError, match="extension 1001 is already taken"):
        operators.add_operator(demo_db, "1001", "Someone Else")
    with pytest.raises(ConfigError, match="no operator with extension 4242"):
        operators.set_members(demo_db, "support", ["1001", "4242"])
    with pytest.raises(ConfigError, match="no operator with extension 4242") as exc:
        operator_states.login(demo_db, None, "4242")
    assert exc.value.field == "extension"
    assert [op.extension for op, _ in render_config.load(demo_db).default_group.members] == ["1001", "1002"]


@pytest.mark.parametrize("bad, field, text", [
    ({"wrapup": "601"}, "wrapup", "between 0 and 600"),
    ({"max_wait": "5"}, "max_wait", "between 10 and 3600"),
    ({"max_wait": "soon"}, "max_wait", "not a whole number"),
    ({"overflow_kind": "moon"}, "overflow_kind", "not one of"),
    ({"overflow_kind": "group", "overflow_target": "support"}, "overflow_target", "itself"),
    ({"overflow_kind": "group", "overflow_target": "nope"}, "overflow_target", "no group named 'nope'"),
    ({"overflow_kind": "scenario", "overflow_target": "nope"}, "overflow_target", "no scenario named"),
    ({"noanswer_after": "11"}, "noanswer_after", "between 1 and 10"),
    ({"moh": "jazz"}, "moh", "'jazz' is not one of: default, ringing"),
])
def test_bad_group_settings_are_refused_and_nothing_changes(demo_db, bad, field, text):
    with pytest.raises(ConfigError) as exc:
        operators.set_group_acd(demo_db, "support", bad)
    assert exc.value.field == field and text in exc.value.text
    g = render_config.load(demo_db).default_group
    assert (g.wrapup, g.max_wait, g.overflow_kind, g.noanswer_after) == (0, 600, "", 1)
    with pytest.raises(ConfigError, match="no group named 'ghost'"):
        operators.set_group_acd(demo_db, "ghost", {})


def test_queues_and_dialplan_render_the_settings(demo_db):
    operators.add_group(demo_db, "sales", "Sales")
    operators.update_group(demo_db, "support", "Support", "leastrecent", 12, True)
    operators.set_group_acd(demo_db, "support", {"wrapup": 7, "max_wait": 45, "overflow_kind": "group",
                                            "overflow_target": "sales", "announce_position": "1",
                                            "announce_holdtime": "on"})
    cfg = render_config.load(demo_db)
    q = queues.render(cfg)
    support = q.split("[support]")[1]
    for line in ("strategy = leastrecent", "timeout = 12", "wrapuptime = 7", "announce-position = yes",
                 "announce-holdtime = once", "announce-frequency = 30", "autopause = no"):
        assert line in support
    assert "announce-position = no" in q.split("[sales]")[1].split("[support]")[0]
    d = dialplan.render(cfg)
    # t: the operator may transfer (attended transfer); no r: the callers hear music on hold
    # the 7th argument: the answering member's channel runs korund-record (F12)
    assert "Queue(support,t,,,45,,korund-record)" in d and "Queue(sales,t,,,600,,korund-record)" in d
    assert "Set(__KORUND_GROUP=sales)" in d and "Set(__KORUND_ROUTE_SOURCE=overflow)" in d
    ops = d.split("[korund-operators]")[1]
    for code, action in (("*51", "login"), ("*52", "logout"), ("*54", "ready")):
        assert f"exten => {code},1,AGI(agi://127.0.0.1:4573/feature-codes,{action})" in ops
    # The reason number is digits by pattern, and filtered all the same.
    assert "exten => _*53X,1,AGI(agi://127.0.0.1:4573/feature-codes,pause,${FILTER(0-9,${EXTEN:3})})" in ops


def test_operators_start_ready_and_states_follow_the_queue(demo_db):
    assert [s["state"] for s in operator_states.states(demo_db)] == ["ready", "ready"]
    operators.set_group_acd(demo_db, "support", {"wrapup": 30})
    ev = lambda kind, **h: queue_events.handle(demo_db, None, {  # noqa: E731
        "Event": kind, "Queue": "support", "Uniqueid": "caller-1",
        "DestChannel": "PJSIP/1001-0000000a", **h})
    ev("AgentCalled")
    assert operator_states.state(demo_db, "1001")["state"] == "ringing"
    assert operator_states.ready_operators(demo_db, "support") == ["1002"]
    ev("AgentConnect")
    assert operator_states.state(demo_db, "1001")["state"] == "on_call"
    ev("AgentComplete")
    assert operator_states.state(demo_db, "1001")["state"] == "wrapup"
    assert operator_states.finish_wrapups(demo_db) == []
    later = lambda: datetime.now(timezone.utc) + timedelta(seconds=31)  # noqa: E731
    assert operator_states.finish_wrapups(demo_db, clock=later) == ["1001"]
    assert operator_states.state(demo_db, "1001")["state"] == "ready"
    states = [r[0] for r in demo_db.execute("SELECT state FROM operator_state_log ORDER BY id")]
    assert states == ["ringing", "on_call", "wrapup", "ready"]


def test_ringall_members_left_ringing_are_freed_after_the_caller_leaves(demo_db):
    for ext in ("1001", "1002"):
        queue_events.handle(demo_db, None, {"Event": "AgentCalled", "Queue": "support",
                                            "Uniqueid": "c9", "DestChannel": f"PJSIP/{ext}-1"})
    queue_events.handle(demo_db, None, {"Event": "QueueCallerLeave", "Queue": "support", "Uniqueid": "c9"})
    queue_events.handle(demo_db, None, {"Event": "AgentConnect", "Queue": "support", "Uniqueid": "c9",
                                        "DestChannel": "PJSIP/1002-1"})
    later = lambda: datetime.now(timezone.utc) + timedelta(seconds=5)  # noqa: E731
    assert operator_states.finish_wrapups(demo_db, clock=later) == ["1001"]
    assert operator_states.state(demo_db, "1002")["state"] == "on_call"


def test_no_answer_pause_after_n_missed_offers_but_not_for_busy(demo_db):
    operators.set_group_acd(demo_db, "support", {"noanswer_pause": 1, "noanswer_after": 2})
    ami = FakeAmi()

    def offer(ring_ms, caller):
        for kind in ("AgentCalled", "AgentRingNoAnswer"):
            queue_events.handle(demo_db, ami, {"Event": kind, "Queue": "support", "Uniqueid": caller,
                                               "DestChannel": "PJSIP/1001-1", "RingTime": str(ring_ms)})
    offer(200, "a")          # busy: refused at once, not a missed offer
    offer(15000, "b")        # rang out: 1 of 2
    assert operator_states.state(demo_db, "1001")["state"] == "ready" and ami.actions == []
    offer(15000, "c")        # 2 of 2: paused "no answer", in Asterisk too
    s = operator_states.state(demo_db, "1001")
    assert (s["state"], s["reason"]) == ("paused", operator_states.NO_ANSWER)
    assert ami.actions == [{"Action": "QueuePause", "Interface": "PJSIP/1001", "Paused": "true",
                            "Reason": "no answer"}]
    # A paused operator's state is not overwritten by later call events.
    offer(15000, "d")
    assert operator_states.state(demo_db, "1001")["reason"] == operator_states.NO_ANSWER
    operator_states.ready(demo_db, ami, "1001")
    assert ami.actions[-1] == {"Action": "QueuePause", "Interface": "PJSIP/1001", "Paused": "false"}


def test_sync_pushes_every_operator(demo_db):
    operator_states.logout(demo_db, None, "1002")
    ami = FakeAmi()
    assert operator_states.sync(demo_db, ami) == 2
    assert [(a["Interface"], a["Paused"]) for a in ami.actions] == [("PJSIP/1001", "false"),
                                                                      ("PJSIP/1002", "true")]


def test_pause_reasons(demo_db):
    operator_states.add_reason(demo_db, 5, "meeting")
    assert operator_states.pause(demo_db, None, "1001", "5")["reason"] == "meeting"
    with pytest.raises(ConfigError, match="already taken"):
        operator_states.add_reason(demo_db, "5", "coffee")
    with pytest.raises(ConfigError, match="between 1 and 99"):
        operator_states.add_reason(demo_db, "100", "coffee")
    with pytest.raises(ConfigError, match="built-in"):
        operator_states.delete_reason(demo_db, 9)
    with pytest.raises(ConfigError, match="no pause reason"):
        operator_states.pause(demo_db, None, "1001", "")


@pytest.mark.parametrize("command", ["operator", "agent"])   # agent: the older name, kept for scripts
def test_operator_cli(inst, demo_db, capsys, command):
    from korund import cli
    base = ["-i", str(inst.base), command]
    assert cli.main(base + ["pause", "1001", "3"]) == 0
    assert "1001 paused (technical break)" in capsys.readouterr().out
    assert cli.main(base + ["pause", "1001"]) == 2
    assert "give a pause reason" in capsys.readouterr().err
    assert cli.main(base + ["login", "7777"]) == 2
    assert "no operator with extension 7777" in capsys.readouterr().err
    assert cli.main(base + ["list"]) == 0
    out = capsys.readouterr().out
    assert "technical break" in out and "1002" in out

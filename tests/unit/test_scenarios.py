from datetime import datetime

from appliance.scenarios.graph import check
from appliance.scenarios.simulate import simulate

MENU = {
    "start": "main",
    "nodes": {
        "main": {"type": "menu", "prompts": ["main-menu"], "options": {"1": "sales", "2": "account"},
                 "timeout_prompts": ["no-input"], "invalid_prompts": ["invalid"], "retries": 2,
                 "next": {"fail": "ops"}},
        "sales": {"type": "route", "to": "group", "group": "sales"},
        "account": {"type": "input", "prompts": ["enter-account"], "variable": "account",
                    "min_digits": 4, "max_digits": 6, "next": {"next": "readback", "fail": "ops"}},
        "readback": {"type": "say", "value": "{account}", "as": "digits", "next": {"next": "ops"}},
        "ops": {"type": "route", "to": "group", "group": "support"},
    },
}


def test_a_valid_scenario_has_no_problems():
    assert check(MENU) == []


def test_problems_point_at_the_node():
    bad = {"start": "main", "nodes": dict(MENU["nodes"])}
    bad["nodes"]["main"] = dict(bad["nodes"]["main"], options={"1": "sales", "2": "nowhere", "x": "ops"})
    bad["nodes"]["lonely"] = {"type": "play", "prompts": ["hello"], "next": {}}
    problems = {(p.node, p.message) for p in check(bad, prompt_exists=lambda n: n != "invalid")}
    assert ("main", "'x' is not a phone key") in problems
    assert ("main", "output 'key:2' leads to a missing node 'nowhere'") in problems
    assert ("main", "prompt 'invalid' does not exist") in problems
    assert ("lonely", "output 'next' leads nowhere") in problems
    assert ("lonely", "cannot be reached from the start") in problems
    assert ("account", "cannot be reached from the start") in problems


def test_a_loop_that_never_waits_is_refused():
    loop = {"start": "a", "nodes": {
        "a": {"type": "play", "prompts": ["x"], "next": {"next": "b"}},
        "b": {"type": "set", "variable": "n", "value": "1", "next": {"next": "a"}}}}
    assert {p.node for p in check(loop) if "never waits" in p.message} == {"a", "b"}


def test_simulated_walks():
    r = simulate(MENU, "1")
    assert r["events"][-1] == {"route": "group", "target": "sales", "priority": 0}
    r = simulate(MENU, "212345#")
    assert {"say": "12345", "as": "digits"} in r["events"]
    assert r["vars"]["account"] == "12345"
    # Two wrong keys and a silence: the retries, then the fail output.
    r = simulate(MENU, "99")
    plays = [e["play"] for e in r["events"] if "play" in e]
    assert plays == [["main-menu"], ["invalid"], ["main-menu"], ["invalid"], ["main-menu"]]
    assert r["events"][-1]["target"] == "support"
    # Too short an account number.
    r = simulate(MENU, "212#")
    assert r["events"][-1]["target"] == "support" and "account" not in r["vars"]


def test_conditions_on_time_and_caller():
    g = {"start": "hours", "nodes": {
        "hours": {"type": "condition", "test": "time", "from": "09:00", "until": "18:00",
                  "next": {"true": "vip", "false": "night"}},
        "vip": {"type": "condition", "test": "caller_prefix", "numbers": ["+7495"],
                "next": {"true": "gold", "false": "day"}},
        "gold": {"type": "route", "to": "group", "group": "vip", "priority": 5},
        "day": {"type": "route", "to": "group", "group": "support"},
        "night": {"type": "hangup", "prompts": ["closed"]}}}
    assert check(g) == []
    noon, night = datetime(2026, 11, 26, 12, 0), datetime(2026, 11, 26, 23, 0)
    assert simulate(g, "", "+74951234567", noon)["events"][-1]["target"] == "vip"
    assert simulate(g, "", "+78121234567", noon)["events"][-1]["target"] == "support"
    assert simulate(g, "", "+74951234567", night)["events"][-2:] == [{"play": ["closed"]}, {"hangup": True}]


def test_goto_goes_on_in_another_published_scenario():
    front = {"start": "hi", "nodes": {
        "hi": {"type": "play", "prompts": ["hello"], "next": {"next": "go"}},
        "go": {"type": "goto", "scenario": "shared"}}}
    assert check(front) == []
    r = simulate(front, "1", load=lambda name: MENU if name == "shared" else None)
    assert {"scenario": "shared"} in r["path"]
    assert r["events"][-1] == {"route": "group", "target": "sales", "priority": 0}
    r = simulate(front, "1", load=lambda name: None)
    assert r["error"] == "scenario 'shared' is not published"

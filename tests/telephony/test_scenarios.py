"""IVR scenarios on real calls: the caller navigates menus by DTMF, enters
digits, and reaches an operator; a broken scenario still reaches one."""
from __future__ import annotations

import json

import pytest

from appliance.base import store
from appliance.scenarios import store as scenarios
from tests import audio
from tests.conftest import TONES

# Test prompts are tones, so the caller's recording tells which played.
PROMPT_TONES = {"t-main": 500, "t-sub": 900, "t-account": 1100, "t-third": 1500, "t-wrong": 1900}

GRAPH = {
    "start": "main",
    "nodes": {
        "main": {"type": "menu", "prompts": ["t-main"], "options": {"1": "sub", "2": "account"},
                 "invalid_prompts": ["t-wrong"], "timeout": 3, "retries": 1, "next": {"fail": "ops"}},
        # A sub-menu: 1 → operators, 2 → a third level, 0 → back to the main menu.
        "sub": {"type": "menu", "prompts": ["t-sub"], "options": {"1": "ops", "2": "third", "0": "main"},
                "timeout": 3, "retries": 1, "next": {"fail": "ops"}},
        # The third level: 1 → operators, 9 → the main menu, * → this menu again.
        "third": {"type": "menu", "prompts": ["t-third"], "options": {"1": "ops", "9": "main", "*": "third"},
                  "timeout": 3, "retries": 0, "next": {"fail": "ops"}},
        "account": {"type": "input", "prompts": ["t-account"], "variable": "account",
                    "min_digits": 4, "max_digits": 6, "timeout": 4, "retries": 0,
                    "next": {"next": "readback", "fail": "ops"}},
        "readback": {"type": "say", "value": "{account}", "as": "digits", "next": {"next": "ops"}},
        "ops": {"type": "route", "to": "group", "group": "support", "priority": 3},
    },
}


def publish_and_bind(appliance, name: str, graph: dict, dnis: str, before=None) -> None:
    """Create scenario *name*, publish it and bind *dnis* to it (after *before(db)*)."""
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        if before:
            before(db)
        scenarios.create(db, name, name.title(), graph)
        scenarios.publish(db, name, "test")
        scenarios.bind(db, dnis, scenario=name)
    finally:
        db.close()


@pytest.fixture(scope="module")
def ivr(pbx):
    appliance, _ = pbx
    for name, freq in PROMPT_TONES.items():
        appliance.tone_prompt(name, freq)
    publish_and_bind(appliance, "main", GRAPH, "100")
    return appliance


def steps(appliance, uniqueid):
    with appliance.db() as conn:
        return [json.loads(r[0]) for r in conn.execute(
            "SELECT step FROM call_steps WHERE uniqueid = ? ORDER BY seq", [uniqueid])]


def heard_order(heard, freqs):
    at = {f: audio.first_tone_at(heard, f) for f in freqs}
    assert all(v is not None for v in at.values()), at
    return sorted(at, key=at.get)


def test_two_level_menu_by_dtmf_then_an_operator(ivr, carrier):
    before = ivr.last_call_id()
    call = carrier.call(ani="4951230001", hold=16, dtmf="1wwww1", dtmf_delay=1)
    operator = call.answered_by_phone()["Phone"]
    call.ended()
    heard = audio.samples(call.recording())
    assert heard_order(heard, [500, 900, TONES[operator]]) == [500, 900, TONES[operator]]
    row = ivr.call_row(ani="4951230001", since_id=before)
    assert row["route_source"] == "scenario" and row["grp"] == "support" and row["outcome"] == "answered"
    path = [s["node"] for s in steps(ivr, row["uniqueid"]) if "type" in s]
    assert path == ["main", "sub", "ops"]


def test_three_levels_down_and_back_to_the_main_menu(ivr, carrier):
    """main → 1 sub → 2 third → * (again) → 9 main → 1 sub → 1 operators."""
    before = ivr.last_call_id()
    call = carrier.call(ani="4951230008", hold=30, dtmf="1wwww2wwww*wwww9wwww1wwww1", dtmf_delay=1)
    operator = call.answered_by_phone(timeout=50)["Phone"]
    call.ended()
    row = ivr.call_row(ani="4951230008", since_id=before)
    path = [s["node"] for s in steps(ivr, row["uniqueid"]) if "type" in s]
    assert path == ["main", "sub", "third", "third", "main", "sub", "ops"]
    heard = audio.samples(call.recording())
    assert audio.first_tone_at(heard, 1500) is not None
    assert heard_order(heard, [1500, TONES[operator]]) == [1500, TONES[operator]]
    assert row["outcome"] == "answered"


def test_a_wrong_key_gets_its_prompt_then_a_retry(ivr, carrier):
    """7 is no option of the main menu: the caller hears the wrong-key prompt
    and the menu again, then 1 and 1 reach the operators."""
    before = ivr.last_call_id()
    call = carrier.call(ani="4951230009", hold=24, dtmf="7wwwwwww1wwww1", dtmf_delay=1)
    operator = call.answered_by_phone(timeout=50)["Phone"]
    call.ended()
    heard = audio.samples(call.recording())
    assert heard_order(heard, [1900, 900, TONES[operator]]) == [1900, 900, TONES[operator]]
    row = ivr.call_row(ani="4951230009", since_id=before)
    assert [s["node"] for s in steps(ivr, row["uniqueid"]) if "type" in s] == ["main", "sub", "ops"]


def test_entered_digits_are_kept_in_the_session(ivr, carrier):
    before = ivr.last_call_id()
    call = carrier.call(ani="4951230002", hold=16, dtmf="2www12345#", dtmf_delay=1)
    call.answered_by_phone(timeout=40)
    call.ended()
    heard = audio.samples(call.recording())
    assert audio.first_tone_at(heard, 1100) is not None and audio.first_tone_at(heard, 900) is None
    row = ivr.call_row(ani="4951230002", since_id=before)
    recorded = steps(ivr, row["uniqueid"])
    assert {"node": "account", "set": "account", "value": "12345"} in recorded
    assert [s["node"] for s in recorded if "type" in s] == ["main", "account", "readback", "ops"]


def test_no_input_follows_the_retries_then_the_fail_output(ivr, carrier):
    before = ivr.last_call_id()
    call = carrier.call(ani="4951230003", hold=20)
    call.answered_by_phone(timeout=40)
    call.ended()
    heard = audio.samples(call.recording())
    assert audio.tone_seconds(heard, 500) > 2.5  # the menu twice (one retry)
    row = ivr.call_row(ani="4951230003", since_id=before)
    assert row["route_source"] == "scenario" and row["outcome"] == "answered"


def test_a_broken_scenario_still_reaches_an_operator(ivr, carrier):
    db = store.open_store(ivr.host_base / "korund.db", migrate=False)
    broken = json.loads(json.dumps(GRAPH))
    broken["nodes"]["main"]["options"]["1"] = "gone"   # never passes publish; written directly
    sid = db.execute("SELECT id FROM scenarios WHERE name = 'main'").fetchone()[0]
    db.execute("INSERT INTO scenario_versions (scenario_id, version, graph, published_at) "
               "VALUES (?, 99, ?, 'now')", [sid, json.dumps(broken)])
    try:
        before = ivr.last_call_id()
        call = carrier.call(ani="4951230004", hold=12, dtmf="1", dtmf_delay=1)
        call.answered_by_phone(timeout=40)
        call.ended()
        row = ivr.call_row(ani="4951230004", since_id=before)
        assert row["route_source"] == "scenario-error" and row["outcome"] == "answered"
    finally:
        db.execute("DELETE FROM scenario_versions WHERE version = 99")
        db.close()


BALANCE = {
    "start": "account",
    "nodes": {
        "account": {"type": "input", "prompts": ["t-account"], "variable": "account", "min_digits": 4,
                    "max_digits": 6, "timeout": 4, "retries": 0, "next": {"next": "find", "fail": "ops"}},
        "find": {"type": "lookup", "table": "accounts", "by": "account", "prefix": "client",
                 "next": {"found": "balance", "not_found": "person"}},
        "balance": {"type": "say", "value": "{client_balance}", "as": "number", "next": {"next": "ops"}},
        "ops": {"type": "route", "to": "group", "group": "support"},
        "person": {"type": "route", "to": "operator", "operator": "1002"},
    },
}


@pytest.fixture(scope="module")
def balance_line(ivr):
    from appliance.tables import store as datatables
    publish_and_bind(ivr, "balance", BALANCE, "200", before=lambda db: datatables.import_csv(
        db, "accounts", "account;balance\n4242;1500\n".encode("cp1251"), "account"))
    return ivr


def test_a_known_account_hears_its_balance(balance_line, carrier):
    before = balance_line.last_call_id()
    call = carrier.call(ani="4951230005", dnis="200", hold=16, dtmf="4242#", dtmf_delay=1)
    call.answered_by_phone(timeout=40)
    call.ended()
    row = balance_line.call_row(ani="4951230005", since_id=before)
    recorded = steps(balance_line, row["uniqueid"])
    assert {"node": "find", "set": "client_balance", "value": "1500"} in recorded
    assert [s["node"] for s in recorded if "type" in s] == ["account", "find", "balance", "ops"]
    assert row["dnis"] == "200" and row["outcome"] == "answered"


def test_an_unknown_account_takes_the_not_found_branch_to_one_operator(balance_line, carrier):
    before = balance_line.last_call_id()
    call = carrier.call(ani="4951230006", dnis="200", hold=14, dtmf="9999#", dtmf_delay=1)
    assert call.answered_by_phone(timeout=40)["Phone"] == "1002"
    call.ended()
    row = balance_line.call_row(ani="4951230006", since_id=before)
    assert [s["node"] for s in steps(balance_line, row["uniqueid"]) if "type" in s] == ["account", "find", "person"]


def test_goto_carries_the_call_into_another_scenario(ivr, carrier):
    publish_and_bind(ivr, "front", {"start": "go", "nodes": {
        "go": {"type": "goto", "scenario": "main"}}}, "300")
    before = ivr.last_call_id()
    call = carrier.call(ani="4951230007", dnis="300", hold=14, dtmf="1wwww1", dtmf_delay=1)
    call.answered_by_phone(timeout=40)
    call.ended()
    row = ivr.call_row(ani="4951230007", since_id=before)
    recorded = steps(ivr, row["uniqueid"])
    assert {"scenario": "main"} in recorded
    assert [s["node"] for s in recorded if "type" in s] == ["go", "main", "sub", "ops"]

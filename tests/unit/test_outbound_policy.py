"""The outbound policy (appliance.outbound): how a number is told apart,
which numbers the default lets out, prefixes, scope, the callback caps and
the own-number rule; the settings, validated whole and audited; and where
the policy is applied -- a callback order (IVR, desktop), the dialer before
each attempt and a retry, a scenario's route, an operator's call."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from appliance.agi import inbound, outbound_route
from appliance.agi.registry import CallContext
from appliance.base import dialplan_names as dn
from appliance.base.errors import ConfigError
from appliance.callbacks import service as dialer, store as callbacks
from appliance.outbound import policy, store as outbound_store
from appliance.scenarios import nodes
from appliance.scenarios.engine import Session
from appliance.scenarios.simulate import SimulatedCall

DEFAULT = policy.Policy()
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("number, kind, e164", [
    ("84951234567", "national", "+74951234567"),        # 8 + NSN
    ("+74951234567", "national", "+74951234567"),
    ("74951234567", "national", "+74951234567"),
    ("4951234567", "national", "+74951234567"),          # the NSN alone, as carriers send caller IDs
    ("89161234567", "national", "+79161234567"),         # mobile
    ("88005553535", "national", "+78005553535"),         # freephone
    ("77011234567", "international", "+77011234567"),    # Kazakhstan shares +7
    ("+375291234567", "international", "+375291234567"),
    ("810441234567890", "international", "+441234567890"),  # 8~10, the old international prefix
    ("00441234567890", "international", "+441234567890"),
    ("2345678", "local", None),
    ("23456", "local", None),
    ("112", "service", None), ("01", "service", None), ("1234567", "service", None), ("8800", "service", None),
    ("12345678", "service", None), ("23456789", "unknown", None), ("5123456789", "unknown", None),
    ("49512345678901", "unknown", None),
    ("1;Dial(x)", "invalid", None), ("", "invalid", None), ("+", "invalid", None),
])
def test_numbers_are_told_apart_by_their_form(number, kind, e164):
    assert policy.classify(number) == (kind, e164)


@pytest.mark.parametrize("number, allowed, reason", [
    ("84951234567", True, "scope"), ("+79161234567", True, "scope"), ("4951234567", True, "scope"),
    ("2345678", True, "scope"), ("88005553535", True, "scope"),
    ("88091234567", False, "denied"), ("+78091234567", False, "denied"), ("78031234567", False, "denied"),
    ("8801 123 4567".replace(" ", ""), False, "denied"), ("88021234567", False, "denied"),
    ("89541234567", False, "denied"), ("88401234567", False, "denied"), ("89401234567", False, "denied"),
    ("810441234567890", False, "international"), ("+441234567890", False, "international"),
    ("00441234567890", False, "international"), ("77011234567", False, "international"),
    ("112", False, "service"), ("23456789", False, "unknown"), ("abc", False, "invalid"),
])
def test_the_default_lets_out_national_and_local_numbers_only(number, allowed, reason):
    d = policy.decide(DEFAULT, number, "callback", caller="4951234567")
    assert (d.allowed, d.reason) == (allowed, reason)
    assert d.allowed or d.text.startswith(("'", number))


def test_the_longer_prefix_wins_and_denied_wins_a_tie():
    p = policy.Policy(allowed=("+375", "+7809555"), denied=("+7809", "+37529"))
    assert policy.decide(p, "+375171234567", "route").reason == "prefix"        # Belarus allowed beyond the scope
    assert not policy.decide(p, "+375291234567", "route").allowed                # but not its mobile range
    assert policy.decide(p, "88095551234", "route").allowed                      # one premium service let through
    assert not policy.decide(p, "88091234567", "route").allowed
    tie = policy.Policy(allowed=("+7809",), denied=("+7809",))
    assert not policy.decide(tie, "88091234567", "route").allowed
    # digits without + match the number as dialled: a short number let out on purpose
    assert policy.decide(policy.Policy(allowed=("100",)), "100", "route").allowed


def test_the_scope():
    local = policy.Policy(scope="local")
    assert policy.decide(local, "2345678", "route").allowed
    assert policy.decide(local, "84951234567", "route").reason == "national"
    world = policy.Policy(scope="international")
    assert policy.decide(world, "+441234567890", "route").allowed
    assert not policy.decide(world, "+78091234567", "route").allowed     # the denied prefixes still hold


def test_operators_may_always_call_emergency_numbers_nothing_else_may():
    assert policy.decide(DEFAULT, "112", "operator").reason == "emergency"
    assert policy.decide(policy.Policy(scope="local", denied=("1",)), "103", "operator").allowed
    for purpose in ("callback", "callback-attempt", "route"):
        assert not policy.decide(DEFAULT, "112", purpose).allowed


def test_own_number_only_compares_one_spelling_of_each():
    own = policy.Policy(own_number_only=True)
    assert policy.decide(own, "84951234567", "callback", caller="+74951234567").allowed
    assert policy.decide(own, "4951234567", "callback-attempt", caller="74951234567").allowed
    assert policy.decide(own, "84951234568", "callback", caller="4951234567").reason == "own-number"
    assert policy.decide(own, "84951234567", "callback", caller="").reason == "own-number"   # an unknown caller
    assert policy.decide(own, "84951234568", "route", caller="4951234567").allowed          # callbacks only


def test_the_caps_count_open_orders_and_the_last_24_hours():
    p = policy.Policy(max_open=2, max_day=4)
    assert policy.decide(p, "84951234567", "callback", orders=(1, 3)).allowed
    assert policy.decide(p, "84951234567", "callback", orders=(2, 0)).reason == "open-orders"
    day = policy.decide(p, "84951234567", "callback", orders=(0, 4))
    assert day.reason == "day-orders" and day.text == "this caller ordered 4 callbacks in the last 24 hours (at most 4)"
    assert policy.decide(p, "84951234567", "callback-attempt", orders=(9, 9)).allowed    # placing one is no order
    assert policy.decide(policy.Policy(max_open=0, max_day=0), "84951234567", "callback", orders=(99, 99)).allowed


def test_an_unknown_purpose_is_a_mistake():
    with pytest.raises(ValueError):
        policy.decide(DEFAULT, "84951234567", "fax")


# --- the settings --------------------------------------------------------------------------

def test_a_new_store_has_the_default_policy(db):
    p = outbound_store.load(db)
    assert p["scope"] == "national" and p["denied"] == list(outbound_store.DEFAULT_DENIED)
    assert (p["max_open"], p["max_day"], p["own_number_only"]) == (3, 5, False)
    assert policy.Policy.from_settings(p) == DEFAULT


def test_settings_are_checked_whole_and_audited(db):
    saved = outbound_store.save(db, {"allowed": "+375, 8 (800) 555\n00380", "denied": ["8809", "810375", "+7803"],
                                     "max_open": "1", "own_number_only": "on"}, "admin")
    assert saved["allowed"] == ["+375", "+7800555", "+380"] and saved["denied"] == ["+7809", "+375", "+7803"]
    assert saved["max_open"] == 1 and saved["own_number_only"] and saved["changed_by"] == "admin"
    entry = db.execute("SELECT username, details FROM audit WHERE action = 'outbound policy changed'").fetchone()
    assert entry[0] == "admin" and json.loads(entry[1])["max_open"] == 1
    for bad, field in (({"scope": "galactic"}, "scope"), ({"denied": "88x09"}, "denied"), ({"denied": "810"}, "denied"),
                       ({"max_day": "-1"}, "max_day"), ({"max_open": "101"}, "max_open"),
                       ({"allowed": 5}, "allowed"), ({"denied": ["1"] * 0 + [str(n) for n in range(201)]}, "denied")):
        with pytest.raises(ConfigError) as err:
            outbound_store.save(db, {"scope": "international", **bad}, "admin")
        assert err.value.field == field
    assert outbound_store.load(db)["scope"] == "national"          # nothing of a refused change is kept
    assert db.execute("SELECT COUNT(*) FROM audit WHERE action = 'outbound policy changed'").fetchone()[0] == 1


def test_the_counts_of_a_callers_orders(demo_db):
    now = datetime.now(UTC)
    for number, ani in (("84951111111", "4950000001"), ("84952222222", "4950000001"), ("84953333333", "")):
        callbacks.add(demo_db, "support", number, ani, "", now)
    demo_db.execute("UPDATE callbacks SET created_at = ? WHERE number = '84952222222'",
                    [(now - timedelta(hours=25)).isoformat(timespec="seconds")])
    assert outbound_store.count_orders(demo_db, "4950000001", "89999999999") == (2, 1)
    assert outbound_store.count_orders(demo_db, "4957777777", "84953333333") == (1, 0)    # to the same number
    assert outbound_store.count_orders(demo_db, "", "89999999999") == (1, 1)              # the unknown callers
    callbacks.set_status(demo_db, 1, "done", "x")
    assert outbound_store.count_orders(demo_db, "4950000001", "89999999999") == (1, 1)


# --- where it applies ------------------------------------------------------------------------

def audit(db, action="outbound refused") -> list[dict]:
    return [{"by": r[0], "target": r[1], **json.loads(r[2])} for r in db.execute(
        "SELECT username, target, details FROM audit WHERE action = ? ORDER BY id", [action])]


def test_a_refused_order_is_not_stored_and_is_audited(demo_db):
    with pytest.raises(policy.Refused) as err:
        callbacks.add(demo_db, "support", "88091234567", "4951234567", "1.1", T0)
    assert err.value.field == "number" and "+7809" in err.value.text
    assert demo_db.execute("SELECT COUNT(*) FROM callbacks").fetchone()[0] == 0
    [entry] = audit(demo_db)
    assert (entry["by"], entry["target"], entry["purpose"], entry["reason"], entry["caller"]) == (
        "ivr", "88091234567", "callback", "denied", "4951234567")


def test_the_cap_holds_for_one_caller(demo_db):
    outbound_store.save(demo_db, {"max_open": 2}, "admin")
    for n in range(2):
        callbacks.add(demo_db, "support", f"8495123456{n}", "4951234567", "", T0)
    with pytest.raises(policy.Refused) as err:
        callbacks.add(demo_db, "support", "84951234569", "4951234567", "", T0)
    assert err.value.decision.reason == "open-orders"
    callbacks.add(demo_db, "support", "84951234569", "4957654321", "", T0)    # another caller may
    assert demo_db.execute("SELECT COUNT(*) FROM callbacks").fetchone()[0] == 3


def test_the_desktop_order_keeps_its_refusal_in_the_audit_log(demo_db):
    from appliance.clients import desktop
    with pytest.raises(policy.Refused):
        desktop.order_callback(demo_db, "1700000000.5", "+441234567890", "", "anna")
    assert [(e["by"], e["target"]) for e in audit(demo_db)] == [("anna", "+441234567890")]
    assert demo_db.execute("SELECT COUNT(*) FROM callbacks").fetchone()[0] == 0


class RecordingCall(SimulatedCall):
    """The simulator's call, storing orders for real."""

    def __init__(self, db, keys, ani):
        super().__init__(keys, ani, now=T0)
        self.db = db

    def store_callback(self, group, number, ani, slot):
        start, until = callbacks.when(slot, self.clock)
        return callbacks.add(self.db, group, number, ani, "1.2", start, until, slot is None)


NODE = {"type": "callback", "prompts": ["offer"], "group": "support", "slots": [], "confirm_prompts": ["ok"],
        "enter_prompts": ["enter"], "done_prompts": ["done"], "retries": 1}


@pytest.mark.parametrize("keys, ani, change, prompt", [
    ("12810441234567890#1", "4951234567", {}, "callback-refused"),       # 1 asap, 2 another number: international
    ("1288091234567#1", "4951234567", {}, "callback-refused"),           # premium rate
    ("1284957654321#1", "4951234567", {"own_number_only": True}, "callback-own-number"),
    ("11", "4951234567", {"max_day": 0, "max_open": 0, "denied": "+7495"}, "callback-refused"),   # own number, refused
])
def test_the_callback_node_tells_the_caller_why_and_goes_its_fail_way(demo_db, keys, ani, change, prompt):
    if change:
        outbound_store.save(demo_db, change, "admin")
    call, session = RecordingCall(demo_db, keys, ani), Session(vars={"ani": ani})
    assert nodes.callback.run(NODE, call, session) == "fail"
    assert {"play": [prompt]} in call.events and {"play": ["done"]} not in call.events
    assert demo_db.execute("SELECT COUNT(*) FROM callbacks").fetchone()[0] == 0
    assert session.vars["callback_refused"] and len(audit(demo_db)) == 1


def test_the_callback_node_at_the_cap_says_so(demo_db):
    outbound_store.save(demo_db, {"max_open": 1}, "admin")
    call = RecordingCall(demo_db, "11", "4951234567")
    assert nodes.callback.run(NODE, call, Session(vars={"ani": "4951234567"})) == "next"
    call = RecordingCall(demo_db, "11", "4951234567")
    assert nodes.callback.run(NODE, call, Session(vars={"ani": "4951234567"})) == "fail"
    assert {"play": ["callback-limit"]} in call.events


class FakeMgr:
    def __init__(self):
        self.actions = []

    def send_action(self, action):
        self.actions.append(action)

        class R:
            def get_header(self, name):
                return "Success" if name == "Response" else "NOT_INUSE"
        return R()


def test_the_dialer_refuses_an_order_taken_under_a_looser_policy(demo_db):
    outbound_store.save(demo_db, {"scope": "international"}, "admin")
    oid = callbacks.add(demo_db, "support", "+441234567890", "4951234567", "", T0 - timedelta(minutes=1))
    ok = callbacks.add(demo_db, "support", "84951234567", "4951234567", "", T0 - timedelta(minutes=1))
    outbound_store.save(demo_db, {"scope": "national"}, "admin")
    d = dialer.Dialer(demo_db, FakeMgr(), clock=lambda: T0, ready=lambda _db, _grp: ["1001", "1002"])
    started = d.tick()
    assert [a["callback_id"] for a in started] == [ok]              # only the allowed one rings an operator
    originated = [a for a in d.mgr.actions if a["Action"] == "Originate"]
    assert len(originated) == 1 and f"{dn.VAR_CALLBACK_NUMBER}=84951234567" in originated[0]["Variable"]
    order = callbacks.get(demo_db, oid)
    assert order["status"] == "failed" and order["changed_by"] == "dialer"
    assert order["refused"]["reason"] == "international" and dialer.attempts(demo_db, oid) == []
    assert [(e["by"], e["purpose"]) for e in audit(demo_db)] == [("dialer", "callback-attempt")]
    assert d.tick() == [] and len(audit(demo_db)) == 1              # refused once, not every pass
    with pytest.raises(policy.Refused):                              # nor can it be tried again
        dialer.check_retry(demo_db, oid, "super")
    with pytest.raises(policy.Refused):
        dialer.retry(demo_db, oid, T0)
    assert callbacks.get(demo_db, oid)["status"] == "failed" and len(audit(demo_db)) == 2


class FakeAgi:
    def __init__(self, variables, uniqueid="99.1"):
        self.env = {"agi_uniqueid": uniqueid}
        self.variables, self.set, self.played = variables, {}, []

    def get_variable(self, name):
        return self.variables.get(name, "")

    def set_variable(self, name, value):
        self.set[name] = value

    def get_full_variable(self, expression):
        return "0"     # no DAHDI channel in use

    def answer(self):
        pass

    def stream_file(self, name, escape=""):
        self.played.append(name)


def test_a_scenario_route_to_a_refused_number_is_not_handed_to_the_dialplan(demo_db):
    agi = FakeAgi({})
    assert inbound.outside_number(agi, demo_db, "+441234567890", "4951234567") is None
    assert inbound.outside_number(agi, demo_db, "84951234567", "4951234567") == "84951234567"
    [entry] = audit(demo_db)
    assert entry["purpose"] == "route" and entry["by"] == "ivr"


def test_an_operator_dials_out_only_what_the_policy_allows(demo_db, tmp_path):
    ctx = CallContext(demo_db, {"language": "ru"}, tmp_path)
    phone = {"CHANNEL(channeltype)": "PJSIP", "CHANNEL(endpoint)": "1001", dn.VAR_OUT_PURPOSE: "operator"}
    call = FakeAgi({**phone, dn.VAR_OUT_NUMBER: "84951234567"})
    outbound_route.outbound_route(call, ctx)
    assert call.set[dn.VAR_OUT_TRIES] == "1" and call.set[dn.VAR_OUT_WHERE + "1"] == "pstn"
    assert call.played == []
    for number in ("88091234567", "+441234567890", "810441234567890"):
        call = FakeAgi({**phone, dn.VAR_OUT_NUMBER: number})
        outbound_route.outbound_route(call, ctx)
        assert dn.VAR_OUT_TRIES not in call.set and call.played == [str(tmp_path / "ru" / "outbound-refused")]
    assert [(e["by"], e["purpose"]) for e in audit(demo_db)] == [("phone 1001", "operator")] * 3
    call = FakeAgi({**phone, dn.VAR_OUT_NUMBER: "112"})
    outbound_route.outbound_route(call, ctx)
    assert call.set[dn.VAR_OUT_TRIES] == "1" and call.set[dn.VAR_OUT_ROUTE] == "emergency"
    # a channel that is no operator's phone never dials out
    stranger = FakeAgi({**phone, "CHANNEL(endpoint)": "pstn", dn.VAR_OUT_NUMBER: "84951234567"})
    outbound_route.outbound_route(stranger, ctx)
    assert dn.VAR_OUT_TRIES not in stranger.set

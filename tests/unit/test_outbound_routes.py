"""Outbound routes and trunk groups as a library: patterns, overlaps, the
checks that refuse bad input (nothing stored), rewriting, hunting, the
channels kept for inbound, classes of service and the plan."""
from __future__ import annotations

import pytest

from appliance.base.errors import ConfigError
from appliance.lines import store as lines
from appliance.outbound import causes, patterns, routes, store as outbound_store


def field_of(fn, *args, **kw) -> str:
    with pytest.raises(ConfigError) as err:
        fn(*args, **kw)
    return err.value.field


# --- patterns ----------------------------------------------------------------------

@pytest.mark.parametrize("text, yes, no", [
    ("8XXXXXXXXXX", ["84951234567"], ["8495123456", "+74951234567"]),
    ("_+7[3489]XXXXXXXXX", ["+74951234567"], ["+76951234567", "74951234567"]),
    ("[2-7]XXXXX", ["234567"], ["134567", "2345678"]),
    ("810X.", ["8104412345"], ["810"]),
    ("112!", ["112", "11234"], ["11"]),
    ("N[1-689]Z", ["281"], ["171", "280"]),
])
def test_a_pattern_matches_as_asterisk_would(text, yes, no):
    p = patterns.parse(text)
    assert all(p.matches(n) for n in yes) and not any(p.matches(n) for n in no)
    assert p.matches(p.example())


@pytest.mark.parametrize("text", ["", "8X+X", "[]XX", "[9-1]X", "8XX.X", "8A", "[12", "X" * 21, "+", "8,X"])
def test_a_pattern_that_cannot_match_is_refused(text):
    assert field_of(patterns.parse, text) == "patterns"


def test_overlap_gives_a_number_both_match():
    p = patterns.parse
    assert patterns.overlap(p("8XXXXXXXXXX"), p("810X.")) == "81000000000"
    assert patterns.overlap(p("8[3489]XXXXXXXXX"), p("810X.")) is None
    assert patterns.overlap(p("112"), p("1XX")) == "112"
    assert patterns.overlap(p("+[1-689]X."), p("+7XXXXXXXXXX")) is None
    assert patterns.overlap(p("XXXXX"), p("XXXXXX")) is None
    assert patterns.overlap(p("X!"), p("XXXX")) == "0000"


def test_the_default_routes_do_not_overlap():
    routes.check_overlaps([routes.Route(name, pats, ["pstn"], level) for name, pats, level in routes.DEFAULT_ROUTES])


# --- the store refuses bad input and keeps nothing --------------------------------

def count(db) -> tuple[int, int]:
    return (db.execute("SELECT COUNT(*) FROM trunk_groups").fetchone()[0],
            db.execute("SELECT COUNT(*) FROM outbound_routes").fetchone()[0])


def test_bad_routes_are_refused_and_nothing_is_stored(demo_db):
    before = count(demo_db)
    national = next(r for r in routes.routes(demo_db) if r.name == "national")
    bad = [
        ({"name": "r", "patterns": ["8X+X"], "trunk_groups": ["pstn"]}, "patterns"),      # cannot match
        ({"name": "r", "patterns": ["8495XXXXXXX"], "trunk_groups": ["pstn"]}, "patterns"),   # overlaps 'national'
        ({"name": "r", "patterns": ["5XXX", "5XXX"], "trunk_groups": ["pstn"]}, "patterns"),
        ({"name": "r", "patterns": ["5XXX"], "trunk_groups": []}, "trunk_groups"),       # no trunk group
        ({"name": "r", "patterns": ["5XXX"], "trunk_groups": ["nowhere"]}, "trunk_groups"),
        ({"name": "Bad Name", "patterns": ["5XXX"], "trunk_groups": ["pstn"]}, "name"),
        ({"name": "national", "patterns": ["5XXX"], "trunk_groups": ["pstn"]}, "name"),  # exists
        ({"name": "r", "patterns": ["5XXX"], "trunk_groups": ["pstn"], "level": "galactic"}, "level"),
        ({"name": "r", "patterns": ["5XXX"], "trunk_groups": ["pstn"], "caller_id": "1;2"}, "caller_id"),
        ({"name": "plan", "patterns": ["5XXX"], "trunk_groups": ["pstn"]}, "name"),      # the API's word
    ]
    for raw, fieldname in bad:
        assert field_of(routes.save_route, demo_db, raw, "test") == fieldname, raw
    # rewriting that leaves nothing: strip 3 on the emergency route's 112
    assert field_of(routes.save_trunk_group, demo_db, {"name": "pstn", "kind": "sip", "members": ["pstn"],
                                                       "strip": 3}, "test", original="pstn") == "trunk_groups"
    # changing a route that is not there says so, whatever the values
    assert field_of(routes.save_route, demo_db, {"name": "r", "patterns": ["8X+X"]}, "test", original="nope") == "name"
    assert count(demo_db) == before
    assert next(r for r in routes.routes(demo_db) if r.name == "national") == national


def test_bad_trunk_groups_are_refused(demo_db):
    lines.save(demo_db, lines.validate({"span": 1, "name": "E1", "signalling": "mfcr2", "framing": "cas",
                                        "mfcr2_variant": "ITU", "channels": "1-15,17-31"}), create=True)
    before = count(demo_db)
    bad = [
        ({"name": "g", "kind": "dahdi", "members": [7]}, "members"),           # no such span
        ({"name": "g", "kind": "sip", "members": ["nowhere"]}, "members"),
        ({"name": "g", "kind": "sip", "members": []}, "members"),
        ({"name": "g", "kind": "dahdi", "members": [1], "reserve": 30}, "reserve"),   # leaves nothing out
        ({"name": "g", "kind": "sip", "members": ["pstn"], "reserve": 2}, "reserve"),
        ({"name": "g", "kind": "dahdi", "members": [1], "pri_ton": "national"}, "pri_ton"),   # R2, not PRI
        ({"name": "g", "kind": "sip", "members": ["pstn"], "r2_category": "collect_call"}, "r2_category"),
        ({"name": "g", "kind": "sip", "members": ["pstn"], "prepend": "9#"}, "prepend"),
        ({"name": "g", "kind": "sip", "members": ["pstn"], "hunting": "random"}, "hunting"),
        ({"name": "pstn", "kind": "sip", "members": ["pstn"]}, "name"),        # exists
    ]
    for raw, fieldname in bad:
        assert field_of(routes.save_trunk_group, demo_db, raw, "test") == fieldname, raw
    assert count(demo_db) == before
    assert field_of(routes.delete_trunk_group, demo_db, "pstn", "test") == "name"   # used by the routes


# --- rewriting, hunting, reserve, class of service ---------------------------------

def test_rewriting_per_trunk_group():
    tg = routes.TrunkGroup
    assert routes.rewrite("+74951234567", tg("a", number_format="national_8")) == "84951234567"
    assert routes.rewrite("84951234567", tg("a", number_format="e164")) == "+74951234567"
    assert routes.rewrite("74951234567", tg("a", number_format="nsn")) == "4951234567"
    assert routes.rewrite("84951234567", tg("a", strip=1, prepend="9")) == "94951234567"
    assert routes.rewrite("00441234", tg("a", number_format="e164")) == "+441234"
    assert routes.rewrite("112", tg("a", strip=3)) == ""


def test_a_dahdi_plan_hunts_keeps_channels_for_inbound_and_sets_the_pri_prefix(demo_db):
    for span in (1, 2):
        lines.save(demo_db, lines.validate({"span": span, "name": f"E1-{span}", "signalling": "pri_cpe"}),
                   create=True)
    routes.save_trunk_group(demo_db, {"name": "e1", "kind": "dahdi", "members": [1, 2], "hunting": "descending",
                                      "reserve": 4, "pri_ton": "national", "pri_npi": "isdn",
                                      "number_format": "nsn", "caller_id": "4957000000"}, "test")
    route = next(r for r in routes.routes(demo_db) if r.name == "national")
    routes.save_route(demo_db, {**vars(route), "trunk_groups": ["e1", "pstn"]}, "test", original="national")
    plan = routes.plan(demo_db, "84951234567", "route")
    assert [t.dial for t in plan.tries] == ["DAHDI/G2/Ne4951234567", "DAHDI/G1/Ne4951234567",
                                           "PJSIP/84951234567@pstn"]
    assert plan.tries[0].caller_id == "4957000000" and plan.route == "national"
    # 60 channels, 56 in use: the 4 left are kept for inbound, the SIP group takes the call
    plan = routes.plan(demo_db, "84951234567", "route", busy=lambda span: 28)
    assert [t.trunk_group for t in plan.tries] == ["pstn"] and plan.skipped[0][0] == "e1"
    # a line carries digits only: +7... on PRI is type of number "international"
    routes.save_trunk_group(demo_db, {"name": "e1", "kind": "dahdi", "members": [1, 2], "number_format": "e164"},
                            "test", original="e1")
    assert routes.plan(demo_db, "84951234567", "route").tries[0].dial == "DAHDI/g1/I74951234567"
    # a test dial through one span
    plan = routes.plan(demo_db, "84951234567", "test", only_span=1)
    assert [t.dial for t in plan.tries] == ["DAHDI/g1/84951234567"]


def test_round_robin_turns():
    tg = routes.TrunkGroup("rr", members=["a", "b", "c"], hunting="round_robin")
    firsts = [routes._tries(tg, "84951234567", "", {}, {"a", "b", "c"}, lambda s: 0, None)[0][0].where
              for _ in range(3)]
    assert sorted(firsts) == ["a", "b", "c"]


def test_classes_of_service(demo_db):
    outbound_store.save(demo_db, {**outbound_store.DEFAULTS, "scope": "international"}, "test")
    routes.set_operator_class(demo_db, "1001", "local", "test")
    assert routes.plan(demo_db, "84951234567", "operator", operator="1001").refused == "class"
    assert routes.plan(demo_db, "2345678", "operator", operator="1001").route == "local"
    assert routes.plan(demo_db, "112", "operator", operator="1001").route == "emergency"
    routes.set_operator_class(demo_db, "1001", "internal", "test")
    assert routes.plan(demo_db, "2345678", "operator", operator="1001").refused == "class"
    assert routes.plan(demo_db, "112", "operator", operator="1001").tries
    assert routes.plan(demo_db, "+441234567890", "operator", operator="1002").refused == "class"
    assert routes.plan(demo_db, "+441234567890", "route").route == "international"   # no class for the IVR
    assert routes.plan(demo_db, "84951234567", "operator", operator="9999").refused == "no-operator"
    assert field_of(routes.set_operator_class, demo_db, "1001", "galactic", "test") == "outbound_class"


def test_the_policy_comes_first_and_a_number_without_a_route_is_refused(demo_db):
    assert routes.plan(demo_db, "88091234567", "route").refused == "denied"
    demo_db.execute("DELETE FROM outbound_routes WHERE name = 'local'")
    plan = routes.plan(demo_db, "2345678", "route")
    assert plan.refused == "no-route" and "no outbound route" in plan.message


def test_causes_in_words():
    assert causes.outcome(17) == "busy" and causes.outcome("19") == "no-answer"
    assert causes.outcome(34, "CONGESTION") == "congestion" and causes.outcome(1) == "number-invalid"
    assert causes.outcome(21) == "rejected" and causes.outcome(16, "ANSWER") == "answered"
    assert causes.outcome(16, "NOANSWER") == "no-answer" and causes.outcome("", "REFUSED") == "rejected"
    assert causes.text(17) == "user busy" and causes.text(99) == "cause 99"


def test_a_line_in_a_trunk_group_cannot_be_deleted(demo_db):
    from appliance.lines import trunks
    lines.save(demo_db, lines.validate({"span": 1, "name": "E1", "signalling": "pri_cpe"}), create=True)
    routes.save_trunk_group(demo_db, {"name": "e1", "kind": "dahdi", "members": [1]}, "test")
    assert field_of(lines.delete, demo_db, 1) == "span"
    assert field_of(trunks.delete_trunk, demo_db, "pstn") == "name"
    assert [s.span for s in lines.load_all(demo_db)] == [1] and trunks.load_all(demo_db)
    routes.delete_trunk_group(demo_db, "e1", "test")
    lines.delete(demo_db, 1)
    assert lines.load_all(demo_db) == []

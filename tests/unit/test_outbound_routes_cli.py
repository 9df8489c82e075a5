"""``korund trunk-group``, ``korund route`` and ``korund operator class``:
what they store, what ``route test`` prints, and that a refused value
leaves the store as it was (exit status 2, the field named)."""
from __future__ import annotations

import json

from appliance.lines import trunks as sip_trunks
from appliance.outbound import routes
from korund import cli


def korund(inst, *args) -> int:
    return cli.main(["-i", str(inst.base), *args])


def stored(db) -> tuple:
    return ([vars(g) for g in routes.trunk_groups(db)], [vars(r) for r in routes.routes(db)],
            db.execute("SELECT extension, outbound_class FROM operators ORDER BY extension").fetchall())


def test_add_a_trunk_group_and_a_route_and_see_the_plan(inst, demo_db, capsys):
    sip_trunks.add_sip_trunk(demo_db, "backup", "192.0.2.20", 5060)
    assert korund(inst, "trunk-group", "add", "spare", "--kind", "sip", "--members", "backup",
                  "--format", "e164", "--caller-id", "+74951110000", "--max-calls", "4") == 0
    assert "saved" in capsys.readouterr().out
    # the national route now fails over from the carrier to the spare trunk
    assert korund(inst, "route", "change", "national", "--trunk-groups", "pstn,spare",
                  "--caller-id", "4952220000") == 0
    assert korund(inst, "route", "add", "premium", "--patterns", "0[5-9]X,1[2-9]X",
                  "--trunk-groups", "spare", "--level", "international", "--max-calls", "2", "--disabled") == 0
    spare = next(g for g in routes.trunk_groups(demo_db) if g.name == "spare")
    assert (spare.kind, spare.members, spare.number_format, spare.caller_id, spare.max_calls) == (
        "sip", ["backup"], "e164", "+74951110000", 4)
    premium = next(r for r in routes.routes(demo_db) if r.name == "premium")
    assert (premium.patterns, premium.level, premium.max_calls, premium.enabled) == (
        ["0[5-9]X", "1[2-9]X"], "international", 2, False)
    capsys.readouterr()

    assert korund(inst, "route", "test", "84951234567") == 0
    out = capsys.readouterr().out
    assert "route national" in out
    assert "1. trunk group pstn: PJSIP/84951234567@pstn  sent as 84951234567, caller ID 4952220000" in out
    assert "2. trunk group spare: PJSIP/+74951234567@backup  sent as +74951234567, caller ID +74951110000" in out

    assert korund(inst, "route", "test", "+74951234567", "--json") == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["route"] == "national" and plan["dial"] == ["PJSIP/+74951234567@pstn", "PJSIP/+74951234567@backup"]

    assert korund(inst, "trunk-group", "list") == 0
    assert "spare" in capsys.readouterr().out
    assert korund(inst, "route", "list", "--json") == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == [
        "emergency", "local", "national", "international", "premium"]


def test_a_refused_number_says_why_and_exits_1(inst, demo_db, capsys):
    assert korund(inst, "route", "test", "810441234567") == 1
    assert "refused (international)" in capsys.readouterr().out
    assert korund(inst, "operator", "class", "1001", "local") == 0
    assert demo_db.execute("SELECT outbound_class FROM operators WHERE extension = '1001'").fetchone()[0] == "local"
    capsys.readouterr()
    assert korund(inst, "operator", "class", "1001") == 0
    assert "1001: class of service local" in capsys.readouterr().out
    assert korund(inst, "route", "test", "84951234567", "--purpose", "operator", "--operator", "1001") == 1
    assert "outside operator 1001's class of service (local)" in capsys.readouterr().out
    # emergency numbers whatever the class
    assert korund(inst, "route", "test", "112", "--purpose", "operator", "--operator", "1001") == 0
    assert "route emergency" in capsys.readouterr().out
    assert korund(inst, "route", "test", "84951234567", "--purpose", "operator") == 2
    assert "--operator" in capsys.readouterr().err


def test_bad_input_is_refused_with_its_field_and_nothing_changes(inst, demo_db, capsys):
    before = stored(demo_db)
    refused = [
        (("route", "add", "x", "--patterns", "8X[9-1]", "--trunk-groups", "pstn"), "patterns: '8X[9-1]'"),
        (("route", "add", "x", "--patterns", "8XXXXXXXXXX", "--trunk-groups", "pstn"),
         "patterns: routes 'national'"),
        (("route", "add", "x", "--patterns", "05X"), "trunk_groups: a route needs at least one trunk group"),
        (("route", "add", "x", "--patterns", "05X", "--trunk-groups", "nowhere"), "no trunk group named 'nowhere'"),
        (("trunk-group", "change", "pstn", "--strip", "10"), "rewrites 112 (pattern '112') to an empty number"),
        (("trunk-group", "add", "e1", "--kind", "dahdi", "--members", "1"), "members: '1' is not a span"),
        (("trunk-group", "add", "t", "--members", "nowhere"), "members: 'nowhere' is not a SIP trunk"),
        (("trunk-group", "delete", "pstn"), "is used by the routes emergency, local, national, international"),
        (("route", "change", "nowhere", "--level", "local"), "no route named 'nowhere'"),
        (("operator", "class", "1001", "galactic"), "outbound_class: one of internal, local"),
        (("operator", "class", "9999", "local"), "no operator with extension 9999"),
    ]
    for args, said in refused:
        assert korund(inst, *args) == 2, args
        assert said in capsys.readouterr().err, args
    assert stored(demo_db) == before


def test_a_route_and_a_trunk_group_are_deleted_and_renamed(inst, demo_db, capsys):
    assert korund(inst, "trunk-group", "change", "pstn", "--name", "carrier") == 0
    assert all(r.trunk_groups == ["carrier"] for r in routes.routes(demo_db))
    assert korund(inst, "route", "change", "international", "--name", "abroad") == 0
    assert korund(inst, "route", "delete", "abroad") == 0
    assert [r.name for r in routes.routes(demo_db)] == ["emergency", "local", "national"]
    assert korund(inst, "route", "test", "810441234567", "--purpose", "test") == 1
    for name in ("emergency", "local", "national"):
        assert korund(inst, "route", "delete", name) == 0
    assert korund(inst, "trunk-group", "delete", "carrier") == 0
    assert routes.trunk_groups(demo_db) == [] and routes.routes(demo_db) == []

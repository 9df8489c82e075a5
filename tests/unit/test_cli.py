import io

from korund import cli
from appliance.users import store as users


def test_user_add_reads_the_password_from_stdin_and_refuses_weak_ones(inst, db, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("weak\n"))
    assert cli.main(["-i", str(inst.base), "user", "add", "boss", "--role", "admin"]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("Strong-Enough-9\n"))
    assert cli.main(["-i", str(inst.base), "user", "add", "boss", "--role", "admin"]) == 0
    assert users.authenticate(db, "boss", "Strong-Enough-9").role == "admin"
    assert db.execute("SELECT action FROM audit").fetchone()[0] == "user added"


def test_calls_on_an_empty_history(inst, db, capsys):
    assert cli.main(["-i", str(inst.base), "calls"]) == 0
    assert "ANI" in capsys.readouterr().out


def test_scenario_import_publish_bind_and_simulate(inst, db, tmp_path, capsys):
    import json
    from devtools import demo
    demo.seed(db)
    graph = {"start": "m", "nodes": {
        "m": {"type": "menu", "prompts": ["welcome"], "options": {"1": "r"}, "next": {"fail": "r"}},
        "r": {"type": "route", "to": "group", "group": "support"}}}
    f = tmp_path / "g.json"
    f.write_text(json.dumps(graph))
    base = ["-i", str(inst.base), "scenario"]
    assert cli.main(base + ["import", "main", str(f)]) == 0
    # The prompt does not exist in this instance yet: publishing is refused, naming the node.
    assert cli.main(base + ["publish", "main"]) == 2
    assert "m: prompt 'welcome' does not exist" in capsys.readouterr().err
    (inst.sounds / "ru").mkdir(parents=True, exist_ok=True)
    (inst.sounds / "ru" / "welcome.wav").write_bytes(b"RIFF")
    assert cli.main(base + ["publish", "main"]) == 0
    assert cli.main(base + ["bind", "main", "--dnis", "100"]) == 0
    capsys.readouterr()
    assert cli.main(base + ["simulate", "main", "--keys", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["events"][-1] == {"route": "group", "target": "support", "priority": 0}


def test_trunk_points_the_trunk_at_the_carrier_and_applies(inst, demo_db, capsys):
    assert cli.main(["-i", str(inst.base), "trunk", "pstn", "127.0.0.9:5070"]) == 0
    assert "configuration" in capsys.readouterr().out
    assert demo_db.execute("SELECT host, port FROM trunks WHERE name = 'pstn'").fetchone() == ("127.0.0.9", 5070)
    # a refused value reaches main's wrapper: exit status 2, nothing applied
    assert cli.main(["-i", str(inst.base), "trunk", "nowhere", "127.0.0.9"]) == 2
    assert "no SIP trunk named 'nowhere'" in capsys.readouterr().err

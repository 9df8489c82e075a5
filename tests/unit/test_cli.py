import io

from appliance import cli, users


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

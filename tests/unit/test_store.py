from appliance.base import migrations
from appliance.base import store


def test_store_is_wal_with_busy_timeout_and_records_migrations(inst):
    db = store.open_store(inst.db_path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == store.BUSY_TIMEOUT_MS
    names = [r[0] for r in db.execute("SELECT name FROM migrations ORDER BY name")]
    assert names == [m.__name__ for m in migrations.MIGRATIONS]
    assert {"settings", "trunks", "operators", "groups", "group_members", "calls"} <= set(db.table_names())


def test_migrations_run_once(inst):
    db = store.open_store(inst.db_path)
    assert migrations.apply(db) == []
    db.close()
    db = store.open_store(inst.db_path)
    assert db.execute("SELECT COUNT(*) FROM migrations").fetchone()[0] == len(migrations.MIGRATIONS)


def test_a_failing_migration_leaves_nothing_behind(inst, monkeypatch):
    db = store.open_store(inst.db_path)

    def m999_broken(d):
        d.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("boom")

    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS + [m999_broken])
    try:
        migrations.apply(db)
    except RuntimeError:
        pass
    assert "half_done" not in db.table_names()
    assert not db.execute("SELECT 1 FROM migrations WHERE name = 'm999_broken'").fetchone()


def test_settings_round_trip(db):
    store.set_setting(db, "x.y", 5)
    store.set_setting(db, "x.y", 6)
    assert store.get_setting(db, "x.y") == "6"
    assert store.get_setting(db, "missing", "d") == "d"


def test_initialise_generates_a_strong_ami_secret_once(db):
    from appliance.base import instance
    secret = store.get_setting(db, "ami.secret")
    assert len(secret) >= 24
    instance.initialise(db)
    assert store.get_setting(db, "ami.secret") == secret


def test_password_hashes_are_read_both_ways_with_the_panel_s_former_format():
    """Hashes written before (werkzeug's scrypt form) still log in, and ours
    are in that same form."""
    from werkzeug.security import check_password_hash, generate_password_hash

    from appliance.users import passwords
    old = generate_password_hash("Correct-Horse-42")
    assert passwords.matches(old, "Correct-Horse-42") and not passwords.matches(old, "correct-horse-42")
    ours = passwords.make("Пароль-42")
    assert ours.startswith("scrypt:32768:8:1$")
    assert check_password_hash(ours, "Пароль-42") and passwords.matches(ours, "Пароль-42")
    assert not passwords.matches("garbage", "x") and not passwords.matches("pbkdf2:sha256$a$b", "x")


def test_an_instance_on_the_first_rtp_range_is_widened_for_eight_spans_and_a_chosen_range_kept(inst):
    for chosen, widened in ((("10000", "10999"), ("10000", "19999")), (("20000", "20999"), ("20000", "20999"))):
        db = store.open_store(inst.db_path)
        store.set_setting(db, "rtp.start", chosen[0])
        store.set_setting(db, "rtp.end", chosen[1])
        db.execute("DELETE FROM migrations WHERE name = 'm026_rtp_range_for_eight_spans'")
        db.conn.commit()
        assert migrations.apply(db) == ["m026_rtp_range_for_eight_spans"]
        assert (store.settings(db)["rtp.start"], store.settings(db)["rtp.end"]) == widened
        db.close()

"""Recording policies, the index's crash recovery, retention and the disk
guard (appliance.recordings.store), with real files in a temporary instance, a
fixed clock and a fake free-space function."""
from __future__ import annotations

import os
import random
import struct
import time
import wave
from array import array
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from appliance.recordings import store as recordings
from appliance.base.errors import ConfigError
from appliance.recordings import render as render_recording
from appliance.render import config as render_config

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=timezone.utc)


def write_wav(path: Path, seconds: float = 2.0, freq: float = 440, channels: int = 1) -> Path:
    import math
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(8000 * seconds)
    mono = array("h", (int(8000 * math.sin(2 * math.pi * freq * i / 8000)) for i in range(n)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(8000)
        data = array("h")
        for x in mono:
            data.extend([x] * channels)
        w.writeframes(data.tobytes())
    return path


def crash(path: Path) -> None:
    """What a killed Asterisk leaves: the header's sizes never updated."""
    with open(path, "r+b") as f:
        f.seek(4)
        f.write(struct.pack("<I", 36))
        f.seek(40)
        f.write(struct.pack("<I", 0))


def old(path: Path, seconds: float = 60) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def folder(inst, when: datetime = NOW) -> Path:
    return recordings.recordings_dir(inst) / recordings.day_folder(when)


def add(db, inst, name: str, started: datetime, policy: str = "default", held: bool = False,
        seconds: float = 1.0) -> dict:
    path = write_wav(folder(inst, started) / f"{name}-1.wav", seconds)
    rid = recordings.started(db, inst, path, linkedid=name, policy=policy, at=started)
    rec = recordings.finalise(db, inst, recordings.get(db, rid), started)
    if held:
        recordings.set_legal_hold(db, rid, True, "lawyer")
    return recordings.get(db, rid)


# --- policies ---------------------------------------------------------------

def test_the_most_specific_policy_wins(demo_db):
    recordings.set_policy(demo_db, "t", "group", "support", "sampled", 30)
    recordings.set_policy(demo_db, "t", "number", "100", "demand")
    recordings.set_policy(demo_db, "t", "callbacks", "", "none")
    plist = recordings.policies(demo_db)
    assert recordings.choose_policy(plist, "100", "support")["key"] == "number:100"
    assert recordings.choose_policy(plist, "200", "support")["key"] == "group:support"
    assert recordings.choose_policy(plist, "200", "sales")["key"] == "default"
    assert recordings.choose_policy(plist, "", "")["key"] == "default"
    assert recordings.choose_policy(plist, "100", "support", outbound=True)["key"] == "callbacks"
    recordings.delete_policy(demo_db, "t", "callbacks")
    plist = recordings.policies(demo_db)
    assert recordings.choose_policy(plist, "100", "support", outbound=True)["key"] == "default"


def test_sampling_draws_per_call_and_demand_or_none_never_record_on_answer():
    sampled = {"mode": "sampled", "sample_percent": 25}
    rng = random.Random(7)
    share = sum(recordings.decide(sampled, rng.randint) for _ in range(4000)) / 4000
    assert 0.22 < share < 0.28
    assert recordings.decide(sampled, lambda a, b: 25) and not recordings.decide(sampled, lambda a, b: 26)
    assert not recordings.decide({"mode": "sampled", "sample_percent": 0}, lambda a, b: 1)
    assert recordings.decide({"mode": "all", "sample_percent": 0})
    assert not recordings.decide({"mode": "demand", "sample_percent": 100})
    assert not recordings.decide({"mode": "none", "sample_percent": 100})


@pytest.mark.parametrize("args, field", [
    (("weekly", "", "all"), "scope"),
    (("group", "nosuch", "all"), "target"),
    (("number", "100;Dial(x)", "all"), "target"),
    (("number", "1\n00", "all"), "target"),
    (("group", "support", "always"), "mode"),
    (("group", "support", "sampled", 101), "sample_percent"),
    (("group", "support", "sampled", "x"), "sample_percent"),
    (("group", "support", "all", 100, False, -3), "retention_days"),
])
def test_bad_policies_are_refused_and_nothing_is_saved(demo_db, args, field):
    before = recordings.policies(demo_db)
    with pytest.raises(ConfigError) as exc:
        recordings.set_policy(demo_db, "t", *args)
    assert exc.value.field == field
    assert recordings.policies(demo_db) == before


def test_the_default_policy_cannot_be_deleted(demo_db):
    with pytest.raises(ConfigError):
        recordings.delete_policy(demo_db, "t", "default")


def test_policies_are_rendered_into_the_dialplan(demo_db, inst):
    recordings.set_policy(demo_db, "admin", "group", "support", "sampled", 40, True, 30)
    recordings.set_policy(demo_db, "admin", "number", "+7495#", "none")
    text = render_recording.render(render_config.load(demo_db), inst)
    assert "exten => group-support,1,Set(KORUND_REC_MODE=sampled)" in text
    assert "Set(KORUND_REC_PERCENT=40)" in text and "Set(KORUND_REC_2CH=1)" in text
    assert "exten => number-+7495#,1,Set(KORUND_REC_MODE=none)" in text
    assert "exten => default,1,Set(KORUND_REC_MODE=all)" in text
    assert str(recordings.recordings_dir(inst)) in text
    rows = demo_db.execute("SELECT action FROM audit WHERE action = 'recording policy set'").fetchall()
    assert len(rows) == 2


# --- WAV files and the index -------------------------------------------------------

def test_a_crashed_file_gets_its_header_fixed_and_is_indexed_good(db, inst):
    path = write_wav(folder(inst) / "1700000000.5-1.wav", seconds=3)
    crash(path)
    assert recordings.inspect_wav(path)[2] == "no audio"
    old(path)
    done = recordings.sweep(db, inst, live=set(), now=NOW)
    assert len(done["indexed"]) == 1 and done["finalised"] == done["indexed"]
    rec = recordings.get(db, done["indexed"][0])
    assert rec["status"] == "good" and abs(rec["duration"] - 3) < 0.01
    assert rec["linkedid"] == "1700000000.5" and rec["size"] == path.stat().st_size
    assert rec["sha256"] == recordings.sha256_of(path)
    assert recordings.sweep(db, inst, live=set(), now=NOW) == {"indexed": [], "finalised": []}


@pytest.mark.parametrize("content, problem", [
    (b"", "empty"),
    (b"RIFF" + b"\0" * 40, "empty"),            # a header and nothing else
    (os.urandom(4000), "unreadable"),           # no RIFF header at all
])
def test_broken_files_are_indexed_as_broken_never_good(db, inst, content, problem):
    path = folder(inst) / "1700000000.6-1.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    old(path)
    done = recordings.sweep(db, inst, live=set(), now=NOW)
    rec = recordings.get(db, done["indexed"][0])
    assert rec["status"] == "broken" and rec["problem"].startswith(problem), rec


def test_a_file_still_being_recorded_waits_until_its_call_is_gone(db, inst):
    path = write_wav(folder(inst) / "1700000000.7-1.wav")
    old(path)
    rid = recordings.started(db, inst, path, linkedid="1700000000.7", uniqueid="1700000000.8",
                             channel="PJSIP/1001-00000001", operator="1001", at=NOW)
    assert recordings.sweep(db, inst, live={"PJSIP/1001-00000001", "1700000000.8"}, now=NOW)["finalised"] == []
    assert recordings.get(db, rid)["status"] == "recording"
    # Asterisk unreachable: a file that still grows is left alone ...
    os.utime(path, None)
    assert recordings.sweep(db, inst, live=None, now=NOW)["finalised"] == []
    # ... its done marker (MixMonitor closed it) finalises it at once
    Path(f"{path.with_suffix('')}.done").touch()
    assert recordings.sweep(db, inst, live={"1700000000.8"}, now=NOW)["finalised"] == [rid]
    assert recordings.get(db, rid)["status"] == "good"
    assert not Path(f"{path.with_suffix('')}.done").exists()


def test_a_recording_that_never_got_a_frame_leaves_no_row(db, inst):
    """The callback dialer records only while bridged: a client who never
    answers leaves MixMonitor's done marker and no file."""
    base = folder(inst) / "1700000000.4-1"
    base.parent.mkdir(parents=True, exist_ok=True)
    rid = recordings.started(db, inst, Path(f"{base}.wav"), linkedid="1700000000.4", at=NOW)
    Path(f"{base}.done").touch()
    recordings.sweep(db, inst, live=set(), now=NOW)
    assert recordings.get(db, rid) is None and not Path(f"{base}.done").exists()


def test_two_channel_legs_are_merged_caller_left_operator_right(db, inst):
    base = folder(inst) / "1700000000.9-1"
    caller = write_wav(Path(f"{base}-caller.wav"), 2, 450)
    operator = write_wav(Path(f"{base}-operator.wav"), 1.5, 1300)
    crash(operator)
    old(caller), old(operator)
    done = recordings.sweep(db, inst, live=set(), now=NOW)
    rec = recordings.get(db, done["indexed"][0])
    assert rec["status"] == "good" and rec["channels"] == 2 and abs(rec["duration"] - 2) < 0.01
    final = Path(f"{base}.wav")
    assert final.exists() and not caller.exists() and not operator.exists()
    with wave.open(str(final), "rb") as w:
        data = array("h", w.readframes(w.getnframes()))
    from tests import audio
    left, right = data[0::2], data[1::2]
    assert audio.tone_seconds(left, 450) > 1.5 and audio.tone_seconds(right, 1300) > 1.0
    assert audio.tone_seconds(left, 1300) == 0 and audio.tone_seconds(right, 450) == 0


def test_a_path_outside_the_archive_is_refused(inst):
    with pytest.raises(ValueError):
        recordings.file_of(inst, {"path": "../korund.db"})


# --- retention, legal hold, disk guard ------------------------------------------------

def test_retention_deletes_expired_recordings_per_policy_and_never_held_ones(demo_db, inst):
    db = demo_db
    recordings.set_policy(db, "admin", "default", "", "all", retention_days=30)
    recordings.set_policy(db, "admin", "group", "support", "all", retention_days=365)
    expired = add(db, inst, "1700000001.1", NOW - timedelta(days=31))
    held = add(db, inst, "1700000001.2", NOW - timedelta(days=40), held=True)
    young = add(db, inst, "1700000001.3", NOW - timedelta(days=29))
    support = add(db, inst, "1700000001.4", NOW - timedelta(days=100), policy="group:support")
    assert [r["id"] for r in recordings.retention(db, inst, NOW, dry_run=True)] == [expired["id"]]
    assert recordings.file_of(inst, expired).exists()          # a dry run deletes nothing
    gone = recordings.retention(db, inst, NOW)
    assert [r["id"] for r in gone] == [expired["id"]]
    rec = recordings.get(db, expired["id"])
    assert rec["status"] == "deleted" and rec["delete_reason"] == "retention" and rec["deleted_at"]
    assert not recordings.file_of(inst, expired).exists()
    for keep in (held, young, support):
        assert recordings.get(db, keep["id"])["status"] == "good"
        assert recordings.file_of(inst, keep).exists()
    audit = db.execute("SELECT action, target FROM audit WHERE action = 'recording deleted'").fetchall()
    assert audit == [("recording deleted", str(expired["id"]))]
    # a year on, only the held one stays
    recordings.retention(db, inst, NOW + timedelta(days=400))
    left = db.execute("SELECT id FROM recordings WHERE status != 'deleted'").fetchall()
    assert left == [(held["id"],)]


def test_legal_hold_is_audited_and_blocks_deletion(db, inst):
    rec = add(db, inst, "1700000002.1", NOW, held=True)
    with pytest.raises(ConfigError):
        recordings.delete(db, inst, rec, "by hand", "admin")
    recordings.set_legal_hold(db, rec["id"], False, "lawyer")
    actions = [r[0] for r in db.execute("SELECT action FROM audit ORDER BY id")]
    assert actions == ["recording legal hold on", "recording legal hold off"]


def fake_disk(inst, total: int):
    """Free space = total - what the recordings folder holds."""
    def free(_path):
        used = sum(p.stat().st_size for p in recordings.recordings_dir(inst).rglob("*") if p.is_file())
        return total - used, total
    return free


def test_disk_guard_warns_then_deletes_oldest_unheld_until_above_the_floor(db, inst):
    recs = [add(db, inst, f"1700000003.{i}", NOW - timedelta(days=10 - i), held=(i == 0), seconds=1)
            for i in range(5)]
    size = recs[0]["size"]                     # ~16 KB each
    recordings.set_guard(db, "admin", 30, 20)
    # 5 files in a disk of 6.5 files: 23 % free -> a warning, nothing deleted
    free = fake_disk(inst, int(size * 6.5))
    result = recordings.disk_guard(db, inst, free, NOW)
    assert result["warning"] and result["deleted"] == []
    alarms = db.execute("SELECT source, kind, severity FROM health_alarms WHERE cleared_at IS NULL").fetchall()
    assert alarms == [("recordings", "disk_low", "warning")]
    # in a disk of 5.5 files: 9 % free -> delete oldest not held until >= 20 %
    free = fake_disk(inst, int(size * 5.5))
    result = recordings.disk_guard(db, inst, free, NOW)
    assert [r["id"] for r in result["deleted"]] == [recs[1]["id"]]
    assert recordings.get(db, recs[0]["id"])["status"] == "good"          # held, though oldest
    assert recordings.get(db, recs[1]["id"])["delete_reason"] == "disk guard"
    assert result["warning"]                                              # 27 % < 30 %
    # space is back: the alarm clears
    free = fake_disk(inst, size * 100)
    assert not recordings.disk_guard(db, inst, free, NOW)["warning"]
    assert db.execute("SELECT COUNT(*) FROM health_alarms WHERE cleared_at IS NULL").fetchone()[0] == 0


def test_disk_guard_settings_are_checked(db):
    with pytest.raises(ConfigError) as exc:
        recordings.set_guard(db, "admin", 10, 10)
    assert exc.value.field == "delete_free_percent"
    with pytest.raises(ConfigError):
        recordings.set_guard(db, "admin", "lots", 5)
    assert recordings.guard_settings(db) == {"warn_free_percent": 15, "delete_free_percent": 5}


def test_health_sweeps_leave_the_recordings_alarm_alone(db, inst):
    from appliance.health import store as health
    recordings.disk_guard(db, inst, lambda _p: (1, 100), NOW)
    health._reconcile(db, {}, "2027-03-10T12:00:00+00:00", True)
    assert db.execute("SELECT COUNT(*) FROM health_alarms WHERE cleared_at IS NULL").fetchone()[0] == 1

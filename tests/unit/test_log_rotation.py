"""Rotation of the CDR/CEL logs (appliance/history/log_rotation.py) and the
catch-up reading across it: no call lost or applied twice, whatever the
order of rotation, late writes and reads."""
from __future__ import annotations

import gzip
import os
import re
import time
from pathlib import Path

import pytest

from appliance.history import legs as call_legs
from appliance.history import log_rotation
from appliance.base import store
from appliance.history.store import CDR_OFFSET
from appliance.history.store import CEL_OFFSET
from appliance.history.store import CEL_SEEN
from appliance.history.store import CallHistory
from appliance.base.errors import ConfigError

from .test_history import cdr_line
from appliance.render import config as render_config

DATA = Path(__file__).parent / "data"
CEL_CALL = (DATA / "history_ivr_queue_call.cel.csv").read_text().splitlines(keepends=True)
CDR_CALL = (DATA / "history_ivr_queue_call.cdr.csv").read_bytes()


def call(n: int) -> str:
    """The CDR line of an inbound call answered by 1001 (ANI 49500000<n>)."""
    uid = f"17000{n:05d}.1"
    start = 1700000000 + n * 100
    return cdr_line(uid, uid, f"49500000{n:02d}", "q-support", f"PJSIP/pstn-{n:08x}", f"PJSIP/1001-{n + 1:08x}",
                    f"{start}.0", f"{start + 5}.0", f"{start + 30}.0", "ANSWERED", "korund-route",
                    "100", "support", "agi") + "\n"


def append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(text)


def settle(path: Path) -> None:
    """Make a rotated file look untouched for longer than SETTLE_SECONDS."""
    old = time.time() - log_rotation.SETTLE_SECONDS - 1
    os.utime(path, (old, old))


def anis(db) -> list[str]:
    return [r[0] for r in db.execute("SELECT ani FROM calls ORDER BY ani")]


def rotate(db, inst) -> dict:
    report = log_rotation.housekeeping(db, inst, force=True)
    for path in report["rotated"]:
        settle(Path(path))
    return report


def test_the_catch_up_finishes_the_rotated_file_then_reads_the_new_one(demo_db, inst):
    h = CallHistory(demo_db)
    append(inst.cdr_log, call(1))
    assert h.catch_up(inst.cdr_log) == 1
    # calls 2 and 3 end, the log is rotated before the catch-up reads them,
    # call 4 goes to the new file Asterisk creates
    append(inst.cdr_log, call(2) + call(3))
    rotated = Path(rotate(demo_db, inst)["rotated"][0])
    assert rotated.parent == inst.cdr_log.parent and not inst.cdr_log.exists()
    assert rotated.name.startswith("korund-cdr.") and rotated.suffix == ".csv"
    append(inst.cdr_log, call(4))
    assert h.catch_up(inst.cdr_log) == 3
    assert anis(demo_db) == [f"49500000{n:02d}" for n in (1, 2, 3, 4)]
    assert h.catch_up(inst.cdr_log) == 0
    # read past: compressed next round, whole
    report = log_rotation.housekeeping(demo_db, inst)
    assert report["compressed"] == [f"{rotated}.gz"] and not rotated.exists()
    assert gzip.decompress(Path(f"{rotated}.gz").read_bytes()).decode() == call(1) + call(2) + call(3)
    append(inst.cdr_log, call(5))
    assert h.catch_up(inst.cdr_log) == 1
    assert len(anis(demo_db)) == 5


def test_a_rotated_file_is_not_compressed_before_the_catch_up_has_read_it(demo_db, inst):
    h = CallHistory(demo_db)
    append(inst.cdr_log, call(1))
    h.catch_up(inst.cdr_log)
    append(inst.cdr_log, call(2))            # the events service is down from here
    rotated = Path(rotate(demo_db, inst)["rotated"][0])
    append(inst.cdr_log, call(3))
    for _ in range(2):
        report = log_rotation.housekeeping(demo_db, inst)
        assert report["compressed"] == [] and rotated.exists()
    assert h.catch_up(inst.cdr_log) == 2    # back up
    assert log_rotation.housekeeping(demo_db, inst)["compressed"] == [f"{rotated}.gz"]


def test_a_record_written_into_the_file_just_rotated_is_still_read(demo_db, inst):
    h = CallHistory(demo_db)
    append(inst.cdr_log, call(1))
    rotated = Path(log_rotation.housekeeping(demo_db, inst, force=True)["rotated"][0])
    append(inst.cdr_log, call(3))
    assert h.catch_up(inst.cdr_log) == 1        # the rotated file is not settled: the catch-up waits there
    append(rotated, call(2))                     # Asterisk finishes a record it began before the rename
    assert log_rotation.housekeeping(demo_db, inst)["compressed"] == []
    settle(rotated)
    assert h.catch_up(inst.cdr_log) == 2
    assert len(anis(demo_db)) == 3
    assert log_rotation.housekeeping(demo_db, inst)["compressed"] == [f"{rotated}.gz"]


def test_several_rotations_while_the_events_service_was_down(demo_db, inst):
    h = CallHistory(demo_db)
    append(inst.cdr_log, call(1))
    h.catch_up(inst.cdr_log)
    for n in (2, 3, 4):
        append(inst.cdr_log, call(n))
        rotate(demo_db, inst)
    assert len(log_rotation.rotated_files(inst.cdr_log)) == 3
    assert h.catch_up(inst.cdr_log) == 3
    assert not inst.cdr_log.exists()
    append(inst.cdr_log, call(5))                # then Asterisk creates the file again
    assert h.catch_up(inst.cdr_log) == 1
    assert len(anis(demo_db)) == 5
    log_rotation.housekeeping(demo_db, inst)
    assert [p.name.endswith(".csv.gz") for p in log_rotation.rotated_files(inst.cdr_log)] == [True] * 3


def test_a_position_stored_before_rotation_existed_is_kept(demo_db, inst):
    h = CallHistory(demo_db)
    append(inst.cdr_log, call(1) + call(2))
    store.set_setting(demo_db, CDR_OFFSET, str(len(call(1))))   # the old form: a bare offset
    assert h.catch_up(inst.cdr_log) == 1
    assert anis(demo_db) == ["4950000002"]
    ino = inst.cdr_log.stat().st_ino
    assert store.get_setting(demo_db, CDR_OFFSET) == f"{ino}:{len(call(1) + call(2))}"


def test_a_torn_last_line_of_a_settled_rotated_file_does_not_block_the_rest(demo_db, inst):
    h = CallHistory(demo_db)
    append(inst.cdr_log, call(1) + call(2)[:30])   # a crash mid-record
    rotate(demo_db, inst)
    append(inst.cdr_log, call(3))
    assert h.catch_up(inst.cdr_log) == 2
    assert anis(demo_db) == ["4950000001", "4950000003"]
    assert store.get_setting(demo_db, CDR_OFFSET).startswith(f"{inst.cdr_log.stat().st_ino}:")


def test_a_call_whose_channel_events_span_a_rotation_is_rebuilt_whole(demo_db, inst):
    h = CallHistory(demo_db)
    cut = len(CEL_CALL) // 2
    append(inst.cel_log, "".join(CEL_CALL[:cut]))
    assert h.catch_up_cel(inst.cel_log) == 0           # still up: the position stays at its first line
    rotated = Path(rotate(demo_db, inst)["rotated"][0])
    append(inst.cel_log, "".join(CEL_CALL[cut:]))
    assert log_rotation.housekeeping(demo_db, inst)["compressed"] == []   # its first lines are needed
    assert h.catch_up_cel(inst.cel_log) == 1
    linkedid = next(l.split(",")[9].strip('"') for l in CEL_CALL if l.startswith('"LINKEDID_END"'))
    assert [l["kind"] for l in call_legs.legs(demo_db, linkedid)] == \
        ["trunk", "ivr", "queue", "offer", "offer", "operator", "hangup"]
    assert h.catch_up_cel(inst.cel_log) == 0           # not again
    assert log_rotation.housekeeping(demo_db, inst)["compressed"] == [f"{rotated}.gz"]
    ino = inst.cel_log.stat().st_ino
    assert store.get_setting(demo_db, CEL_OFFSET) == store.get_setting(demo_db, CEL_SEEN) == \
        f"{ino}:{inst.cel_log.stat().st_size}"


def test_a_call_ended_in_a_part_read_before_is_not_applied_again_after_rotation(demo_db, inst):
    """A long call keeps the CEL position in the rotated file; a call that
    ended there was applied once and stays so when the long call ends in
    the new file."""
    long_call = ('"CHAN_START","1795675700.000001","4950000000","100","korund-inbound",'
                 '"PJSIP/pstn-000000ff","","","1795675700.9","1795675700.9","",""\n')
    h = CallHistory(demo_db)
    append(inst.cel_log, long_call + "".join(CEL_CALL))
    assert h.catch_up_cel(inst.cel_log) == 1
    rotate(demo_db, inst)
    assert h.catch_up_cel(inst.cel_log) == 0
    append(inst.cel_log, long_call.replace("CHAN_START", "LINKEDID_END").replace("700.000001", "800.5"))
    assert h.catch_up_cel(inst.cel_log) == 1     # the long call only
    assert h.catch_up_cel(inst.cel_log) == 0


def test_old_rotated_files_are_pruned_but_never_unread_ones(demo_db, inst):
    h = CallHistory(demo_db)
    store.set_setting(demo_db, "logs.keep_files", "2")
    for n in range(1, 5):
        append(inst.cdr_log, call(n))
        rotate(demo_db, inst)   # (within a second: the names get -1, -2 ...)
    append(inst.cdr_log, call(9))
    h.catch_up(inst.cdr_log)
    report = log_rotation.housekeeping(demo_db, inst)
    assert len(report["compressed"]) == 4 and len(report["removed"]) == 2
    assert [p.name[-7:] for p in log_rotation.rotated_files(inst.cdr_log)] == [".csv.gz"] * 2
    # unread ones stay beyond the count ...
    h.catch_up(inst.cdr_log)
    for n in (10, 11, 12):
        append(inst.cdr_log, call(n))
        rotate(demo_db, inst)
    log_rotation.housekeeping(demo_db, inst)
    files = log_rotation.rotated_files(inst.cdr_log)
    assert [p.suffix for p in files] == [".csv"] * 3
    # ... and go only when older than logs.keep_days
    later = time.time() + 91 * 86400
    report = log_rotation.housekeeping(demo_db, inst, now=later)
    assert sorted(report["removed"]) == sorted(str(p) for p in files)
    assert h.catch_up(inst.cdr_log) == 0


def test_logs_are_rotated_when_big_or_old(demo_db, inst):
    store.set_setting(demo_db, "logs.rotate_mb", "1")
    append(inst.cdr_log, call(1))
    now = time.time()
    assert log_rotation.housekeeping(demo_db, inst, now=now)["rotated"] == []   # small, just seen
    assert log_rotation.housekeeping(demo_db, inst, now=now + 23 * 3600)["rotated"] == []
    assert len(log_rotation.housekeeping(demo_db, inst, now=now + 24 * 3600)["rotated"]) == 1
    append(inst.cdr_log, call(2) * (1024 * 1024 // len(call(2)) + 1))
    assert len(log_rotation.housekeeping(demo_db, inst, now=now + 24 * 3600 + 60)["rotated"]) == 1
    # an empty or missing log is never rotated
    assert log_rotation.housekeeping(demo_db, inst, force=True, now=now + 48 * 3600)["rotated"] == []


def test_asterisk_logger_files_are_rotated_by_asterisk_then_compressed(demo_db, inst):
    append(inst.log / "messages.log", "x\n")
    sent = []

    class Mgr:
        def command(self, cli):
            sent.append(cli)

            class R:
                response = ["Response: Success\r\n"]
            # what Asterisk does with rotatestrategy = timestamp
            os.rename(inst.log / "messages.log", inst.log / f"messages.log.{int(time.time())}")
            return R()

    report = log_rotation.housekeeping(demo_db, inst, Mgr(), force=True)
    assert sent == ["logger rotate"] and report["rotated"] == ["logger rotate"]
    rotated = next(inst.log.glob("messages.log.*"))
    settle(rotated)
    report = log_rotation.housekeeping(demo_db, inst)
    assert report["compressed"] == [f"{rotated}.gz"]
    assert gzip.decompress(Path(f"{rotated}.gz").read_bytes()) == b"x\n"
    # without Asterisk: nothing is renamed, and it says so
    append(inst.log / "messages.log", "y\n")
    report = log_rotation.housekeeping(demo_db, inst, None, force=True)
    assert report["skipped"] and (inst.log / "messages.log").read_text() == "y\n"


def test_settings_are_checked(demo_db):
    log_rotation.set_setting(demo_db, "logs.keep_files", "5")
    assert log_rotation.setting(demo_db, "logs.keep_files") == 5
    with pytest.raises(ConfigError):
        log_rotation.set_setting(demo_db, "logs.keep_files", "0")
    with pytest.raises(ConfigError):
        log_rotation.set_setting(demo_db, "logs.keep_files", "many")
    with pytest.raises(ConfigError):
        log_rotation.set_setting(demo_db, "logs.nothing", "5")
    assert log_rotation.setting(demo_db, "logs.keep_files") == 5


def test_after_a_long_outage_the_files_are_read_a_few_at_a_time(demo_db, inst):
    for n in (1, 2, 3):
        append(inst.cdr_log, call(n))
        rotate(demo_db, inst)
    append(inst.cdr_log, call(4))
    pos, seen = None, []
    for _ in range(4):
        chunk = log_rotation.read_from(inst.cdr_log, pos, max_bytes=1)   # one file per round
        seen.append(chunk.data.decode())
        pos = chunk.position(len(chunk.data))
    assert seen == [call(1), call(2), call(3), call(4)]
    assert pos == f"{inst.cdr_log.stat().st_ino}:{len(call(4))}"
    assert log_rotation.read_from(inst.cdr_log, pos).data == b""


def test_the_logs_command(demo_db, inst, capsys):
    from korund import cli
    append(inst.cdr_log, call(1))
    assert cli.main(["-i", str(inst.base), "logs", "status", "--set", "logs.keep_days=365"]) == 0
    out = capsys.readouterr().out
    assert "logs.keep_days = 365" in out and re.search(r"korund-cdr.csv +1 file", out)
    assert cli.main(["-i", str(inst.base), "logs", "status", "--set", "logs.keep_days=0"]) != 0
    assert "between 1 and 3650" in capsys.readouterr().err
    assert log_rotation.setting(demo_db, "logs.keep_days") == 365
    assert cli.main(["-i", str(inst.base), "logs", "rotate", "--force"]) == 0
    out = capsys.readouterr().out
    assert "rotated: " in out and "korund-cdr." in out
    append(inst.log / "queue_log", "x\n")    # Asterisk is not running: it waits
    assert cli.main(["-i", str(inst.base), "logs", "rotate", "--force"]) == 0
    assert "skipped: logger rotate: Asterisk is not reachable" in capsys.readouterr().out
    assert len(log_rotation.rotated_files(inst.cdr_log)) == 1


def test_asterisk_and_supervisord_are_configured_to_rotate(demo_db, inst):
    import configparser
    from appliance.base import supervisor
    from appliance.render import core
    logger = configparser.ConfigParser(strict=False)
    logger.read_string(core.render(render_config.load(demo_db), inst)["logger.conf"])
    assert logger["general"]["rotatestrategy"] == "timestamp"
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(supervisor.render(inst))
    assert conf["supervisord"]["logfile_maxbytes"] and conf["supervisord"]["logfile_backups"]
    programs = [s for s in conf.sections() if s.startswith("program:")]
    assert programs and all(conf[s]["stdout_logfile_maxbytes"] and int(conf[s]["stdout_logfile_backups"]) > 0
                            for s in programs)

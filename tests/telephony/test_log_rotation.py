"""Log rotation on real Asterisk (appliance/history/log_rotation.py): the CDR and CEL
logs are rotated while the events service is down and a call is up; every
call is still in the history exactly once, with its legs, and the rotated
files end up compressed. messages.log and queue_log are rotated by Asterisk
itself ('logger rotate')."""
from __future__ import annotations

import gzip
import json
import re
import time

from tests.harness import korund, wait_for

FULL = ["trunk", "ivr", "queue", "offer", "operator", "hangup"]


def legs_of(appliance, linkedid: str) -> list[str]:
    out = korund(appliance, "calls", "--legs", linkedid, "--json").stdout
    return [l["kind"] for l in json.loads(out)["legs"] if l["kind"] not in ("note", "recording")]


def rows_for(appliance, ani: str) -> list[dict]:
    return [r for r in appliance.calls() if r["ani"] == ani]


def rotated(path, suffix: str) -> list:
    """The rotated files of the CDR/CEL log *path* ending in *suffix*."""
    pattern = re.compile(rf"^{re.escape(path.stem)}\.\d{{8}}-\d{{6}}(-\d+)?{re.escape(path.suffix)}{re.escape(suffix)}$")
    return sorted(p for p in path.parent.iterdir() if pattern.match(p.name))


def test_calls_across_a_rotation_while_the_events_service_is_down(appliance, carrier):
    inst = appliance.inst   # the instance as seen from the host
    # a call the events service sees live
    live = carrier.call(ani="4956200001", hold=9)
    live.answered_by_phone()
    live.ended()
    wait_for(lambda: [r for r in rows_for(appliance, "4956200001") if r["ended_at"]], 30,
             what="the live call in the history")

    appliance.stop_service("events")
    try:
        before = carrier.call(ani="4956200002", hold=9)      # whole, before the rotation
        before.answered_by_phone()
        before.ended()
        across = carrier.call(ani="4956200003", hold=20)     # up while the logs are rotated
        across.answered_by_phone()
        out = korund(appliance, "logs", "rotate", "--force").stdout
        assert "rotated: logger rotate" in out, out
        for log in (inst.cdr_log, inst.cel_log):
            assert f"rotated: {log.parent.relative_to(inst.base)}" in out.replace(str(appliance.base) + "/", ""), out
            assert len(rotated(log, "")) == 1 and not rotated(log, ".gz")
        across.ended()
        after = carrier.call(ani="4956200004", hold=9)       # wholly in the new files
        after.answered_by_phone()
        after.ended()
        # Asterisk opened new files by itself (it opens them for every record)
        wait_for(lambda: inst.cdr_log.exists() and b"4956200004" in inst.cdr_log.read_bytes(), 20,
                 what="the new CDR log with the last call")
        assert inst.cel_log.exists()
        # nothing the catch-up has not read is compressed meanwhile
        korund(appliance, "logs", "rotate")
        assert len(rotated(inst.cdr_log, "")) == 1 and len(rotated(inst.cel_log, "")) == 1
    finally:
        appliance.start_service("events")
        appliance.wait_service("events")

    for ani in ("4956200002", "4956200003", "4956200004"):
        wait_for(lambda: [r for r in rows_for(appliance, ani) if r["ended_at"] and r["outcome"]], 40,
                 what=f"call {ani} rebuilt from the logs")
    for ani in ("4956200001", "4956200002", "4956200003", "4956200004"):
        rows = rows_for(appliance, ani)
        assert len(rows) == 1, (ani, rows)
        assert rows[0]["outcome"] == "answered" and rows[0]["operator"] in ("1001", "1002"), rows[0]
        assert legs_of(appliance, rows[0]["uniqueid"])[-1] == "hangup"
    # the call up across the rotation: its legs from both files, once
    span = rows_for(appliance, "4956200003")[0]
    legs = legs_of(appliance, span["uniqueid"])
    assert [k for k in legs if k != "offer"] == [k for k in FULL if k != "offer"], legs
    assert span["talk_seconds"] > 5

    # read: the rotated CDR/CEL logs get compressed, whole
    def compressed():
        korund(appliance, "logs", "rotate")
        return rotated(inst.cdr_log, ".gz") and rotated(inst.cel_log, ".gz")
    wait_for(compressed, 30, interval=2, what="the rotated logs compressed")
    assert not rotated(inst.cdr_log, "") and not rotated(inst.cel_log, "")
    old_cdr = gzip.decompress(rotated(inst.cdr_log, ".gz")[0].read_bytes())
    assert b"4956200002" in old_cdr and b"4956200004" not in old_cdr
    assert b"4956200003" in gzip.decompress(rotated(inst.cel_log, ".gz")[0].read_bytes())
    # Asterisk's own logs: renamed by 'logger rotate' (rotatestrategy = timestamp), then compressed
    for name in ("messages.log", "queue_log"):
        files = [p.name for p in inst.log.iterdir() if re.match(rf"^{re.escape(name)}\.\d+\.gz$", p.name)]
        assert len(files) == 1, (name, sorted(p.name for p in inst.log.iterdir()))
        assert (inst.log / name).exists()   # reopened
    # and a restart reads nothing twice
    dead = appliance.kill_service("events")
    appliance.wait_service("events", not_pid=dead)
    time.sleep(6)   # a catch-up round
    for ani in ("4956200001", "4956200002", "4956200003", "4956200004"):
        assert len(rows_for(appliance, ani)) == 1
    status = korund(appliance, "logs", "status").stdout
    assert "korund-cdr.csv" in status and "logs.keep_files = 30" in status

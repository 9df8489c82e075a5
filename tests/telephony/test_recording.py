"""Call recording (F12) on real Asterisk: the caller's side plays one tone,
the operator's simulated phone another, so the recorded file shows both
sides (and, two-channel, which side is in which channel). Policies, on
demand start/pause/resume over the API, and crash recovery."""
from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
import time
import wave
from array import array
from datetime import datetime
from pathlib import Path

import pytest

from appliance.recordings import service as archive_service
from appliance.base import store
from tests import audio
from tests.conftest import TONES
from tests.harness import korund, wait_for

CALLER_TONE = 450
HOLD = 14



def set_policy(appliance, *args):
    korund(appliance, "recordings", "policy", "set", *args)
    assert "applied" in korund(appliance, "apply").stdout


def rows(appliance, linkedid: str) -> list[dict]:
    with appliance.db() as conn:
        return [dict(r) for r in conn.execute(
            "SELECT * FROM recordings WHERE linkedid = ? ORDER BY id", [linkedid])]


def good_row(appliance, linkedid: str, timeout: float = 30) -> dict:
    def done():
        found = rows(appliance, linkedid)
        return found[0] if found and found[0]["status"] != "recording" else None
    return wait_for(done, timeout, what=f"the recording of {linkedid} finalised")


def file_of(appliance, row) -> Path:
    return appliance.host_base / "recordings" / row["path"]


def channel_samples(path: Path, channel: int) -> array:
    with wave.open(str(path), "rb") as w:
        n = w.getnchannels()
        data = array("h", w.readframes(w.getnframes()))
    return data[channel::n]


def place(appliance, carrier, ani: str, hold: float = HOLD):
    before = appliance.last_call_id()
    call = carrier.call(ani=ani, hold=hold, tone=CALLER_TONE)
    phone = call.answered_by_phone()["Phone"]
    return call, phone, before


@pytest.fixture(autouse=True)
def default_policy(appliance, carrier):
    """Every test starts with: record all calls, one channel, no other policy."""
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        with db.atomic():
            db.execute("DELETE FROM recording_policies WHERE scope != 'default'")
            db.execute("UPDATE recording_policies SET mode = 'all', sample_percent = 100, two_channel = 0")
    finally:
        db.close()
    korund(appliance, "apply")
    yield


def test_policy_all_leaves_one_good_indexed_wav_with_both_sides(appliance, carrier):
    call, phone, before = place(appliance, carrier, "4951110001")
    call.ended()
    history = appliance.call_row(ani="4951110001", since_id=before)
    rec = good_row(appliance, history["uniqueid"])
    assert len(rows(appliance, history["uniqueid"])) == 1
    assert rec["status"] == "good", rec
    path = file_of(appliance, rec)
    assert path.is_file() and path.name.startswith(history["uniqueid"] + "-1")
    assert rec["operator"] == phone and rec["grp"] == "support" and rec["ani"] == "4951110001"
    assert rec["channels"] == 1 and rec["policy"] == "default"
    assert rec["size"] == path.stat().st_size
    assert rec["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    talk = (datetime.fromisoformat(history["ended_at"])
            - datetime.fromisoformat(history["connected_at"])).total_seconds()
    assert abs(rec["duration"] - talk) < 1.5, (rec["duration"], talk)
    assert rec["duration"] > 4
    data = audio.samples(path)
    # both sides are in the mix: the caller's tone and the answering phone's
    assert audio.tone_seconds(data, CALLER_TONE, threshold=0.25) > 2
    assert audio.tone_seconds(data, TONES[phone], threshold=0.25) > 2


def test_policy_none_records_nothing(appliance, carrier):
    set_policy(appliance, "default", "--mode", "none")
    call, _, before = place(appliance, carrier, "4951110002")
    call.ended()
    history = appliance.call_row(ani="4951110002", since_id=before)
    time.sleep(5)     # a few of the archive service's sweeps
    assert rows(appliance, history["uniqueid"]) == []
    assert not list((appliance.host_base / "recordings").rglob(f"{history['uniqueid']}-*"))


def test_number_beats_group_beats_default_and_sampling_draws_in_the_dialplan(appliance, carrier):
    set_policy(appliance, "group", "support", "--mode", "sampled", "--percent", "0")
    call, _, before = place(appliance, carrier, "4951110007")
    call.ended()
    linkedid = appliance.call_row(ani="4951110007", since_id=before)["uniqueid"]
    time.sleep(4)   # two of the archive service's sweeps (every 2 s): still no row
    assert rows(appliance, linkedid) == []          # the group's 0 % sample, not the default's 'all'
    set_policy(appliance, "number", "100", "--mode", "sampled", "--percent", "100")
    call, phone, before = place(appliance, carrier, "4951110008")
    call.ended()
    rec = good_row(appliance, appliance.call_row(ani="4951110008", since_id=before)["uniqueid"])
    assert rec["status"] == "good" and rec["policy"] == "number:100" and rec["dnis"] == "100"
    assert rec["operator"] == phone


def test_a_transfer_target_is_recorded_in_a_file_of_its_own(appliance, carrier):
    call, first, before = place(appliance, carrier, "4951110009", hold=30)
    linkedid = appliance.call_row(ani="4951110009", since_id=before, ended=False)["uniqueid"]
    other = "1002" if first == "1001" else "1001"
    wait_for(lambda: rows(appliance, linkedid), 15, what="the first operator's recording")
    time.sleep(3)   # the first operator talks, recorded, before the transfer
    # the archive service tells a live recording by its channel (name and uniqueid)
    live = archive_service.live_channels(appliance.mgr)
    assert {rows(appliance, linkedid)[0]["channel"], rows(appliance, linkedid)[0]["uniqueid"]} <= live
    with appliance.db() as conn:     # the caller's channel, as the desktop's blind transfer moves it
        caller = conn.execute("SELECT channel FROM offers WHERE linkedid = ? AND state = 'answered'",
                              [linkedid]).fetchone()[0]
    for action in ({"Action": "Setvar", "Channel": caller, "Variable": "KORUND_TARGET_OPERATOR", "Value": other},
                   {"Action": "Redirect", "Channel": caller, "Context": "korund-route", "Exten": "s",
                    "Priority": "1"}):
        assert appliance.mgr.send_action(action).get_header("Response") == "Success"
    call.ended(timeout=60)
    found = wait_for(lambda: (lambda r: r if len(r) == 2 and all(x["status"] != "recording" for x in r)
                              else None)(rows(appliance, linkedid)), 30, what="two finalised recordings")
    assert [r["operator"] for r in found] == [first, other]
    assert [Path(r["path"]).name for r in found] == [f"{linkedid}-1.wav", f"{linkedid}-2.wav"]
    assert all(r["status"] == "good" for r in found)
    second = audio.samples(file_of(appliance, found[1]))
    assert audio.tone_seconds(second, TONES[other], threshold=0.25) > 2
    assert audio.tone_seconds(second, TONES[first], threshold=0.25) < 0.5


def test_two_channel_puts_the_caller_left_and_the_operator_right(appliance, carrier):
    set_policy(appliance, "default", "--mode", "all", "--two-channel")
    call, phone, before = place(appliance, carrier, "4951110003")
    call.ended()
    history = appliance.call_row(ani="4951110003", since_id=before)
    rec = good_row(appliance, history["uniqueid"])
    assert rec["status"] == "good" and rec["channels"] == 2, rec
    path = file_of(appliance, rec)
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 2
    left, right = channel_samples(path, 0), channel_samples(path, 1)
    assert audio.tone_seconds(left, CALLER_TONE) > 3
    assert audio.tone_seconds(right, TONES[phone]) > 3
    assert audio.tone_seconds(left, TONES[phone]) < 0.5
    assert audio.tone_seconds(right, CALLER_TONE) < 0.5
    # the legs were merged away; only the stereo file is left
    assert sorted(p.name for p in path.parent.glob(history["uniqueid"] + "-*")) == [path.name]


@pytest.fixture(scope="module")
def supervisor_token(pbx):
    appliance, _ = pbx
    appliance.add_user("sup", "supervisor", "Record-Check-2026")
    return appliance.panel_url(), appliance.api_token("sup", "recording test")


def api(site_token, method: str, path: str, payload=None) -> tuple[int, dict]:
    site, token = site_token
    req = urllib.request.Request(site + path, method=method,
                                 data=json.dumps(payload).encode() if payload is not None else None,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_on_demand_start_pause_resume_over_the_api(appliance, carrier, supervisor_token):
    set_policy(appliance, "default", "--mode", "demand")
    call, phone, before = place(appliance, carrier, "4951110004", hold=26)
    linkedid = appliance.call_row(ani="4951110004", since_id=before, ended=False)["uniqueid"]
    path = f"/api/v1/calls/{linkedid}/recording"
    wait_for(lambda: api(supervisor_token, "GET", path)[1].get("live"), 15, what="the call live")
    status, state = api(supervisor_token, "GET", path)
    # pausable: a supervisor may pause a recording asked for on demand
    assert state == {"live": True, "recording": False, "paused": False, "id": None, "pausable": True}
    time.sleep(1)   # 'demand' writes no row until asked: nothing to poll for
    assert not rows(appliance, linkedid)            # 'demand': nothing until asked
    status, state = api(supervisor_token, "POST", path, {"action": "start"})
    assert status == 200 and state["recording"] and not state["paused"], state
    time.sleep(4)   # recorded talk before the pause
    status, state = api(supervisor_token, "POST", path, {"action": "pause"})
    assert status == 200 and state["paused"], state
    time.sleep(4)   # the paused stretch (3 to 6 s asserted below)
    status, again = api(supervisor_token, "POST", path, {"action": "pause"})
    assert status == 422 and again["field"] == "action"
    status, state = api(supervisor_token, "POST", path, {"action": "resume"})
    assert status == 200 and state["recording"] and not state["paused"], state
    time.sleep(4)   # recorded talk after resuming
    call.ended()
    rec = good_row(appliance, linkedid)
    assert rec["status"] == "good" and rec["mode"] == "demand" and rec["operator"] == phone, rec
    with appliance.db() as conn:
        pause = dict(conn.execute("SELECT * FROM recording_pauses WHERE recording_id = ?",
                                  [rec["id"]]).fetchone())
        actions = [r[0] for r in conn.execute(
            "SELECT action FROM audit WHERE target = ? ORDER BY id", [str(rec["id"])])]
    assert actions == ["recording started", "recording paused", "recording resumed"]
    assert 3 <= pause["offset_end"] - pause["offset_start"] <= 6, pause
    data = audio.samples(file_of(appliance, rec))
    start, length = audio.longest_silence(data)
    # the paused stretch is silence, about where and as long as the index says
    assert abs(start - pause["offset_start"]) < 1.5 and 2.5 < length < 6.5, (start, length, pause)
    rate = audio.RATE
    before_pause, after_pause = data[:int(start * rate)], data[int((start + length) * rate):]
    for part in (before_pause, after_pause):
        assert audio.tone_seconds(part, CALLER_TONE, threshold=0.25) > 1
        assert audio.tone_seconds(part, TONES[phone], threshold=0.25) > 1


def test_files_recorded_while_the_archive_service_was_down_are_indexed_at_its_start(appliance, carrier):
    appliance.stop_service("archive")
    try:
        call, phone, before = place(appliance, carrier, "4951110005")
        call.ended()
        linkedid = appliance.call_row(ani="4951110005", since_id=before)["uniqueid"]
        assert rows(appliance, linkedid) == []
    finally:
        appliance.start_service("archive")
        appliance.wait_service("archive")
    rec = good_row(appliance, linkedid)
    assert rec["status"] == "good" and rec["duration"] > 4, rec
    # what the call history knows fills in the row
    assert rec["operator"] == phone and rec["ani"] == "4951110005" and rec["grp"] == "support"


def test_killing_asterisk_mid_recording_leaves_a_finalised_indexed_file(appliance, carrier):
    call, phone, before = place(appliance, carrier, "4951110006", hold=30)
    linkedid = appliance.call_row(ani="4951110006", since_id=before, ended=False)["uniqueid"]
    recording = wait_for(lambda: rows(appliance, linkedid), 15, what="the recording's row")[0]
    assert recording["status"] == "recording"
    time.sleep(5)   # recorded talk before Asterisk dies (duration > 3 below)
    dead = appliance.kill_service("asterisk")
    try:
        rec = good_row(appliance, linkedid, timeout=60)
        assert rec["status"] == "good", rec
        path = file_of(appliance, rec)
        with wave.open(str(path), "rb") as w:        # the header now matches the data
            assert w.getnframes() * 2 + 44 == path.stat().st_size
        assert rec["duration"] > 3 and rec["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert audio.tone_seconds(audio.samples(path), TONES[phone], threshold=0.25) > 2
    finally:
        appliance.wait_service("asterisk", not_pid=dead, timeout=60)
        appliance.disconnect()
        appliance.connect()
        ami_cmd = carrier.cli("channel request hangup all")
        assert ami_cmd is not None
        korund(appliance, "start", "--timeout", "60")


def test_the_callback_dialers_calls_take_the_callbacks_policy(appliance, carrier):
    from datetime import timedelta, timezone
    set_policy(appliance, "default", "--mode", "none")
    set_policy(appliance, "callbacks", "--mode", "all")
    client = "74957770101"
    carrier.phone(client, "answer", tone=CALLER_TONE)
    mark = carrier.events.mark()
    now = datetime.now(timezone.utc)
    with appliance.db() as conn:
        conn.execute("INSERT INTO callbacks (grp, number, ani, asap, slot_from, status, uniqueid, created_at) "
                     "VALUES ('support', ?, ?, 0, ?, 'new', '', ?)",
                     [client, client, (now - timedelta(minutes=1)).isoformat(timespec="seconds"),
                      now.isoformat(timespec="seconds")])
    carrier.events.wait(mark, 40, Event="UserEvent", UserEvent="SimPhoneAnswered", Phone=client)
    rang = carrier.events.find(mark, Event="UserEvent", UserEvent="SimPhoneRang")
    operator = next(e["Phone"] for e in rang if e["Phone"] != client)
    time.sleep(6)   # the recorded talk (duration > 3 below)
    leg = next(line.split("!", 1)[0] for line in appliance.cli("core show channels concise")
               if line.startswith(f"PJSIP/{operator}-"))
    appliance.mgr.send_action({"Action": "Hangup", "Channel": leg})
    def finalised():
        with appliance.db() as conn:
            row = conn.execute("SELECT * FROM recordings WHERE direction = 'outbound' "
                               "AND status != 'recording'").fetchone()
        return dict(row) if row else None
    rec = wait_for(finalised, 30, what="the callback's recording")
    assert rec["status"] == "good" and rec["policy"] == "callbacks" and rec["operator"] == operator
    assert rec["ani"] == client and rec["duration"] > 3
    data = audio.samples(file_of(appliance, rec))
    assert audio.tone_seconds(data, CALLER_TONE, threshold=0.25) > 2
    assert audio.tone_seconds(data, TONES[operator], threshold=0.25) > 2

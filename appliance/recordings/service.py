"""The ``archive`` service: keeps the recordings index whole (F12).

- At start, the whole recordings folder is swept: files without a row get
  one, rows still 'recording' whose call is gone are finalised (a crash or
  power cut left them open) — see appliance.recordings.store.sweep.
- While Asterisk runs, each ``KorundRecording`` user event (the dialplan
  started MixMonitor) gets its row at once, and every SWEEP_SECONDS the
  newest day folders are swept with the channels Asterisk has now.
- Every GUARD_SECONDS: retention (per policy, never a held recording) and
  the disk guard (alarm below the warning floor, oldest first below the
  delete floor); the rotation of Asterisk's logs (appliance.history.log_rotation).

When Asterisk is unreachable the sweeps go on (a file that stopped growing
is finalised), so nothing recorded waits for Asterisk to come back.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from appliance.base import ami, dialplan_names as dn, store
from appliance.base.instance import Instance
from appliance.history import log_rotation
from appliance.history.store import endpoint_of
from appliance.operators import devices
from appliance.recordings import store as recordings

log = logging.getLogger("korund.archive")

SWEEP_SECONDS = 2.0
GUARD_SECONDS = 60.0
# The day folders are walked for files without a row this often (and after
# every reconnect): a recording's row normally comes with its user event.
FOLDER_SWEEP_SECONDS = 30.0
# All the archive hears from Asterisk: a recording started.
EVENTS = (ami.EventFilter("UserEvent", "UserEvent", dn.EVENT_RECORDING),)


def live_channels(mgr) -> set[str] | None:
    """Names and uniqueids of the channels Asterisk has now; None when it
    cannot be asked."""
    if mgr is None:
        return None
    try:
        lines = ami.command(mgr, "core show channels concise")
    except Exception:  # noqa: BLE001 - a dropped connection: unknown
        return None
    live = set()
    for line in lines:
        fields = line.split("!")
        if len(fields) >= 14:
            live.add(fields[0])
            live.add(fields[-1])
    return live


def on_user_event(db, instance: Instance, headers: dict) -> int | None:
    """Index a recording the dialplan has just started."""
    if headers.get("Event") != "UserEvent" or headers.get("UserEvent") != dn.EVENT_RECORDING:
        return None
    path = Path(headers.get("File") or "")
    try:
        recordings.file_of(instance, str(path))
    except ValueError:
        log.warning("ignoring a recording outside the archive: %s", path)
        return None
    channel = headers.get("Channel") or ""
    return recordings.started(
        db, instance, path, linkedid=headers.get("Linkedid") or "", uniqueid=headers.get("Uniqueid") or "",
        channel=channel, operator=_operator_of(db, channel), grp=headers.get("Group") or "",
        ani=headers.get("Ani") or "", dnis=headers.get("Dnis") or "",
        direction=headers.get("Direction") or "inbound", policy=headers.get("Policy") or "",
        mode=headers.get("Mode") or "all", two_channel=headers.get("TwoChannel") == "1",
        at=_event_time(headers))


def _operator_of(db, channel: str) -> str:
    """The recording operator: an IP phone's endpoint, or the operator whose
    analog phone is the FXS port DAHDI/<n> (appliance.operators.devices)."""
    if channel.startswith("DAHDI/"):
        return devices.extension_of(db, channel) or ""
    return endpoint_of(channel) or ""


def _event_time(headers: dict):
    from datetime import datetime, timezone
    try:
        return datetime.fromtimestamp(float(headers["Timestamp"]), timezone.utc)
    except (KeyError, ValueError):
        return None


def housekeeping(db, instance: Instance, free_fn=recordings.free_space) -> None:
    gone = recordings.retention(db, instance)
    if gone:
        log.info("retention deleted %d recording(s)", len(gone))
    guard = recordings.disk_guard(db, instance, free_fn)
    if guard["deleted"]:
        log.warning("disk guard deleted %d recording(s); %.1f %% free", len(guard["deleted"]),
                    guard["free_percent"])


def rotate_logs(db, instance: Instance, mgr) -> None:
    """The CDR/CEL logs, messages.log and queue_log (appliance/history/log_rotation.py):
    here, because this service keeps the disk and runs whether or not the
    events service (which only reads those logs) is up."""
    try:
        log_rotation.housekeeping(db, instance, mgr)
    except Exception:
        log.exception("log rotation failed")


def run(instance: Instance, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    db = store.open_store(instance.db_path)
    lock = threading.Lock()
    recordings.recordings_dir(instance).mkdir(parents=True, exist_ok=True)
    def on_event(event, _manager):
        try:
            with lock:
                on_user_event(db, instance, ami.event_headers(event))
        except Exception:
            log.exception("could not index a recording")

    mgr = None
    try:
        mgr = ami.connect(store.settings(db), timeout=3, events=EVENTS)
        mgr.register_event("UserEvent", on_event)
    except ami.AmiError as exc:
        log.info("%s; sweeping without Asterisk", exc)
    live = live_channels(mgr)
    with lock:
        done = recordings.sweep(db, instance, live, days=None)
    if done["indexed"] or done["finalised"]:
        log.info("start-up sweep: %d file(s) indexed, %d finalised", len(done["indexed"]),
                 len(done["finalised"]))

    next_guard = next_folders = 0.0
    while not stop.is_set():
        if mgr is None:
            try:
                mgr = ami.connect(store.settings(db), timeout=2, events=EVENTS)
                mgr.register_event("UserEvent", on_event)
                log.info("connected to AMI")
                next_folders = 0.0   # user events may have been missed meanwhile
            except ami.AmiError:
                mgr = None
        elif not mgr.connected():
            ami.close(mgr)
            mgr = None
            continue
        try:
            walk = time.monotonic() >= next_folders
            # The channel list (hundreds of lines at full load) is asked for
            # only when a recording without its done marker has gone quiet.
            with lock:
                done = recordings.sweep(db, instance, lambda m=mgr: live_channels(m), days=2 if walk else 0)
            if walk:
                next_folders = time.monotonic() + FOLDER_SWEEP_SECONDS
            with lock:
                if done["indexed"] or done["finalised"]:
                    log.info("%d recording(s) indexed, %d finalised", len(done["indexed"]),
                             len(done["finalised"]))
                if time.monotonic() >= next_guard:
                    housekeeping(db, instance)
                    rotate_logs(db, instance, mgr)
                    next_guard = time.monotonic() + GUARD_SECONDS
        except Exception:
            log.exception("archive sweep failed")
        stop.wait(SWEEP_SECONDS)
    ami.close(mgr)

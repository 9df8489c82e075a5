"""Call recording (F12): policies, the index of recorded files, crash
recovery, retention and the disk guard.

How a call gets recorded: the generated dialplan (appliance.recordings.render)
runs ``Gosub(korund-record,s,1)`` on the operator's channel once the operator
answers (app_queue's gosub, the personal/last-operator Dial's ``U()``, a
transfer target's Dial, the callback dialer's operator leg). The policies are
rendered into that dialplan, so the choice (number > group > default;
'callbacks' for the dialer's calls; 'sampled' draws per call) never waits for
the AGI server. MixMonitor writes ``recordings/YYYY/MM/DD/<linkedid>-<n>.wav``
(two-channel: ``-caller.wav`` and ``-operator.wav`` legs, merged here into one
stereo file, caller left, operator right) and, when it closes the file, runs
``touch <linkedid>-<n>.done``. A ``KorundRecording`` user event tells the
``archive`` service (appliance.recordings.service) to index the file at once.

Nothing recorded goes unindexed: :func:`sweep` indexes every file under
``recordings/`` that has no row, and finalises rows still 'recording' whose
file is done or whose call is gone (Asterisk or the service crashed): the
WAV header's sizes are fixed from the file's length, then duration, size and
SHA-256 are filled in; an empty, headerless or unreadable file is 'broken'.
"""
from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import struct
import time
import wave
from array import array
from datetime import datetime, timedelta, timezone
from pathlib import Path

from appliance.base import audit, dialplan_names as dn, store
from appliance.base.errors import GROUP_NAME, ConfigError
from appliance.base.instance import ASTERISK_USER
from appliance.clients import desktop

SCOPES = ("number", "group", "callbacks", "default")
MODES = ("all", "none", "sampled", "demand")
STATUSES = ("recording", "good", "broken", "deleted")
NUMBER = re.compile(r"^[0-9+*#]{1,20}$")
WARN_KEY = "recordings.warn_free_percent"
DELETE_KEY = "recordings.delete_free_percent"
DEFAULT_WARN, DEFAULT_DELETE = 15, 5
MAX_RETENTION_DAYS = 36500
# A file whose call is gone is finalised once it has not grown for this long
# (MixMonitor closes it a moment after the hang-up).
SETTLE_SECONDS = 2.0
# With Asterisk unreachable nothing can be recording: a file is finalised once
# it has not grown for this long.
STALE_SECONDS = 15.0
WAV_HEADER = 44
ALARM_SOURCE, ALARM_KIND = "recordings", "disk_low"
BASE_NAME = re.compile(r"^(?P<linkedid>[0-9A-Za-z._]{1,64})-(?P<n>[0-9]{1,4})$")
LEG_SUFFIXES = ("-caller", "-operator")


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


# --- where the files are ----------------------------------------------------------

def recordings_dir(instance) -> Path:
    return Path(instance.base) / "recordings"


def file_of(instance, row) -> Path:
    """The file a ``recordings`` row names, refused if it points outside the
    instance's recordings folder."""
    rel = row["path"] if not isinstance(row, str) else row
    root = recordings_dir(instance).resolve()
    path = (root / rel).resolve()
    if root not in path.parents:
        raise ValueError(f"recording path outside the archive: {rel!r}")
    return path


def relative(instance, path: Path) -> str:
    return str(Path(path).resolve().relative_to(recordings_dir(instance).resolve()))


def day_folder(t: datetime) -> str:
    return t.astimezone().strftime("%Y/%m/%d")


def next_base(instance, linkedid: str, t: datetime) -> Path:
    """``recordings/YYYY/MM/DD/<linkedid>-<n>`` with the first free n."""
    folder = recordings_dir(instance) / day_folder(t)
    safe = re.sub(r"[^0-9A-Za-z._]", "", linkedid)[:64] or "call"
    n = 1
    while any((folder / f"{safe}-{n}{suffix}.wav").exists() for suffix in ("",) + LEG_SUFFIXES):
        n += 1
    return folder / f"{safe}-{n}"


# --- policies ------------------------------------------------------------------------

def policies(db) -> list[dict]:
    order = "CASE scope WHEN 'default' THEN 0 WHEN 'callbacks' THEN 1 WHEN 'group' THEN 2 ELSE 3 END"
    rows = db.execute(
        "SELECT id, scope, target, mode, sample_percent, two_channel, retention_days "
        f"FROM recording_policies ORDER BY {order}, target").fetchall()
    return [{"id": r[0], "scope": r[1], "target": r[2], "mode": r[3], "sample_percent": r[4],
             "two_channel": bool(r[5]), "retention_days": r[6], "key": policy_key(r[1], r[2])}
            for r in rows]


def policy_key(scope: str, target: str) -> str:
    return f"{scope}:{target}" if target else scope


def _int(value, field: str, lo: int, hi: int, empty=None):
    if value in (None, ""):
        if empty is not None:
            return empty
        raise ConfigError(field, "a whole number from {lo} to {hi}", lo=lo, hi=hi)
    try:
        n = int(str(value).strip())
    except ValueError:
        raise ConfigError(field, "a whole number from {lo} to {hi}", lo=lo, hi=hi) from None
    if not lo <= n <= hi:
        raise ConfigError(field, "a whole number from {lo} to {hi}", lo=lo, hi=hi)
    return n


def check_policy(db, scope, target, mode, sample_percent=100, two_channel=False,
                 retention_days=None) -> dict:
    scope = (scope or "").strip() if isinstance(scope, str) else ""
    target = (target or "").strip() if isinstance(target, str) else ""
    mode = (mode or "").strip() if isinstance(mode, str) else ""
    if scope not in SCOPES:
        raise ConfigError("scope", "one of {choices}", choices=", ".join(SCOPES))
    if scope in ("default", "callbacks"):
        target = ""
    elif scope == "group":
        if not GROUP_NAME.fullmatch(target) or not db.execute(
                "SELECT 1 FROM groups WHERE name = ?", [target]).fetchone():
            raise ConfigError("target", "no group named '{value}'", value=target)
    elif not NUMBER.fullmatch(target):
        raise ConfigError("target", "a dialled number: digits, + * # (up to 20)")
    if mode not in MODES:
        raise ConfigError("mode", "one of {choices}", choices=", ".join(MODES))
    percent = _int(sample_percent, "sample_percent", 0, 100, empty=100)
    days = _int(retention_days, "retention_days", 1, MAX_RETENTION_DAYS, empty=0) or None
    two = two_channel in (True, 1, "1", "on", "true", "yes")
    return {"scope": scope, "target": target, "mode": mode, "sample_percent": percent,
            "two_channel": two, "retention_days": days}


def set_policy(db, by: str | None, scope, target="", mode="all", sample_percent=100,
               two_channel=False, retention_days=None) -> dict:
    """Add or change the policy for (scope, target); audit-logged."""
    p = check_policy(db, scope, target, mode, sample_percent, two_channel, retention_days)
    with db.atomic():
        db.execute(
            "INSERT INTO recording_policies (scope, target, mode, sample_percent, two_channel, "
            "retention_days) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(scope, target) DO UPDATE SET "
            "mode = excluded.mode, sample_percent = excluded.sample_percent, "
            "two_channel = excluded.two_channel, retention_days = excluded.retention_days",
            [p["scope"], p["target"], p["mode"], p["sample_percent"], int(p["two_channel"]),
             p["retention_days"]])
        audit.record(db, by, "recording policy set", policy_key(p["scope"], p["target"]), p)
    return p


def delete_policy(db, by: str | None, scope, target="") -> None:
    if scope == "default":
        raise ConfigError("scope", "the default policy cannot be deleted; set its mode to none instead")
    with db.atomic():
        n = db.execute("DELETE FROM recording_policies WHERE scope = ? AND target = ?",
                       [scope, target or ""]).rowcount
        if not n:
            raise ConfigError("target", "no such policy")
        audit.record(db, by, "recording policy deleted", policy_key(scope, target or ""))


def choose_policy(policy_list: list[dict], dnis: str = "", grp: str = "",
                  outbound: bool = False) -> dict:
    """The most specific policy: the dialer's calls take 'callbacks'; inbound
    calls take their number's, else their group's, else the default."""
    by_key = {(p["scope"], p["target"]): p for p in policy_list}
    for key in ((("callbacks", ""),) if outbound else (("number", dnis), ("group", grp))):
        if key[1] or key[0] == "callbacks":
            if key in by_key:
                return by_key[key]
    return by_key.get(("default", ""), {"scope": "default", "target": "", "mode": "all",
                                        "sample_percent": 100, "two_channel": False,
                                        "retention_days": None, "key": "default"})


def decide(policy: dict, rand=random.randint) -> bool:
    """Record this call from its answer on? 'demand' waits to be asked."""
    if policy["mode"] == "all":
        return True
    if policy["mode"] == "sampled":
        return rand(1, 100) <= policy["sample_percent"]
    return False


# --- disk guard settings --------------------------------------------------------------

def guard_settings(db) -> dict:
    def get(key, default):
        try:
            return int(store.get_setting(db, key, str(default)))
        except (TypeError, ValueError):
            return default
    return {"warn_free_percent": get(WARN_KEY, DEFAULT_WARN),
            "delete_free_percent": get(DELETE_KEY, DEFAULT_DELETE)}


def set_guard(db, by: str | None, warn_free_percent, delete_free_percent) -> dict:
    warn = _int(warn_free_percent, "warn_free_percent", 1, 90)
    delete = _int(delete_free_percent, "delete_free_percent", 1, 90)
    if delete >= warn:
        raise ConfigError("delete_free_percent", "must be below the warning level ({warn} %)", warn=warn)
    with db.atomic():
        store.set_setting(db, WARN_KEY, warn)
        store.set_setting(db, DELETE_KEY, delete)
        audit.record(db, by, "recording disk guard set", "",
                     {"warn_free_percent": warn, "delete_free_percent": delete})
    return {"warn_free_percent": warn, "delete_free_percent": delete}


def free_space(path: Path) -> tuple[int, int]:
    """(free bytes, total bytes) of the file system holding *path*."""
    usage = shutil.disk_usage(path)
    return usage.free, usage.total


def usage(db, instance, free_fn=free_space) -> dict:
    """What the policy page shows: space, the archive's size, the floors."""
    root = recordings_dir(instance)
    root.mkdir(parents=True, exist_ok=True)
    free, total = free_fn(root)
    count, size = db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM recordings "
                             "WHERE status IN ('good', 'broken')").fetchone()
    held = db.execute("SELECT COUNT(*) FROM recordings WHERE legal_hold = 1 "
                      "AND status != 'deleted'").fetchone()[0]
    recording = db.execute("SELECT COUNT(*) FROM recordings WHERE status = 'recording'").fetchone()[0]
    g = guard_settings(db)
    percent = 100.0 * free / total if total else 0.0
    return {"free": free, "total": total, "free_percent": round(percent, 1), "files": count,
            "bytes": size, "held": held, "recording": recording, **g,
            "warning": percent < g["warn_free_percent"]}


# --- WAV files --------------------------------------------------------------------------

def fix_wav_header(path: Path) -> bool:
    """Set the RIFF and data chunk sizes from the file's length (a file a
    crash left open still says 0). Returns whether the header was changed;
    a file without a RIFF/WAVE header is left alone."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return False
        pos, changed, block = 12, False, 2
        while pos + 8 <= size:
            f.seek(pos)
            cid, clen = struct.unpack("<4sI", f.read(8))
            if cid == b"fmt ":
                fmt = f.read(min(clen, 16))
                if len(fmt) >= 14:
                    block = max(1, struct.unpack("<H", fmt[12:14])[0])
            if cid == b"data":
                want = (size - pos - 8) // block * block
                if clen != want:
                    f.seek(pos + 4)
                    f.write(struct.pack("<I", want))
                    changed = True
                break
            pos += 8 + clen + (clen & 1)
        riff = size - 8
        f.seek(4)
        if struct.unpack("<I", f.read(4))[0] != riff:
            f.seek(4)
            f.write(struct.pack("<I", riff))
            changed = True
    return changed


def inspect_wav(path: Path) -> tuple[float | None, int | None, str]:
    """(duration seconds, channels, problem) — problem '' when the file is a
    readable WAV with some audio."""
    try:
        if path.stat().st_size <= WAV_HEADER:
            return None, None, "empty"
        with wave.open(str(path), "rb") as w:
            frames, rate, channels = w.getnframes(), w.getframerate(), w.getnchannels()
            if not rate or not frames:
                return None, channels, "no audio"
            w.readframes(min(frames, rate))        # the data can actually be read
            return frames / rate, channels, ""
    except FileNotFoundError:
        return None, None, "missing"
    except (wave.Error, EOFError, struct.error, OSError) as exc:
        return None, None, f"unreadable: {exc}"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _mono(path: Path) -> tuple[array, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise wave.Error("expected 16-bit mono")
        return array("h", w.readframes(w.getnframes())), w.getframerate()


def merge_two_channel(caller: Path, operator: Path, out: Path) -> None:
    """One stereo WAV from MixMonitor's two legs: caller left, operator right
    (the shorter leg is padded with silence). Written to a temporary name
    and renamed, so a crash never leaves half a file under the final name."""
    left, rate = _mono(caller) if caller.exists() else (array("h"), 0)
    right, rate2 = _mono(operator) if operator.exists() else (array("h"), 0)
    rate = rate or rate2 or 8000
    n = max(len(left), len(right))
    left.extend(array("h", bytes(2 * (n - len(left)))))
    right.extend(array("h", bytes(2 * (n - len(right)))))
    both = array("h", bytes(4 * n))
    both[0::2], both[1::2] = left, right
    tmp = out.with_name(out.name + ".part")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(both.tobytes())
    os.replace(tmp, out)


# --- the index ------------------------------------------------------------------------------

COLUMNS = ("id", "linkedid", "uniqueid", "channel", "path", "started_at", "ended_at", "duration",
           "size", "sha256", "channels", "operator", "grp", "ani", "dnis", "direction", "policy",
           "mode", "status", "problem", "legal_hold", "legal_hold_by", "keep_until", "deleted_at",
           "delete_reason")


def _row(r) -> dict:
    return dict(zip(COLUMNS, r))


def get(db, recording_id: int) -> dict | None:
    r = db.execute(f"SELECT {', '.join(COLUMNS)} FROM recordings WHERE id = ?", [recording_id]).fetchone()
    return _row(r) if r else None


def by_path(db, rel: str) -> dict | None:
    r = db.execute(f"SELECT {', '.join(COLUMNS)} FROM recordings WHERE path = ?", [rel]).fetchone()
    return _row(r) if r else None


def started(db, instance, path: Path, *, linkedid: str, uniqueid: str = "", channel: str = "",
            operator: str = "", grp: str = "", ani: str = "", dnis: str = "", direction: str = "inbound",
            policy: str = "", mode: str = "all", two_channel: bool = False,
            at: datetime | None = None) -> int:
    """The row of a recording that has just started (status 'recording');
    the same file announced twice keeps its first row."""
    rel = relative(instance, path)
    facts = {"uniqueid": uniqueid, "channel": channel, "operator": _only("0-9", operator)[:8],
             "grp": _only("a-z0-9_-", grp)[:32], "ani": _only(dn.ANI_ALLOWED, ani)[:32],
             "dnis": _only(dn.DNIS_ALLOWED, dnis)[:32], "policy": policy[:80]}
    with db.atomic():
        row = db.execute("SELECT id, status FROM recordings WHERE path = ?", [rel]).fetchone()
        if row:
            # found first by a sweep: the announcement knows more
            given = {k: v for k, v in facts.items() if v}
            if row[1] == "recording" and given:
                db.execute(f"UPDATE recordings SET {', '.join(f'{k} = ?' for k in given)} WHERE id = ?",
                           [*given.values(), row[0]])
            return row[0]
        return db.execute(
            "INSERT INTO recordings (linkedid, uniqueid, channel, path, started_at, channels, operator, "
            "grp, ani, dnis, direction, policy, mode, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'recording')",
            [linkedid, uniqueid, channel, rel, iso(at or now_utc()), 2 if two_channel else 1,
             facts["operator"], facts["grp"], facts["ani"], facts["dnis"],
             "outbound" if direction == "outbound" else "inbound", facts["policy"],
             mode if mode in MODES else "all"]).lastrowid


def _only(allowed: str, value) -> str:
    return re.sub(f"[^{allowed}]", "", value or "")


def _call_facts(db, linkedid: str) -> dict:
    """What the call history knows of a call (for files found without a row)."""
    r = db.execute("SELECT ani, dnis, grp, operator, direction, started_at FROM calls "
                   "WHERE uniqueid = ? OR linkedid = ? ORDER BY id LIMIT 1", [linkedid, linkedid]).fetchone()
    if not r:
        return {}
    return {"ani": r[0] or "", "dnis": r[1] or "", "grp": r[2] or "", "operator": r[3] or "",
            "direction": r[4] or "inbound", "started_at": r[5]}


def base_of(path: Path) -> Path:
    """recordings/.../<linkedid>-<n>[-caller|-operator].wav -> .../<linkedid>-<n>"""
    stem = path.name[:-4] if path.name.endswith(".wav") else path.stem
    for suffix in LEG_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return path.with_name(stem)


def finalise(db, instance, rec: dict, now: datetime | None = None) -> dict | None:
    """Complete a 'recording' row from its file: merge two-channel legs, fix
    the header, then duration, size, checksum and status."""
    now = now or now_utc()
    final = file_of(instance, rec)
    base = base_of(final)
    legs = [Path(f"{base}{s}.wav") for s in LEG_SUFFIXES]
    done = Path(f"{base}.done")
    if done.exists() and not final.exists() and not any(p.exists() for p in legs):
        # MixMonitor ended without a single frame (a callback whose client
        # never answered: it records only while bridged): nothing to index.
        with db.atomic():
            db.execute("DELETE FROM recordings WHERE id = ? AND status = 'recording'", [rec["id"]])
        done.unlink(missing_ok=True)
        return None
    problem = ""
    if any(p.exists() for p in legs):
        try:
            for p in legs:
                if p.exists():
                    fix_wav_header(p)
            merge_two_channel(legs[0], legs[1], final)
            for p in legs:
                p.unlink(missing_ok=True)
        except (wave.Error, EOFError, struct.error, OSError) as exc:
            problem = f"two-channel merge failed: {exc}"
    if final.exists():
        try:
            fix_wav_header(final)
        except OSError as exc:
            problem = problem or f"unreadable: {exc}"
    duration, channels, found = inspect_wav(final)
    problem = problem or found
    size = final.stat().st_size if final.exists() else 0
    digest = sha256_of(final) if final.exists() else None
    facts = _call_facts(db, rec["linkedid"])
    start = parse_iso(rec["started_at"]) or now
    ended = start + timedelta(seconds=duration) if duration else now
    with db.atomic():
        db.execute(
            "UPDATE recordings SET ended_at = ?, duration = ?, size = ?, sha256 = ?, channels = ?, "
            "status = ?, problem = ?, operator = CASE operator WHEN '' THEN ? ELSE operator END, "
            "grp = CASE grp WHEN '' THEN ? ELSE grp END, ani = CASE ani WHEN '' THEN ? ELSE ani END, "
            "dnis = CASE dnis WHEN '' THEN ? ELSE dnis END WHERE id = ? AND status = 'recording'",
            [iso(ended), round(duration, 3) if duration else 0, size, digest,
             channels or rec.get("channels") or 1, "broken" if problem else "good", problem,
             facts.get("operator", ""), facts.get("grp", ""), facts.get("ani", ""),
             facts.get("dnis", ""), rec["id"]])
    done.unlink(missing_ok=True)
    return get(db, rec["id"])


def _index_orphan(db, instance, base: Path, now: datetime) -> dict:
    """A row for a file nobody announced (the service was down)."""
    m = BASE_NAME.fullmatch(base.name)
    linkedid = m.group("linkedid") if m else base.name
    facts = _call_facts(db, linkedid)
    two = any(Path(f"{base}{s}.wav").exists() for s in LEG_SUFFIXES)
    final = Path(f"{base}.wav")
    first = final if final.exists() else next(Path(f"{base}{s}.wav") for s in LEG_SUFFIXES
                                               if Path(f"{base}{s}.wav").exists())
    t = datetime.fromtimestamp(first.stat().st_ctime, timezone.utc)
    p = choose_policy(policies(db), facts.get("dnis", ""), facts.get("grp", ""),
                      facts.get("direction") == "outbound")
    rid = started(db, instance, final, linkedid=linkedid, operator=facts.get("operator", ""),
                  grp=facts.get("grp", ""), ani=facts.get("ani", ""), dnis=facts.get("dnis", ""),
                  direction=facts.get("direction", "inbound"), policy=p["key"], mode=p["mode"],
                  two_channel=two, at=t)
    return get(db, rid)


def _last_write(base: Path) -> float:
    times = [p.stat().st_mtime for p in (Path(f"{base}.wav"), *(Path(f"{base}{s}.wav") for s in LEG_SUFFIXES))
             if p.exists()]
    return max(times) if times else 0.0


def _gone(rec: dict, base: Path, live, clock: float) -> bool:
    """Is the recording over? Its done marker, or its channel gone (then the
    file must have settled); Asterisk unreachable: the file is stale.
    *live* is asked for (live()) only when the marker is missing."""
    if Path(f"{base}.done").exists():
        return True
    quiet = clock - _last_write(base)
    if quiet < SETTLE_SECONDS:
        return False
    live = live()
    if live is None:
        return quiet >= STALE_SECONDS
    ids = {rec.get("uniqueid") or "", rec.get("linkedid") or "", rec.get("channel") or ""} - {""}
    return not (ids & live) and quiet >= SETTLE_SECONDS


def _once(fn):
    memo = []

    def value():
        if not memo:
            memo.append(fn())
        return memo[0]
    return value


def any_recording(db) -> bool:
    """Is a recording in progress (a row still 'recording')?"""
    return db.execute("SELECT 1 FROM recordings WHERE status = 'recording' LIMIT 1").fetchone() is not None


def sweep(db, instance, live, now: datetime | None = None, clock=time.time,
          days: int | None = 2) -> dict:
    """Index and finalise what is on disk. *live*: the uniqueids of the
    channels Asterisk has now (None: Asterisk unreachable), or a function
    giving them, called at most once and only if a recording without its
    done marker has gone quiet. *days*: look at the last N day folders only
    (None: the whole archive, as at start; 0: only the rows still recording)."""
    now = now or now_utc()
    live = _once(live if callable(live) else (lambda given=live: given))
    root = recordings_dir(instance)
    indexed, finalised = [], []
    if root.exists():
        if days is None:
            folders = [root]
        else:
            folders = [root / day_folder(now - timedelta(days=d)) for d in range(days)]
        bases = set()
        for folder in folders:
            if folder.exists():
                for p in folder.rglob("*.wav"):
                    bases.add(base_of(p))
                for p in folder.rglob("*.done"):
                    bases.add(p.with_suffix(""))
        for base in sorted(bases):
            final = Path(f"{base}.wav")
            rec = by_path(db, relative(instance, final))
            if not final.exists() and not any(Path(f"{base}{s}.wav").exists() for s in LEG_SUFFIXES):
                if rec is None or rec["status"] != "recording":
                    Path(f"{base}.done").unlink(missing_ok=True)   # a stray marker
                continue        # a row without its file: the loop below
            if rec is None:
                rec = _index_orphan(db, instance, base, now)
                indexed.append(rec["id"])
            if rec["status"] == "recording" and _gone(rec, base, live, clock()):
                finalise(db, instance, rec, now)
                finalised.append(rec["id"])
    # rows whose file vanished or lives in an older folder
    for r in db.execute(f"SELECT {', '.join(COLUMNS)} FROM recordings WHERE status = 'recording'").fetchall():
        rec = _row(r)
        if rec["id"] in finalised:
            continue
        try:
            base = base_of(file_of(instance, rec))
        except ValueError:
            continue
        if _gone(rec, base, live, clock()):
            finalise(db, instance, rec, now)
            finalised.append(rec["id"])
    return {"indexed": indexed, "finalised": finalised}


# --- deletion: retention, disk guard, legal hold ------------------------------------------

def delete(db, instance, rec: dict, reason: str, by: str | None) -> None:
    """Delete the file, keep the row as 'deleted' with the reason; audited."""
    if rec["legal_hold"]:
        raise ConfigError("legal_hold", "the recording is on legal hold")
    try:
        file_of(instance, rec).unlink(missing_ok=True)
    except ValueError:
        pass
    with db.atomic():
        db.execute("UPDATE recordings SET status = 'deleted', deleted_at = ?, delete_reason = ? "
                   "WHERE id = ? AND legal_hold = 0", [iso(now_utc()), reason, rec["id"]])
        audit.record(db, by, "recording deleted", str(rec["id"]),
                     {"path": rec["path"], "reason": reason, "linkedid": rec["linkedid"]})


def set_legal_hold(db, recording_id: int, on: bool, by: str | None) -> None:
    with db.atomic():
        n = db.execute("UPDATE recordings SET legal_hold = ?, legal_hold_by = ? "
                       "WHERE id = ? AND status != 'deleted'",
                       [1 if on else 0, (by or "") if on else "", recording_id]).rowcount
        if not n:
            raise ConfigError("id", "no recording {value} (or it was deleted)", value=recording_id)
        audit.record(db, by, "recording legal hold " + ("on" if on else "off"), str(recording_id))


def expired(db, now: datetime | None = None) -> list[dict]:
    """Recordings past their policy's retention (or their keep_until), not
    on legal hold, oldest first."""
    now = now or now_utc()
    plist = policies(db)
    days = {p["key"]: p["retention_days"] for p in plist}
    default = days.get("default")
    out = []
    for r in db.execute(f"SELECT {', '.join(COLUMNS)} FROM recordings WHERE status IN ('good', 'broken') "
                        "AND legal_hold = 0 ORDER BY started_at, id"):
        rec = _row(r)
        keep = parse_iso(rec["keep_until"])
        if keep is not None:
            if keep <= now:
                out.append(rec)
            continue
        d = days.get(rec["policy"], default)
        start = parse_iso(rec["started_at"])
        if d and start and start + timedelta(days=d) <= now:
            out.append(rec)
    return out


def retention(db, instance, now: datetime | None = None, dry_run: bool = False,
              by: str | None = "retention") -> list[dict]:
    victims = expired(db, now)
    if not dry_run:
        for rec in victims:
            delete(db, instance, rec, "retention", by)
    return victims


def _free_percent(root: Path, free_fn) -> float:
    free, total = free_fn(root)
    return 100.0 * free / total if total else 100.0


def disk_guard(db, instance, free_fn=free_space, now: datetime | None = None) -> dict:
    """Below the warning floor: a health alarm (cleared when space is back);
    below the delete floor: delete the oldest recordings not on hold until
    free space is above it again."""
    now = now or now_utc()
    root = recordings_dir(instance)
    root.mkdir(parents=True, exist_ok=True)
    g = guard_settings(db)
    deleted = []
    percent = _free_percent(root, free_fn)
    if percent < g["delete_free_percent"]:
        for r in db.execute(f"SELECT {', '.join(COLUMNS)} FROM recordings WHERE status IN ('good', 'broken') "
                            "AND legal_hold = 0 ORDER BY started_at, id").fetchall():
            if percent >= g["delete_free_percent"]:
                break
            rec = _row(r)
            delete(db, instance, rec, "disk guard", "disk guard")
            deleted.append(rec)
            percent = _free_percent(root, free_fn)
    _alarm(db, percent < g["warn_free_percent"], percent, g["warn_free_percent"], now)
    return {"free_percent": round(percent, 1), "deleted": deleted,
            "warning": percent < g["warn_free_percent"]}


def _alarm(db, on: bool, percent: float, floor: int, now: datetime) -> None:
    with db.atomic():
        row = db.execute("SELECT id FROM health_alarms WHERE source = ? AND kind = ? "
                         "AND cleared_at IS NULL", [ALARM_SOURCE, ALARM_KIND]).fetchone()
        message = f"Recordings: {percent:.1f} % disk space free (warning below {floor} %)"
        if on and not row:
            db.execute("INSERT INTO health_alarms (source, kind, severity, message, raised_at) "
                       "VALUES (?, ?, 'warning', ?, ?)", [ALARM_SOURCE, ALARM_KIND, message, iso(now)])
        elif on:
            db.execute("UPDATE health_alarms SET message = ? WHERE id = ?", [message, row[0]])
        elif row:
            db.execute("UPDATE health_alarms SET cleared_at = ? WHERE id = ?", [iso(now), row[0]])


# --- recording on demand (operator, supervisor) ------------------------------------------------

def live_recording(db, channel: str) -> dict | None:
    r = db.execute(f"SELECT {', '.join(COLUMNS)} FROM recordings WHERE channel = ? "
                   "AND status = 'recording' ORDER BY id DESC LIMIT 1", [channel]).fetchone()
    return _row(r) if r else None


def paused(db, recording_id: int) -> bool:
    return db.execute("SELECT 1 FROM recording_pauses WHERE recording_id = ? AND resumed_at IS NULL",
                      [recording_id]).fetchone() is not None


def pauses(db, recording_id: int) -> list[dict]:
    return [{"paused_at": r[0], "resumed_at": r[1], "offset_start": r[2], "offset_end": r[3], "by": r[4]}
            for r in db.execute("SELECT paused_at, resumed_at, offset_start, offset_end, by "
                                "FROM recording_pauses WHERE recording_id = ? ORDER BY id", [recording_id])]


def _ami_ok(resp) -> bool:
    return resp is not None and resp.get_header("Response") == "Success"


def _refused(resp) -> ConfigError:
    return ConfigError("action", "Asterisk refused: {reason}",
                       reason=(resp.get_header("Message") if resp else "") or "no answer")


def call_state(db, linkedid: str, extension: str | None = None) -> dict:
    """The live call's recording state as the desktop and the status page
    show it: {'live': bool, 'recording': bool, 'paused': bool, 'id': ...}."""
    offer = desktop.live_offer(db, linkedid, extension)
    if offer is None or offer["state"] != "answered":
        return {"live": False, "recording": False, "paused": False, "id": None}
    rec = live_recording(db, offer["dest_channel"])
    return {"live": True, "recording": rec is not None, "paused": bool(rec and paused(db, rec["id"])),
            "id": rec["id"] if rec else None}


def live_calls(db) -> list[dict]:
    """The calls an operator is on now, each with its recording state (the
    supervisor's status page)."""
    out = []
    for linkedid, ext, ani, grp, at, channel in db.execute(
            "SELECT linkedid, extension, ani, grp, at, dest_channel FROM offers WHERE state = 'answered' "
            "ORDER BY id").fetchall():
        rec = live_recording(db, channel or "")
        out.append({"linkedid": linkedid, "operator": ext, "ani": ani or "", "grp": grp or "", "at": at,
                    "recording": rec is not None, "paused": bool(rec and paused(db, rec["id"]))})
    return out


def control(db, instance, mgr, linkedid: str, action: str, by: str | None,
            extension: str | None = None, now: datetime | None = None) -> dict:
    """Start, pause or resume recording a live call (the operator's channel),
    over AMI: MixMonitor / MixMonitorMute. Paused stretches are silence in
    the file and noted in recording_pauses; every step is audit-logged."""
    if action not in ("start", "pause", "resume"):
        raise ConfigError("action", "one of {choices}", choices="start, pause, resume")
    offer = desktop.live_offer(db, linkedid, extension)
    if offer is None or offer["state"] != "answered" or not desktop.CHANNEL.fullmatch(offer["dest_channel"] or ""):
        raise ConfigError("action", "the call is not in progress")
    channel = offer["dest_channel"]
    now = now or now_utc()
    rec = live_recording(db, channel)
    if action == "start":
        if rec is not None:
            if not paused(db, rec["id"]):
                raise ConfigError("action", "the call is already being recorded")
            action = "resume"
        else:
            return _start(db, instance, mgr, linkedid, offer, by, now)
    if rec is None:
        raise ConfigError("action", "the call is not being recorded")
    start = parse_iso(rec["started_at"]) or now
    offset = round(max(0.0, (now - start).total_seconds()), 3)
    if action == "pause":
        if paused(db, rec["id"]):
            raise ConfigError("action", "the recording is already paused")
        resp = mgr.send_action({"Action": "MixMonitorMute", "Channel": channel, "Direction": "both",
                                "State": "1"})
        if not _ami_ok(resp):
            raise _refused(resp)
        with db.atomic():
            db.execute("INSERT INTO recording_pauses (recording_id, paused_at, offset_start, by) "
                       "VALUES (?, ?, ?, ?)", [rec["id"], iso(now), offset, by or ""])
            audit.record(db, by, "recording paused", str(rec["id"]), {"linkedid": linkedid})
    else:
        if not paused(db, rec["id"]):
            raise ConfigError("action", "the recording is not paused")
        resp = mgr.send_action({"Action": "MixMonitorMute", "Channel": channel, "Direction": "both",
                                "State": "0"})
        if not _ami_ok(resp):
            raise _refused(resp)
        with db.atomic():
            db.execute("UPDATE recording_pauses SET resumed_at = ?, offset_end = ? "
                       "WHERE recording_id = ? AND resumed_at IS NULL", [iso(now), offset, rec["id"]])
            audit.record(db, by, "recording resumed", str(rec["id"]), {"linkedid": linkedid})
    return {"id": rec["id"], "recording": True, "paused": action == "pause"}


def _start(db, instance, mgr, linkedid: str, offer: dict, by: str | None, now: datetime) -> dict:
    row = db.execute("SELECT ani, dnis, grp, direction FROM calls WHERE uniqueid = ? OR linkedid = ? "
                     "ORDER BY id LIMIT 1", [linkedid, linkedid]).fetchone()
    ani, dnis, grp, direction = (row or ("", "", "", "inbound"))
    grp = grp or (db.execute("SELECT grp FROM offers WHERE linkedid = ? ORDER BY id DESC LIMIT 1",
                             [linkedid]).fetchone() or [""])[0]
    outbound = direction == "outbound" or bool(db.execute(
        "SELECT 1 FROM callback_attempts WHERE uniqueid = ?", [linkedid]).fetchone())
    p = choose_policy(policies(db), dnis or "", grp or "", outbound)
    base = next_base(instance, linkedid, now)
    base.parent.mkdir(parents=True, exist_ok=True)
    _hand_to_asterisk(base.parent, recordings_dir(instance))
    options = (f"r({base}-operator.wav)t({base}-caller.wav)" if p["two_channel"] else "")
    action = {"Action": "MixMonitor", "Channel": offer["dest_channel"],
              "File": f"{base}.wav" if not p["two_channel"] else "",
              "Options": options, "Command": f"touch {base}.done"}
    if not action["File"]:
        del action["File"]
    resp = mgr.send_action(action)
    if not _ami_ok(resp):
        raise _refused(resp)
    rid = started(db, instance, Path(f"{base}.wav"), linkedid=linkedid, uniqueid="",
                  channel=offer["dest_channel"], operator=offer["extension"] or "", grp=grp or "",
                  ani=ani or "", dnis=dnis or "", direction="outbound" if outbound else "inbound",
                  policy=p["key"], mode="demand", two_channel=p["two_channel"], at=now)
    audit.record(db, by, "recording started", str(rid), {"linkedid": linkedid})
    return {"id": rid, "recording": True, "paused": False}


def _hand_to_asterisk(folder: Path, root: Path) -> None:
    """Folders made here must be writable by Asterisk, which writes the file."""
    import pwd
    try:
        pw = pwd.getpwnam(ASTERISK_USER)
    except KeyError:       # a host without Asterisk (unit tests)
        return
    d = folder
    while d != root and root in d.parents:
        try:
            os.chown(d, pw.pw_uid, pw.pw_gid)
        except OSError:
            pass
        d = d.parent

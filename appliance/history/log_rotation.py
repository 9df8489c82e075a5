"""Log rotation: Asterisk's CDR and CEL logs, messages.log and queue_log do
not grow forever, and no call is lost across a rotation.

**The CDR and CEL logs** (instance.cdr_log, instance.cel_log) are read by
the events service's catch-up (appliance/history/store.py). A log is rotated when
it passes ``logs.rotate_mb`` or ``logs.rotate_hours`` after its last
rotation: it is renamed to a dated name in the same folder
(``korund-cdr.20261126-101200.csv``, UTC). Asterisk needs no signal: its
custom CDR/CEL backend (res_cdrel_custom in Asterisk 22, like cdr_custom
and cel_custom before it) opens the file for every record and closes it
again, so the next record creates ``korund-cdr.csv`` anew.

The catch-up reads the rotated files and the current one as one stream
(``read_from``). Its position is kept as ``INODE:OFFSET`` — a rename keeps
the inode, so a position taken before a rotation still names the same bytes
after it, also when the events service was down while the file was renamed.
It moves on from a rotated file only when it has read it to the end and the
file has not been written for SETTLE_SECONDS (a record Asterisk had begun
just before the rename lands in the renamed file). A rotated file is
compressed (gzip) only once every position of the catch-up is past it, and
removed when more than ``logs.keep_files`` rotated files exist or it is older
than ``logs.keep_days``; a file the catch-up has not read is never
compressed, and removed only past ``logs.keep_days`` (with a warning).

**messages.log and queue_log** are Asterisk's logger channels: logger.conf
sets ``rotatestrategy = timestamp`` (appliance/render/core.py) and, when one
passes the size or age limit, ``logger rotate`` is sent over AMI; Asterisk
renames them to ``messages.log.<epoch>`` / ``queue_log.<epoch>`` and reopens
them. Those are compressed and pruned by the same rules.

``housekeeping`` runs in the archive service (appliance/recordings/service.py),
the supervised service that already keeps the disk (recordings retention,
disk guard) and runs whether or not the events service is up; the events
service only reads. ``korund logs rotate [--force]`` runs it by hand. A lock
file keeps two runs (service and command) from overlapping.
"""
from __future__ import annotations

import fcntl
import gzip
import logging
import os
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from appliance.base import ami, store
from appliance.base.errors import ConfigError

log = logging.getLogger("korund.logs")

# Settings (all optional) with their defaults and allowed ranges.
SETTINGS = {
    "logs.rotate_mb": (20, 1, 10_000),     # rotate a log once it is this big
    "logs.rotate_hours": (24, 1, 24 * 31),  # ... or this old (since its last rotation)
    "logs.keep_files": (30, 1, 10_000),    # rotated files kept per log
    "logs.keep_days": (90, 1, 3650),       # rotated files older than this are removed
}
ROTATED_AT = "logs.rotated_at."   # + the log's name: when it was last rotated (epoch seconds)
# A rotated file counts as final once it has not been written for this long.
SETTLE_SECONDS = 3.0
# The catch-up reads no further files in one round once it holds this much
# (after a long outage: the rest comes in the next rounds).
MAX_CHUNK_BYTES = 64 * 1024 * 1024
# The catch-up's positions in the CDR and CEL logs (appliance/history/store.py).
CDR_POSITIONS = ("events.cdr_offset",)
CEL_POSITIONS = ("events.cel_offset", "events.cel_seen")
# Asterisk's logger channels, rotated by 'logger rotate'.
LOGGER_FILES = ("messages.log", "queue_log")

_STAMP = "%Y%m%d-%H%M%S"


def setting(db, key: str) -> int:
    default, lo, hi = SETTINGS[key]
    try:
        return min(hi, max(lo, int(store.get_setting(db, key, default))))
    except (TypeError, ValueError):
        return default


def _store(db, key: str, value) -> None:
    with db.atomic():
        store.set_setting(db, key, value)


def set_setting(db, key: str, value: str) -> None:
    if key not in SETTINGS:
        raise ConfigError("key", "one of {choices}", choices=", ".join(SETTINGS))
    _, lo, hi = SETTINGS[key]
    if not value.strip().isdigit() or not lo <= int(value) <= hi:
        raise ConfigError(key, "must be between {lo} and {hi}", lo=lo, hi=hi)
    _store(db, key, int(value))


# --- the rotated files of a log ------------------------------------------------

def _rotated_pattern(current: Path) -> re.Pattern:
    return re.compile(rf"^{re.escape(current.stem)}\.(\d{{8}}-\d{{6}})(?:-(\d+))?{re.escape(current.suffix)}(\.gz)?$")


def rotated_files(current: Path) -> list[Path]:
    """The rotated files of the CDR/CEL log *current*, oldest first (plain and
    compressed)."""
    pattern = _rotated_pattern(current)
    found = []
    try:
        names = os.listdir(current.parent)
    except FileNotFoundError:
        return []
    for name in names:
        m = pattern.fullmatch(name)
        if m:
            found.append(((m.group(1), int(m.group(2) or 0)), current.parent / name))
    return [p for _, p in sorted(found)]


def rotated_name(current: Path, now: float) -> Path:
    stamp = datetime.fromtimestamp(now, timezone.utc).strftime(_STAMP)
    n = 0
    while True:
        tail = f"-{n}" if n else ""
        target = current.with_name(f"{current.stem}.{stamp}{tail}{current.suffix}")
        if not target.exists() and not Path(f"{target}.gz").exists():
            return target
        n += 1


@dataclass
class Segment:
    """One file of a log's stream: a rotated file or the current one."""
    path: Path
    ino: int
    size: int
    mtime: float
    rotated: bool


def segments(current: Path) -> list[Segment]:
    """The uncompressed files of a log in the order they were written: the
    rotated ones, then the current file (when it exists)."""
    out = []
    for path in [p for p in rotated_files(current) if p.suffix != ".gz"] + [current]:
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        out.append(Segment(path, st.st_ino, st.st_size, st.st_mtime, path != current))
    return out


def encode(ino: int, offset: int) -> str:
    return f"{ino}:{offset}"


def locate(segs: list[Segment], value: str | None) -> tuple[int, int] | None:
    """(index in *segs*, byte offset) of a stored position; None when there is
    none or its file is gone. A bare number (a position stored before
    rotation existed) is an offset into the current file."""
    if not value:
        return None
    ino_text, sep, off_text = value.partition(":")
    try:
        if not sep:
            ino, offset = None, int(ino_text)
        else:
            ino, offset = int(ino_text), int(off_text)
    except ValueError:
        return None
    if ino is None:
        idx = len(segs) - 1 if segs and not segs[-1].rotated else None
    else:
        idx = next((i for i, s in enumerate(segs) if s.ino == ino), None)
    if idx is None:
        return None
    if offset > segs[idx].size:   # the file was cut or replaced: read it from the start
        offset = 0
    return idx, offset


@dataclass
class _Piece:
    seg: Segment
    file_start: int
    start: int        # where its bytes begin in Chunk.data
    file_len: int     # bytes of the file taken
    length: int       # bytes in Chunk.data (a torn last line gets its newline)


class Chunk:
    """The complete lines of a log from a position on, across rotated files,
    and the way back from a place in them to a stored position."""

    def __init__(self, segs: list[Segment], start: tuple[int, int], now: float,
                 max_bytes: int = MAX_CHUNK_BYTES):
        self.segs = segs
        self.first = start[0]
        self.start = encode(segs[start[0]].ino, start[1])
        self.pieces: list[_Piece] = []
        data = bytearray()
        for i in range(start[0], len(segs)):
            seg = segs[i]
            offset = start[1] if i == start[0] else 0
            try:
                with open(seg.path, "rb") as f:
                    f.seek(offset)
                    raw = f.read()
                mtime = os.stat(seg.path).st_mtime
            except FileNotFoundError:   # compressed or removed meanwhile: the rest waits for next time
                break
            cut = raw.rfind(b"\n") + 1
            body, taken = raw[:cut], cut
            settled = seg.rotated and now - mtime >= SETTLE_SECONDS
            if settled and cut < len(raw):   # a torn last line nobody will finish
                body, taken = raw + b"\n", len(raw)
            self.pieces.append(_Piece(seg, offset, len(data), taken, len(body)))
            data += body
            if not settled:   # the current file, or a rotated one Asterisk may still finish a record in
                break
            if len(data) >= max_bytes:
                break
        self.data = bytes(data)

    def position(self, at: int) -> str:
        """The stored form of the place *at* in ``data``: at the end of a
        settled rotated file, the start of the next one."""
        piece = None
        for p in self.pieces:
            if p.start <= at:
                piece = p
        if piece is None:   # nothing could be read: where it started
            return self.start
        return encode(piece.seg.ino, piece.file_start + min(at - piece.start, piece.file_len))

    def place(self, value: str | None) -> int:
        """Where a stored position lies in ``data`` (0 when before it or
        unknown, len(data) when after it)."""
        found = locate(self.segs, value)
        if found is None:
            return 0
        idx, offset = found
        if idx < self.first:
            return 0
        for p in self.pieces:
            if self.segs.index(p.seg) == idx:
                return p.start + max(0, min(offset - p.file_start, p.length))
        return len(self.data)


def read_from(current: Path, value: str | None, now: float | None = None,
              max_bytes: int = MAX_CHUNK_BYTES) -> Chunk | None:
    """The lines of the log *current* (and its rotated files) after the
    stored position *value*; from the oldest file kept when there is no
    position or its file is gone. None when there is no file at all."""
    segs = segments(current)
    if not segs:
        return None
    start = locate(segs, value)
    if start is None:
        if value:
            log.warning("the read position of %s (%s) names no file left; reading what is kept again",
                        current.name, value)
        start = (0, 0)
    return Chunk(segs, start, time.time() if now is None else now, max_bytes)


# --- rotating, compressing, pruning --------------------------------------------------

@contextmanager
def _locked(inst):
    inst.run.mkdir(parents=True, exist_ok=True)
    with open(inst.run / "log-rotation.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _due(db, path: Path, now: float, force: bool) -> bool:
    """Whether a log is to be rotated now (never an empty or missing one)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    key = ROTATED_AT + path.name
    since = store.get_setting(db, key)
    if since is None:
        _store(db, key, int(now))   # first seen: its age counts from now
        since = now
    if size == 0:
        return False
    return force or size >= setting(db, "logs.rotate_mb") * 1024 * 1024 \
        or now - float(since) >= setting(db, "logs.rotate_hours") * 3600


def compress(path: Path) -> Path:
    """gzip *path* next to itself (through a temporary name, so a crash
    leaves either the plain file or the whole .gz), keep its time, remove it."""
    target = Path(f"{path}.gz")
    tmp = Path(f"{path}.gz.tmp")
    st = path.stat()
    with open(path, "rb") as src, gzip.open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.chmod(tmp, st.st_mode & 0o777)
    try:
        os.chown(tmp, st.st_uid, st.st_gid)   # Asterisk's, like the file it replaces
    except PermissionError:
        pass
    os.utime(tmp, (st.st_atime, st.st_mtime))
    os.replace(tmp, target)
    path.unlink()
    return target


def _read_past(db, segs: list[Segment], seg: Segment, keys: tuple[str, ...]) -> bool:
    """Whether every catch-up position of the log is in a later file than *seg*."""
    idx = segs.index(seg)
    for key in keys:
        found = locate(segs, store.get_setting(db, key))
        if found is None or found[0] <= idx:
            return False
    return True


def _prune(db, files: list[Path], unread: set[Path], now: float, report: dict) -> None:
    """Remove the oldest rotated files beyond logs.keep_files or older than
    logs.keep_days; one the catch-up has not read only past logs.keep_days."""
    keep_files, keep_days = setting(db, "logs.keep_files"), setting(db, "logs.keep_days")
    excess = len(files) - keep_files
    for path in files:   # oldest first
        try:
            age_days = (now - path.stat().st_mtime) / 86400
        except FileNotFoundError:
            continue
        too_old = age_days > keep_days
        if path in unread and not too_old:
            continue
        if too_old or excess > 0:
            if path in unread:
                log.warning("removing %s, older than %d days, though the call history never read it",
                            path.name, keep_days)
            path.unlink(missing_ok=True)
            report["removed"].append(str(path))
            excess -= 1


def _call_log(db, current: Path, keys: tuple[str, ...], now: float, force: bool, report: dict) -> None:
    if _due(db, current, now, force):
        target = rotated_name(current, now)
        os.rename(current, target)   # Asterisk creates the file anew with its next record
        _store(db, ROTATED_AT + current.name, int(now))
        report["rotated"].append(str(target))
        log.info("rotated %s to %s", current.name, target.name)
    segs = segments(current)
    unread = set()
    for seg in segs:
        if not seg.rotated:
            continue
        if now - seg.mtime >= SETTLE_SECONDS and _read_past(db, segs, seg, keys):
            report["compressed"].append(str(compress(seg.path)))
        else:
            unread.add(seg.path)
    _prune(db, rotated_files(current), unread, now, report)


def _logger_rotated(inst, name: str) -> list[Path]:
    pattern = re.compile(rf"^{re.escape(name)}\.(\d+)(\.gz)?$")
    found = []
    for entry in os.listdir(inst.log) if inst.log.exists() else []:
        m = pattern.fullmatch(entry)
        if m:
            found.append((int(m.group(1)), inst.log / entry))
    return [p for _, p in sorted(found)]


def _logger_logs(db, inst, mgr, now: float, force: bool, report: dict) -> None:
    due = [name for name in LOGGER_FILES if _due(db, inst.log / name, now, force)]
    if due:
        if mgr is None:
            report["skipped"].append("logger rotate: Asterisk is not reachable")
        else:
            try:
                ami.command(mgr, "logger rotate")
            except Exception as exc:  # noqa: BLE001 - a dropped connection: next round
                report["skipped"].append(f"logger rotate: {exc}")
            else:
                for name in LOGGER_FILES:   # Asterisk rotates all its logs at once
                    _store(db, ROTATED_AT + name, int(now))
                report["rotated"].append("logger rotate")
                log.info("asked Asterisk to rotate %s", ", ".join(LOGGER_FILES))
    for name in LOGGER_FILES:
        for path in _logger_rotated(inst, name):
            try:
                settled = now - path.stat().st_mtime >= SETTLE_SECONDS
            except FileNotFoundError:
                continue
            if path.suffix != ".gz" and settled:
                report["compressed"].append(str(compress(path)))
        _prune(db, _logger_rotated(inst, name), set(), now, report)


def housekeeping(db, inst, mgr=None, force: bool = False, now: float | None = None) -> dict:
    """Rotate what is due (everything with *force*), compress what has been
    read, remove what is beyond the limits. *mgr*: an AMI session for
    'logger rotate' (None: messages.log and queue_log wait). Returns
    {'rotated', 'compressed', 'removed', 'skipped'}: lists of what was done."""
    now = time.time() if now is None else now
    report = {"rotated": [], "compressed": [], "removed": [], "skipped": []}
    with _locked(inst):
        _call_log(db, inst.cdr_log, CDR_POSITIONS, now, force, report)
        _call_log(db, inst.cel_log, CEL_POSITIONS, now, force, report)
        _logger_logs(db, inst, mgr, now, force, report)
    return report


def usage(inst) -> list[dict]:
    """The logs and their rotated files: [{'name', 'bytes', 'files'}]."""
    out = []
    for current in (inst.cdr_log, inst.cel_log):
        files = [current] + rotated_files(current)
        out.append({"name": current.name, "files": sum(1 for p in files if p.exists()),
                    "bytes": sum(p.stat().st_size for p in files if p.exists())})
    for name in LOGGER_FILES:
        files = [inst.log / name] + _logger_rotated(inst, name)
        out.append({"name": name, "files": sum(1 for p in files if p.exists()),
                    "bytes": sum(p.stat().st_size for p in files if p.exists())})
    return out


# --- the 'korund logs' command ----------------------------------------------------------

def add_parser(sub) -> None:
    s = sub.add_parser("logs", help="Asterisk's CDR/CEL logs, messages.log and queue_log: 'status' (sizes), "
                                    "'rotate [--force]' (rotate what is due, or everything, compress "
                                    "what the call history has read, prune); --set KEY=VALUE: "
                                    + ", ".join(SETTINGS))
    s.add_argument("logs_command", choices=("status", "rotate"))
    s.add_argument("--force", action="store_true", help="rotate every log now")
    s.add_argument("--set", action="append", metavar="KEY=VALUE")
    s.set_defaults(fn=cli)


def cli(args, inst) -> int:
    db = inst.open_store()
    for pair in args.set or []:
        key, _, value = pair.partition("=")
        set_setting(db, key.strip(), value.strip())
        print(f"{key.strip()} = {value.strip()}")
    if args.logs_command == "status":
        for row in usage(inst):
            print(f"{row['name']:16} {row['files']:4} file(s) {row['bytes'] / 1024:10.1f} KiB")
        for key in SETTINGS:
            print(f"{key} = {setting(db, key)}")
        return 0
    mgr = ami.connect_if_running(inst, db, timeout=10)
    try:
        report = housekeeping(db, inst, mgr, force=args.force)
    finally:
        ami.close(mgr)
    for what in ("rotated", "compressed", "removed", "skipped"):
        for item in report[what]:
            print(f"{what}: {item}")
    if not any(report.values()):
        print("nothing to do")
    return 0

"""Voice messages callers leave in the IVR for a group (F2).

The AGI records into ``<instance>/messages/``; a recording is kept only when
it holds audio (``audio_seconds``): a caller who hung up at once or said
nothing leaves no row and no file. The caller's number is stored as data and
shown escaped; it never goes back to the dialplan.
"""
from __future__ import annotations

import math
import os
import pwd
import re
import struct
from pathlib import Path

from appliance.base import clock
from appliance.base.errors import ConfigError

FOLDER = "messages"
RATE = 8000                 # Asterisk's "wav": 16-bit mono at 8 kHz, 44-byte header
HEADER = 44
MIN_SECONDS = 1.0           # shorter than this is no message
MIN_VOICE_SECONDS = 0.3     # of windows louder than VOICE_RMS
VOICE_RMS = 100
FILE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,120}\.wav$")
STATES = ("new", "handled")


def directory(base: str | os.PathLike) -> Path:
    """Where an instance keeps its messages (made writable for Asterisk)."""
    folder = Path(base) / FOLDER
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        try:
            pw = pwd.getpwnam("asterisk")
            if os.geteuid() == 0:
                os.chown(folder, 0, pw.pw_gid)
        except KeyError:
            pass
        folder.chmod(0o770)
    return folder


def pcm_of(path: Path) -> bytes:
    """The samples of an Asterisk WAV (by file size: the header's own sizes
    are only written when Asterisk closes the file)."""
    raw = path.read_bytes()
    if len(raw) < HEADER or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        return b""
    data = raw[HEADER:]
    return data[:len(data) - len(data) % 2]


def audio_seconds(pcm: bytes) -> tuple[float, float]:
    """(duration, seconds of it louder than VOICE_RMS) of 16-bit 8 kHz PCM."""
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    n = RATE // 20
    loud = 0
    for i in range(0, len(samples) - n + 1, n):
        frame = samples[i:i + n]
        if math.sqrt(sum(x * x for x in frame) / n) > VOICE_RMS:
            loud += 1
    return len(samples) / RATE, loud * 0.05


def fix_header(path: Path, pcm_bytes: int) -> None:
    """Write the RIFF/data sizes for *pcm_bytes* of samples."""
    with open(path, "r+b") as f:
        f.seek(4)
        f.write(struct.pack("<I", HEADER - 8 + pcm_bytes))
        f.seek(40)
        f.write(struct.pack("<I", pcm_bytes))


def keep_recording(path: Path) -> float | None:
    """The duration of the recording at *path* if it holds a message;
    otherwise remove it and return None."""
    try:
        pcm = pcm_of(path)
    except OSError:
        return None
    duration, voice = audio_seconds(pcm)
    if duration < MIN_SECONDS or voice < MIN_VOICE_SECONDS:
        path.unlink(missing_ok=True)
        return None
    try:
        fix_header(path, len(pcm))
    except OSError:   # Asterisk writes the same sizes when it closes the file
        pass
    return round(duration, 1)


def add(db, group: str, ani: str, uniqueid: str, file: str, duration: float) -> int:
    if not FILE_NAME.fullmatch(file):
        raise ConfigError("file", "'{value}' is not a message file name", value=file)
    with db.atomic():
        return db.execute(
            "INSERT INTO messages (grp, ani, uniqueid, file, duration, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [group, (ani or "")[:64], uniqueid or "", file, float(duration), clock.stamp()]).lastrowid


COLUMNS = ("id", "grp", "ani", "uniqueid", "file", "duration", "created_at", "handled_at", "handled_by")


def _row(r) -> dict:
    d = dict(zip(COLUMNS, r))
    d["status"] = "handled" if d["handled_at"] else "new"
    return d


def get(db, message_id) -> dict | None:
    try:
        message_id = int(message_id)
    except (TypeError, ValueError):
        return None
    r = db.execute(f"SELECT {', '.join(COLUMNS)} FROM messages WHERE id = ?", [message_id]).fetchone()
    return _row(r) if r else None


def list_messages(db, status: str | None = None, group: str | None = None, limit: int = 200) -> list[dict]:
    """Newest first; *status* 'new' or 'handled', *group* a group name."""
    if status and status not in STATES:
        raise ConfigError("status", "status must be one of {choices}", choices=", ".join(STATES))
    where, args = [], []
    if status:
        where.append("handled_at IS NULL" if status == "new" else "handled_at IS NOT NULL")
    if group:
        where.append("grp = ?")
        args.append(group)
    sql = f"SELECT {', '.join(COLUMNS)} FROM messages"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT ?"
    return [_row(r) for r in db.execute(sql, [*args, max(1, min(int(limit), 1000))])]


def mark_handled(db, message_id, username: str) -> dict:
    """Mark a message handled (once: the first who handled it stays)."""
    message = get(db, message_id)
    if message is None:
        raise LookupError(message_id)
    if message["handled_at"] is None:
        with db.atomic():
            db.execute("UPDATE messages SET handled_at = ?, handled_by = ? WHERE id = ? AND handled_at IS NULL",
                       [clock.stamp(), username, message["id"]])
    return get(db, message["id"])


def audio_path(base: str | os.PathLike, message: dict) -> Path | None:
    """The WAV of *message* inside the instance's message folder, if there."""
    if not FILE_NAME.fullmatch(message.get("file") or ""):
        return None
    path = Path(base) / FOLDER / message["file"]
    return path if path.is_file() else None

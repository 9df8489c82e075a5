"""The recording archive (F12): searching the ``recordings`` index and who
may see which recording.

Who sees what: admins see every row (broken ones marked as such);
supervisors every row but the broken ones; an operator only the recordings
of calls they answered (``recordings.operator`` is their extension), never
broken ones; technicians none. Only status 'good' is playable. Rows being
recorded right now are listed for admins and supervisors, not playable.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from appliance.base.errors import ConfigError

PER_PAGE = 50
READERS = ("admin", "supervisor", "operator")
COLS = ("id", "linkedid", "path", "started_at", "ended_at", "duration", "size", "sha256", "channels",
        "operator", "grp", "ani", "dnis", "policy", "status", "legal_hold", "keep_until", "deleted_at",
        "delete_reason")
NUMBER = re.compile(r"^[0-9+*#]{1,32}$")
EXTENSION = re.compile(r"^[0-9]{2,8}$")
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
FILTERS = ("start", "end", "operator", "group", "ani", "dnis", "min_duration", "max_duration", "scored", "hold")


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a role and, for an operator, their extension."""
    role: str
    extension: str | None = None

    def statuses(self) -> tuple[str, ...]:
        if self.role == "admin":
            return ("good", "broken", "deleted", "recording")
        if self.role == "supervisor":
            return ("good", "deleted", "recording")
        if self.role == "operator":
            return ("good", "deleted")
        return ()


def _row(row) -> dict:
    rec = dict(zip(COLS, row[:len(COLS)]))
    rec["legal_hold"] = bool(rec["legal_hold"])
    rec["score"] = round(row[len(COLS)], 1) if row[len(COLS)] is not None else None
    rec["scores"] = row[len(COLS) + 1]
    return rec


SELECT = (f"SELECT {', '.join('r.' + c for c in COLS)}, "
          "(SELECT AVG(total) FROM quality_scores s WHERE s.recording_id = r.id), "
          "(SELECT COUNT(*) FROM quality_scores s WHERE s.recording_id = r.id) FROM recordings r")


def get(db, recording_id, viewer: Viewer) -> dict | None:
    """The recording if it exists and *viewer* may see it, else None (the
    same answer for both, so ids cannot be probed)."""
    try:
        recording_id = int(str(recording_id))
    except ValueError:
        return None
    statuses = viewer.statuses()
    if not statuses:
        return None
    sql = SELECT + f" WHERE r.id = ? AND r.status IN ({', '.join('?' * len(statuses))})"
    params = [recording_id, *statuses]
    if viewer.role == "operator":
        sql += " AND r.operator = ? AND r.operator <> ''"
        params.append(viewer.extension or "")
    row = db.execute(sql, params).fetchone()
    return _row(row) if row else None


def _day(raw: str, field: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(field, "a date like 2026-03-31") from None


def _seconds(raw: str, field: str) -> float:
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        value = -1
    if not 0 <= value <= 86400:
        raise ConfigError(field, "seconds from 0 to 86400")
    return value


def check_filters(args, tz: str) -> dict:
    """Clean the search filters (strings as typed; empty = no filter):
    start/end dates (the call center's days, both included), operator
    extension, group name, caller number and DNIS (digits, a part of the
    number matches), duration range in seconds, scored ('yes'|'no'), hold
    ('1'). ConfigError names the bad one."""
    f = {k: str(args.get(k) or "").strip() for k in FILTERS}
    out: dict = {}
    zone = ZoneInfo(tz)
    if f["start"]:
        out["start"] = datetime.combine(_day(f["start"], "start"), time(), zone).astimezone(timezone.utc)
    if f["end"]:
        out["end"] = datetime.combine(_day(f["end"], "end") + timedelta(days=1), time(), zone) \
            .astimezone(timezone.utc)
    if "start" in out and "end" in out and out["end"] <= out["start"]:
        raise ConfigError("end", "the period ends before it starts")
    if f["operator"]:
        if not EXTENSION.fullmatch(f["operator"]):
            raise ConfigError("operator", "an extension: 2 to 8 digits")
        out["operator"] = f["operator"]
    if f["group"]:
        if not NAME.fullmatch(f["group"]):
            raise ConfigError("group", "no such group")
        out["group"] = f["group"]
    for key in ("ani", "dnis"):
        if f[key]:
            if not NUMBER.fullmatch(f[key]):
                raise ConfigError(key, "digits, + * # only")
            out[key] = f[key]
    for key in ("min_duration", "max_duration"):
        if f[key]:
            out[key] = _seconds(f[key], key)
    if "min_duration" in out and "max_duration" in out and out["max_duration"] < out["min_duration"]:
        raise ConfigError("max_duration", "less than the shortest duration")
    if f["scored"]:
        if f["scored"] not in ("yes", "no"):
            raise ConfigError("scored", "yes or no")
        out["scored"] = f["scored"]
    if f["hold"]:
        if f["hold"] not in ("1", "0"):
            raise ConfigError("hold", "1 or 0")
        out["hold"] = f["hold"] == "1"
    return out


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(db, filters: dict, viewer: Viewer, offset: int = 0, limit: int = PER_PAGE,
           newest_first: bool = True) -> tuple[list[dict], int]:
    """The rows *viewer* may see that match cleaned *filters*, *limit* of
    them from *offset* by start time, and how many there are in all."""
    statuses = viewer.statuses()
    if not statuses:
        return [], 0
    where = [f"r.status IN ({', '.join('?' * len(statuses))})"]
    params: list = list(statuses)
    if viewer.role == "operator":
        where.append("r.operator = ? AND r.operator <> ''")
        params.append(viewer.extension or "")
    # started_at is ISO text; compare on SQLite's normalised UTC time.
    if "start" in filters:
        where.append("julianday(r.started_at) >= julianday(?)")
        params.append(filters["start"].isoformat())
    if "end" in filters:
        where.append("julianday(r.started_at) < julianday(?)")
        params.append(filters["end"].isoformat())
    if "operator" in filters:
        where.append("r.operator = ?")
        params.append(filters["operator"])
    if "group" in filters:
        where.append("r.grp = ?")
        params.append(filters["group"])
    for key in ("ani", "dnis"):
        if key in filters:
            where.append(f"r.{key} LIKE ? ESCAPE '\\'")
            params.append(_like(filters[key]))
    if "min_duration" in filters:
        where.append("r.duration >= ?")
        params.append(filters["min_duration"])
    if "max_duration" in filters:
        where.append("r.duration <= ?")
        params.append(filters["max_duration"])
    if "scored" in filters:
        where.append(("" if filters["scored"] == "yes" else "NOT ") +
                     "EXISTS (SELECT 1 FROM quality_scores s WHERE s.recording_id = r.id)")
    if "hold" in filters:
        where.append("r.legal_hold = ?")
        params.append(int(filters["hold"]))
    clause = " WHERE " + " AND ".join(where)
    total = db.execute("SELECT COUNT(*) FROM recordings r" + clause, params).fetchone()[0]
    order = "DESC" if newest_first else "ASC"
    rows = db.execute(SELECT + clause + f" ORDER BY julianday(r.started_at) {order}, r.id {order} LIMIT ? OFFSET ?",
                      [*params, limit, max(offset, 0)]).fetchall()
    return [_row(r) for r in rows], total


def download_name(rec: dict, tz: str) -> str:
    """recording-YYYY-MM-DD_HH-MM-SS-<caller>.<ext> on the call center's clock."""
    try:
        when = datetime.fromisoformat(rec["started_at"])
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        stamp = when.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d_%H-%M-%S")
    except ValueError:
        stamp = "unknown-time"
    caller = re.sub(r"[^0-9+]", "", rec.get("ani") or "") or "unknown"
    suffix = (rec["path"].rsplit(".", 1)[-1] if "." in rec["path"] else "wav").lower()
    suffix = suffix if re.fullmatch(r"^[a-z0-9]{1,5}$", suffix) else "wav"
    return f"recording-{stamp}-{caller}.{suffix}"

"""Callback orders (F3): a caller asks to be called back, as soon as possible
or in a time slot, on their own number or one they entered. The order is
stored for a group; placing the call is the ACD's job.

A slot is written ``HH:MM-HH:MM`` (the next such window: today if it has not
ended yet, otherwise tomorrow) or ``tomorrow HH:MM-HH:MM`` (``завтра`` works
too). Slots are in the call center's timezone (the ``timezone`` setting, as
for schedules); the store keeps UTC.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from appliance.base.errors import ConfigError
from appliance.outbound import policy as outbound
from appliance.schedules.store import default_timezone

STATES = ("new", "done", "cancelled", "failed")   # failed: the dialer gave up (appliance/callbacks/service.py)
FINAL = ("done", "cancelled")
NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
SLOT = re.compile(r"^\s*(?:(tomorrow|завтра)\s+)?([0-9]{1,2}):([0-9]{2})\s*-\s*([0-9]{1,2}):([0-9]{2})\s*$",
                  re.IGNORECASE)
MAX_SLOTS = 8               # keys 2..9 (1 is "as soon as possible")


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def slot_problem(spec) -> str | None:
    """Why *spec* is not a slot, or None."""
    m = SLOT.fullmatch(spec) if isinstance(spec, str) else None
    if not m:
        return f"'{spec}' is not a slot like 14:00-16:00 or tomorrow 09:00-12:00"
    h1, m1, h2, m2 = (int(x) for x in m.groups()[1:])
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        return f"'{spec}' has a time that does not exist"
    if (h1, m1) >= (h2, m2):
        return f"'{spec}' ends before it starts"
    return None


def resolve(spec: str, now: datetime) -> tuple[datetime, datetime]:
    """The (from, until) a slot means when ordered at *now* (local time)."""
    if slot_problem(spec):
        raise ConfigError("slot", "'{value}' is not a time slot", value=spec)
    m = SLOT.fullmatch(spec)
    h1, m1, h2, m2 = (int(x) for x in m.groups()[1:])
    day = now.date()
    end_of = lambda d: datetime.combine(d, time(0)) + timedelta(hours=h2, minutes=m2)  # noqa: E731
    if m.group(1) or end_of(day) <= now.replace(tzinfo=None):
        day += timedelta(days=1)
    start = datetime.combine(day, time(h1, m1))
    until = end_of(day)
    if start < now.replace(tzinfo=None):
        start = now.replace(tzinfo=None, microsecond=0)
    tz = now.tzinfo
    return (start.replace(tzinfo=tz), until.replace(tzinfo=tz))


def now_here(db) -> datetime:
    """The call center's wall clock (the ``timezone`` setting)."""
    return datetime.now(ZoneInfo(default_timezone(db)))


def when(slot: str | None, now: datetime) -> tuple[datetime, datetime | None]:
    """(from, until) of an order placed at *now*: a slot, or None for as
    soon as possible (from now, no end)."""
    return (now, None) if slot is None else resolve(slot, now)


def check_number(db, number, ani: str, by: str, what: str = "") -> str:
    """The number a callback order for caller *ani* would call, as stored; a
    number the outbound policy refuses (its form, its prefix, the caller's
    open orders) is written to the audit log and raised as
    ``outbound.Refused``. For a caller that stores the order inside a
    transaction of its own: called first, the refusal's audit entry stays."""
    number = (number or "").strip()
    if not NUMBER.fullmatch(number):
        raise ConfigError("number", "'{value}' is not a phone number", value=number)
    outbound.enforce(db, number, "callback", ani or "", by, what)
    return number


def add(db, group: str, number: str, ani: str, uniqueid: str, slot_from: datetime,
        slot_until: datetime | None = None, asap: bool = False, by: str = "ivr") -> int:
    """Store an order; the outbound policy decides first, in the same write
    transaction as the insert, so that two orders at once cannot both slip
    under the caller's cap. A refusal is audited and raised (outbound.Refused)."""
    number = (number or "").strip()
    if not NUMBER.fullmatch(number):
        raise ConfigError("number", "'{value}' is not a phone number", value=number)
    with db.atomic():
        decision = outbound.check(db, number, "callback", ani or "")
        if decision.allowed:
            return db.execute(
                "INSERT INTO callbacks (grp, number, ani, asap, slot_from, slot_until, status, uniqueid, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, 'new', ?, ?)",
                [group, number, (ani or "")[:64], 1 if asap else 0, _utc(slot_from),
                 _utc(slot_until) if slot_until else None, uniqueid or "",
                 _utc(datetime.now(timezone.utc))]).lastrowid
        outbound.record_refusal(db, decision, ani or "", by, f"callback order for {group}")
    raise outbound.Refused(decision)


COLUMNS = ("id", "grp", "number", "ani", "asap", "slot_from", "slot_until", "status", "uniqueid",
           "created_at", "changed_at", "changed_by", "refused")


def _row(r) -> dict:
    d = dict(zip(COLUMNS, r))
    d["asap"] = bool(d["asap"])
    # why the dialer refused the number ({reason, message, params}), or None
    d["refused"] = json.loads(d["refused"]) if d["refused"] else None
    return d


def get(db, order_id) -> dict | None:
    try:
        order_id = int(order_id)
    except (TypeError, ValueError):
        return None
    r = db.execute(f"SELECT {', '.join(COLUMNS)} FROM callbacks WHERE id = ?", [order_id]).fetchone()
    return _row(r) if r else None


def list_orders(db, status: str | None = None, group: str | None = None, limit: int = 200) -> list[dict]:
    """Open orders by when they are due, then the rest newest first."""
    if status and status not in STATES:
        raise ConfigError("status", "status must be one of {choices}", choices=", ".join(STATES))
    where, args = [], []
    if status:
        where.append("status = ?")
        args.append(status)
    if group:
        where.append("grp = ?")
        args.append(group)
    sql = f"SELECT {', '.join(COLUMNS)} FROM callbacks"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY status != 'new', CASE WHEN status = 'new' THEN slot_from END, id DESC LIMIT ?"
    return [_row(r) for r in db.execute(sql, [*args, max(1, min(int(limit), 1000))])]


def set_status(db, order_id, status: str, username: str) -> dict:
    """Mark an open order done or cancelled; a closed one stays as it is."""
    if status not in FINAL:
        raise ConfigError("status", "status must be one of {choices}", choices=", ".join(FINAL))
    order = get(db, order_id)
    if order is None:
        raise LookupError(order_id)
    if order["status"] != "new":
        raise ConfigError("status", "the order is already {status}", status=order["status"])
    with db.atomic():
        db.execute("UPDATE callbacks SET status = ?, changed_at = ?, changed_by = ? WHERE id = ? AND status = 'new'",
                   [status, _utc(datetime.now(timezone.utc)), username, order["id"]])
    return get(db, order["id"])

"""Failed logins and setup-code attempts counted per client address, in the
store, so every panel thread and process sees the same count.

An address with ``MAX_FAILURES`` failures within ``WINDOW`` of its first
one is refused -- without any password being checked -- until that window
ends. The count only grows within a window: a success does not reset it, so
a guesser holding one valid account cannot wipe its own record."""
from __future__ import annotations

from datetime import datetime, timedelta

from appliance.base import clock

MAX_FAILURES = 20
WINDOW = timedelta(minutes=10)


def retry_after(db, address: str, now: datetime | None = None) -> int:
    """Seconds until *address* may try again; 0 if it may now."""
    now = now or clock.now()
    row = db.execute("SELECT failures, window_start FROM login_throttle WHERE address = ?",
                     [address or "-"]).fetchone()
    if not row or row[0] < MAX_FAILURES:
        return 0
    ends = datetime.fromisoformat(row[1]) + WINDOW
    return max(0, int((ends - now).total_seconds() + 0.999))


def failed(db, address: str, now: datetime | None = None) -> int:
    """Count one failure of *address* (atomically); the count in its window."""
    now = now or clock.now()
    start = clock.stamp(now)
    expired = clock.stamp(now - WINDOW)
    # One statement: parallel failures each add exactly one.
    with db.atomic():
        count = db.execute(
            "INSERT INTO login_throttle (address, failures, window_start) VALUES (?, 1, ?) "
            "ON CONFLICT (address) DO UPDATE SET "
            "failures = CASE WHEN window_start <= ? THEN 1 ELSE failures + 1 END, "
            "window_start = CASE WHEN window_start <= ? THEN excluded.window_start ELSE window_start END "
            "RETURNING failures", [address or "-", start, expired, expired]).fetchall()[0][0]
        db.execute("DELETE FROM login_throttle WHERE window_start <= ?", [expired])
    return count

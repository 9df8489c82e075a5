"""The one clock of the core: the time now in UTC, as an aware datetime and
as the ISO text the store keeps.

Code that decides by the time (schedules, callbacks, retention, wrap-up)
takes a ``clock`` argument -- a callable returning an aware UTC datetime --
that defaults to ``now``, so a test hands in a fixed or advancing time
instead of waiting for the real one.
"""
from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)


def stamp(at: datetime | None = None, timespec: str = "seconds") -> str:
    """*at* (default: now) as the store's ISO text, e.g. 2026-12-06T10:00:00+00:00."""
    return (at or now()).isoformat(timespec=timespec)

"""Panel sessions kept in the store: the cookie carries a random session id,
the store keeps its hash. A session ends on logout, on a password change,
when its user is disabled or deleted, and after LIFETIME -- whatever the
browser still holds, a copied cookie is dead from then on."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from appliance.base import clock

LIFETIME = timedelta(hours=10)


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def start(db, user_id: int, now: datetime | None = None) -> str:
    """A new session of *user_id*; its id, for the cookie."""
    now = now or clock.now()
    sid = secrets.token_urlsafe(32)
    with db.atomic():
        db.execute("DELETE FROM sessions WHERE expires_at <= ?", [clock.stamp(now)])
        db.execute("INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                   [_hash(sid), user_id, clock.stamp(now), clock.stamp(now + LIFETIME)])
    return sid


def user_id(db, sid: str | None, now: datetime | None = None) -> int | None:
    """The user of a live session *sid*; None if it has ended."""
    if not sid:
        return None
    row = db.execute("SELECT user_id FROM sessions WHERE id = ? AND expires_at > ?",
                     [_hash(sid), clock.stamp(now)]).fetchone()
    return row[0] if row else None


def end(db, sid: str | None) -> None:
    if sid:
        db.execute("DELETE FROM sessions WHERE id = ?", [_hash(sid)])

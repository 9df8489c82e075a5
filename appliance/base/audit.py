"""The audit log: who changed what, when."""
from __future__ import annotations

import json
from datetime import datetime, timezone


def record(db, username: str | None, action: str, target: str = "", details: dict | None = None) -> None:
    db.execute("INSERT INTO audit (at, username, action, target, details) VALUES (?, ?, ?, ?, ?)",
               [datetime.now(timezone.utc).isoformat(timespec="seconds"), username, action, target,
                json.dumps(details, ensure_ascii=False, sort_keys=True) if details else None])


def entries(db, limit: int = 200, offset: int = 0) -> list[dict]:
    cols = ("id", "at", "username", "action", "target", "details")
    return [dict(zip(cols, r)) for r in db.execute(
        "SELECT id, at, username, action, target, details FROM audit ORDER BY id DESC LIMIT ? OFFSET ?",
        [limit, offset])]

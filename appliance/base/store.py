"""The store: one SQLite file (through sqlite-utils) with the configuration
and the history. WAL, a busy timeout, and named migrations recorded in the
``migrations`` table.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import sqlite_utils

from appliance.base import migrations

BUSY_TIMEOUT_MS = 5000


class Store(sqlite_utils.Database):
    """sqlite-utils' Database whose ``atomic()`` takes the write lock when the
    transaction starts (BEGIN IMMEDIATE). With a plain BEGIN, a transaction
    that reads and then writes can find another process holding the lock and
    fail at once with "database is locked" (SQLite cannot wait there without
    risking a deadlock); taking it up front lets busy_timeout do its job."""

    @contextlib.contextmanager
    def atomic(self):
        if self.conn.in_transaction:
            with super().atomic():
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.conn.rollback()
            raise
        else:
            self.conn.commit()


def open_store(path: str | os.PathLike, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the store at *path* and bring it up to date."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000,
                           check_same_thread=False)
    db = Store(conn)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA foreign_keys = ON")
    if db.journal_mode != "wal":
        db.enable_wal()
    # History must survive a power cut once it has been committed.
    db.execute("PRAGMA synchronous = FULL")
    if migrate:
        migrations.apply(db)
    return db


def get_setting(db, key: str, default: str | None = None) -> str | None:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def set_setting(db, key: str, value) -> None:
    db.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, str(value)],
    )


def settings(db) -> dict[str, str]:
    return dict(db.execute("SELECT key, value FROM settings").fetchall())

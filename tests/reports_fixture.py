"""A small hand-written history for the report tests (unit and panel): ten
calls, operator states, callbacks, messages and quality scores, mostly in
March 2026 in Moscow time (UTC+3, no DST). The expected figures are written
out by hand in tests/unit/test_reports.py."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

NOW = datetime(2026, 3, 5, 10, 30, tzinfo=timezone.utc)

# name, direction, grp, trunk, dnis, operator, started (UTC), wait, talk, hold, transfers,
# outcome, ivr_only; wait/talk None = take them from the row's times
CALLS = [
    ("H", "inbound", "support", "pstn", "100", None, "2026-02-28T22:00:00", 3, None, None, 0, "abandoned", 0),
    ("A", "inbound", "support", "pstn", "100", "1001", "2026-03-02T06:00:00", 15, 120, 10, 0, "answered", 0),
    ("B", "inbound", "support", "pstn", "100", "1002", "2026-03-02T06:30:00", 25, 200, 0, 1, "answered", 0),
    ("C", "inbound", "support", "pstn", "100", None, "2026-03-02T07:10:00", 8, None, None, 0, "abandoned", 0),
    ("D", "inbound", "sales", "e1a", "200", None, "2026-03-03T20:30:00", 45, None, None, 0, "abandoned", 0),
    ("E", "inbound", "sales", "e1a", "200", "1001", "2026-03-03T21:30:00", 5, 60, 0, 0, "answered", 0),
    ("F", "inbound", None, "pstn", "100", None, "2026-03-04T09:00:00", None, None, None, 0, "abandoned", 1),
    ("G", "outbound", "support", "pstn", None, "1002", "2026-03-05T10:00:00", None, None, None, 0, "answered", 0),
    ("I", "inbound", "support", "pstn", "100", "1001", "2026-03-31T21:30:00", 4, 30, 0, 0, "answered", 0),
    ("J", "inbound", "support", "pstn", "100", None, "2026-03-05T10:20:00", None, None, None, 0, None, 0),
]


def _iso(text: str, plus: float = 0) -> str:
    moment = datetime.fromisoformat(text).replace(tzinfo=timezone.utc) + timedelta(seconds=plus)
    return moment.isoformat(timespec="milliseconds")


def add_call(db, name, direction, grp, trunk, dnis, operator, started, wait, talk, hold, transfers,
             outcome, ivr_only):
    queued = _iso(started, 10)
    connected = ended = None
    if outcome == "answered":
        w = 13 if wait is None else wait          # G: wait from queued_at..connected_at
        connected = _iso(started, 10 + w)
        ended = _iso(started, 10 + w + (90 if talk is None else talk + (hold or 0)))
    elif outcome == "abandoned":
        ended = _iso(started, 10 + (wait or 0) + (30 if ivr_only else 0))
    db.execute(
        "INSERT INTO calls (uniqueid, linkedid, direction, ani, dnis, trunk, grp, operator, started_at, "
        "queued_at, connected_at, ended_at, outcome, wait_seconds, talk_seconds, hold_seconds, transfers, "
        "ivr_only) VALUES (?, ?, ?, '4951234567', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [f"u-{name}", f"u-{name}", direction, dnis, trunk, grp, operator, _iso(started),
         None if ivr_only else queued, connected, ended, outcome, wait, talk, hold, transfers, ivr_only])


def _operator_id(db, extension: str) -> int:
    row = db.execute("SELECT id FROM operators WHERE extension = ?", [extension]).fetchone()
    if row:
        return row[0]
    return db.execute("INSERT INTO operators (extension, name, sip_secret) VALUES (?, ?, 'x')",
                      [extension, f"Operator {extension}"]).lastrowid


STATES = [
    ("1001", "ready", None, "2026-03-02T05:00:00", "2026-03-02T06:00:00"),
    ("1001", "on_call", None, "2026-03-02T06:00:00", "2026-03-02T06:02:10"),
    ("1001", "wrapup", None, "2026-03-02T06:02:10", "2026-03-02T06:03:10"),
    ("1001", "paused", "lunch", "2026-03-02T06:03:10", "2026-03-02T07:03:10"),
    ("1001", "paused", "training", "2026-03-02T20:00:00", "2026-03-02T22:00:00"),
    ("1001", "logged_out", None, "2026-03-02T22:00:00", None),
    ("1002", "paused", "lunch", "2026-03-05T10:00:00", None),
]


def add_state(db, extension, state, reason, started, ended):
    db.execute("INSERT INTO operator_state_log (operator_id, state, reason, started_at, ended_at) "
               "VALUES (?, ?, ?, ?, ?)", [_operator_id(db, extension), state, reason, _iso(started),
                                          _iso(ended) if ended else None])


def seed(db) -> None:
    with db.atomic():
        for call in CALLS:
            add_call(db, *call)
        for st in STATES:
            add_state(db, *st)
        for grp, created in (("support", "2026-03-02T08:00:00"), ("support", "2026-03-04T08:00:00")):
            # closed orders: a live appliance's dialer must not start calling them
            db.execute("INSERT INTO callbacks (grp, number, slot_from, created_at, status) "
                       "VALUES (?, '4951112233', ?, ?, 'done')", [grp, _iso(created), _iso(created)])
        first = db.execute("SELECT MIN(id) FROM callbacks").fetchone()[0]
        for result in ("no_answer", "answered"):
            db.execute("INSERT INTO callback_attempts (callback_id, at, operator, result) VALUES (?, ?, '1001', ?)",
                       [first, _iso("2026-03-04T09:00:00"), result])
        for grp, created, handled in (("support", "2026-03-02T09:00:00", "2026-03-02T10:00:00"),
                                      ("sales", "2026-03-03T09:00:00", None),
                                      ("support", "2026-02-10T09:00:00", None)):
            db.execute("INSERT INTO messages (grp, file, duration, created_at, handled_at) VALUES (?, 'm.wav', 5, ?, ?)",
                       [grp, _iso(created), _iso(handled) if handled else None])
        for n, (operator, total) in enumerate((("1001", 80), ("1001", 90), ("1002", 70))):
            rec = db.execute("INSERT INTO recordings (linkedid, path, started_at, operator, grp, status) "
                             "VALUES (?, ?, ?, ?, 'support', 'good')",
                             [f"u-q{n}", f"q{n}.wav", _iso("2026-03-02T06:00:00"), operator]).lastrowid
            form = db.execute("INSERT INTO quality_forms (family, name, created_at) VALUES (1, 'f', ?)",
                              [_iso("2026-03-01T00:00:00")]).lastrowid
            db.execute("INSERT INTO quality_scores (recording_id, form_id, reviewer, scored_at, operator, grp, "
                       "call_at, total) VALUES (?, ?, 'super', ?, ?, 'support', ?, ?)",
                       [rec, form, _iso("2026-03-06T00:00:00"), operator, _iso("2026-03-02T06:00:00"), total])

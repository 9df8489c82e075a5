"""The rollups the reports read instead of scanning every call.

Calls: three tables of sums (``report_calls_hour``: local day × hour ×
direction × group; ``report_calls_line``: day × direction × group × trunk ×
span × DNIS × route source; ``report_calls_operator``: day × direction ×
group × operator). They are kept per **local day**: a day is recomputed as a
whole from its finished calls (delete its rows, insert the new sums), so
recomputing it again gives the same rows — the catch-up is idempotent and
corrects itself. Which days are recomputed (``report_dirty_days``):

- the days of calls with an id above the watermark (``reports.calls_watermark``,
  new rows, whoever wrote them);
- days marked by ``touch`` (the history calls it when it changes a call
  that had already ended, e.g. a CDR catch-up after downtime);
- a day stays marked while one of its calls is still going on (started less
  than a day ago) or ended less than ``SETTLE_SECONDS`` ago, so late
  updates of a just-finished call (talk, hold, transfers) are picked up.

Operator states: the seconds of each closed ``operator_state_log`` row are
added to ``report_states`` (local day × operator × state × reason), split at
local midnight, once: rows above ``reports.states_watermark`` are read; an
open one is remembered in ``report_open_states`` and added when it closes.
The watermark and the sums move in one transaction. Open states are added
live at query time (engine.py).

If the ``timezone`` setting (or ``FORMAT``) changes, everything is rebuilt.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from appliance.base import clock, store
from appliance.reports import measures, period

CALLS_WATERMARK = "reports.calls_watermark"
STATES_WATERMARK = "reports.states_watermark"
ROLLUP_TZ = "reports.timezone"     # the zone (and format) the rollups were built in
FORMAT = "2"                        # bump when what a rollup row holds changes: rebuilt
SETTLE_SECONDS = 600
STILL_GOING = 86400
CALL_COLUMNS = ("id", "direction", "grp", "trunk", "span", "dnis", "route_source", "operator",
                "started_at", "queued_at", "connected_at", "ended_at", "outcome", "wait_seconds",
                "talk_seconds", "hold_seconds", "transfers", "ivr_only")

# table -> its key columns (besides day and week; "hour" only in the first)
TABLES = {
    "report_calls_hour": ("hour", "direction", "grp"),
    "report_calls_line": ("direction", "grp", "trunk", "span", "dnis", "route_source"),
    "report_calls_operator": ("direction", "grp", "operator"),
}


def fetch_calls(db, start_utc: str, end_utc: str, where: str = "", args=()) -> list[dict]:
    """Finished calls that started in [start, end) (UTC text bounds)."""
    sql = (f"SELECT {', '.join(CALL_COLUMNS)} FROM calls WHERE started_at >= ? AND started_at < ? "
           f"AND ended_at IS NOT NULL {where}")
    return [dict(zip(CALL_COLUMNS, r)) for r in db.execute(sql, [start_utc, end_utc, *args])]


def key_values(c: dict, tz) -> dict:
    """The dimensions of one call ('' for unknown)."""
    out = period.buckets(c["started_at"], tz)
    for col in ("direction", "grp", "trunk", "span", "dnis", "route_source", "operator", "outcome"):
        out[col] = c.get(col) or ""
    return out


def touch(db, started_at: str) -> None:
    """Mark the local day of a call for recomputing (the history calls this
    when it changes a call that had already ended)."""
    day = period.buckets(started_at, period.zone(db))["day"]
    db.execute("INSERT INTO report_dirty_days (day) VALUES (?) ON CONFLICT(day) DO NOTHING", [day])


def recompute_day(db, day: str, tz, now: datetime | None = None) -> bool:
    """Rewrite one local day's call sums; True if the day must be looked at
    again (a call of it is still going on or has only just ended)."""
    now = now or clock.now()
    start, end = period.day_bounds(date.fromisoformat(day), tz)
    sums = {t: {} for t in TABLES}
    for c in fetch_calls(db, start, end):
        keys = key_values(c, tz)
        part = measures.call_sums(c)
        for table, cols in TABLES.items():
            measures.add(sums[table].setdefault(tuple(keys[k] for k in cols) + (keys["week"],), {}), part)
    for table, cols in TABLES.items():
        db.execute(f"DELETE FROM {table} WHERE day = ?", [day])
        names = ("day",) + cols + ("week",) + measures.SUMS
        db.conn.executemany(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [(day, *key, *(s.get(k, 0) for k in measures.SUMS)) for key, s in sums[table].items()])
    settle = period.utc_text(now - timedelta(seconds=SETTLE_SECONDS))
    going = period.utc_text(now - timedelta(seconds=STILL_GOING))
    return db.execute(
        "SELECT 1 FROM calls WHERE started_at >= ? AND started_at < ? AND "
        "((ended_at IS NULL AND started_at >= ?) OR ended_at >= ?) LIMIT 1",
        [start, end, going, settle]).fetchone() is not None


def _rebuild_if_zone_changed(db, tz) -> None:
    if store.get_setting(db, ROLLUP_TZ) == f"{tz.key} v{FORMAT}":
        return
    with db.atomic():
        for table in (*TABLES, "report_states", "report_dirty_days", "report_open_states"):
            db.execute(f"DELETE FROM {table}")
        store.set_setting(db, CALLS_WATERMARK, 0)
        store.set_setting(db, STATES_WATERMARK, 0)
        store.set_setting(db, ROLLUP_TZ, f"{tz.key} v{FORMAT}")


def refresh_calls(db, tz, now: datetime | None = None, batch: int = 50000) -> int:
    """Bring the call rollups up to date; returns how many days were
    recomputed. Each day is its own transaction (a long catch-up never
    holds the write lock for long)."""
    while True:
        with db.atomic():
            mark = int(store.get_setting(db, CALLS_WATERMARK, "0"))
            rows = db.execute("SELECT id, started_at FROM calls WHERE id > ? ORDER BY id LIMIT ?",
                              [mark, batch]).fetchall()
            if not rows:
                break
            days = {period.buckets(r[1], tz)["day"] for r in rows}
            db.conn.executemany("INSERT INTO report_dirty_days (day) VALUES (?) ON CONFLICT(day) DO NOTHING",
                                [(d,) for d in days])
            store.set_setting(db, CALLS_WATERMARK, rows[-1][0])
    done = 0
    for (day,) in db.execute("SELECT day FROM report_dirty_days ORDER BY day").fetchall():
        with db.atomic():
            if not recompute_day(db, day, tz, now):
                db.execute("DELETE FROM report_dirty_days WHERE day = ?", [day])
        done += 1
    return done


def split_by_day(start: datetime, end: datetime, tz):
    """(local day, seconds) pieces of [start, end)."""
    start, end = start.astimezone(tz), end.astimezone(tz)
    while start < end:
        midnight = datetime.combine(start.date() + timedelta(days=1), datetime.min.time(), tz)
        stop = min(end, midnight)
        yield start.date(), (stop - start).total_seconds()
        start = stop


STATE_SELECT = ("SELECT l.id, COALESCE(o.extension, CAST(l.operator_id AS TEXT)), l.state, "
                "COALESCE(l.reason, ''), l.started_at, l.ended_at FROM operator_state_log l "
                "LEFT JOIN operators o ON o.id = l.operator_id ")


def state_pieces(row, tz, now: datetime | None = None):
    """(day, operator, state, reason, seconds) of one log row; an open row
    runs until *now*."""
    _, operator, state, reason, started, ended = row
    if state not in measures.STATE_MEASURE:
        return
    end = period.local(ended, tz) if ended else (now or clock.now())
    for day, seconds in split_by_day(period.local(started, tz), end, tz):
        if seconds > 0:
            yield day, operator, state, reason, seconds


def _add_states(db, rows, tz) -> None:
    pieces = {}
    for row in rows:
        for day, operator, state, reason, seconds in state_pieces(row, tz):
            key = (day.isoformat(), period.week_of(day), operator, state, reason)
            pieces[key] = pieces.get(key, 0) + seconds
    db.conn.executemany(
        "INSERT INTO report_states (day, week, operator, state, reason, seconds) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(day, operator, state, reason) DO UPDATE SET seconds = seconds + excluded.seconds",
        [(*k, v) for k, v in pieces.items()])


def refresh_states(db, tz, batch: int = 50000) -> int:
    """Add closed state-log rows to report_states once; returns how many."""
    added = 0
    with db.atomic():
        waiting = [r[0] for r in db.execute("SELECT id FROM report_open_states")]
        closed = []
        for i in range(0, len(waiting), 500):
            part = waiting[i:i + 500]
            closed += db.execute(STATE_SELECT + f"WHERE l.id IN ({', '.join('?' * len(part))}) "
                                 "AND l.ended_at IS NOT NULL", part).fetchall()
        _add_states(db, closed, tz)
        db.conn.executemany("DELETE FROM report_open_states WHERE id = ?", [(r[0],) for r in closed])
        added += len(closed)
    while True:
        with db.atomic():
            mark = int(store.get_setting(db, STATES_WATERMARK, "0"))
            rows = db.execute(STATE_SELECT + "WHERE l.id > ? ORDER BY l.id LIMIT ?", [mark, batch]).fetchall()
            if not rows:
                break
            closed = [r for r in rows if r[5]]
            _add_states(db, closed, tz)
            db.conn.executemany("INSERT INTO report_open_states (id) VALUES (?) ON CONFLICT(id) DO NOTHING",
                                [(r[0],) for r in rows if not r[5]])
            store.set_setting(db, STATES_WATERMARK, rows[-1][0])
            added += len(closed)
    return added


def refresh(db, now: datetime | None = None) -> dict:
    """Catch the rollups up with the history (safe to run any time, from
    any process, as often as wanted)."""
    tz = period.zone(db)
    _rebuild_if_zone_changed(db, tz)
    return {"days": refresh_calls(db, tz, now), "states": refresh_states(db, tz)}


def rebuild(db) -> dict:
    """Forget the rollups and build them again from the history."""
    with db.atomic():
        store.set_setting(db, ROLLUP_TZ, "")
    return refresh(db)

"""Reports on a year of history: each ready report for a month and for the
year, the rollup catch-up, the ingestion rate and the size on disk.

Generates a realistic history into a real SQLite store (all migrations
applied; executemany in transactions): --calls calls (default 1 000 000)
over 2025 in Moscow time, 200 operators in 20 groups of 10 with uneven
traffic, busy hours (peaks 10-12 and 14-16, quieter weekends), 4 lines
(SIP and three E1 spans) and 20 numbers, 10 % served by the IVR alone, 8 %
outbound (the callback dialer), abandons that grow with the wait, holds and
transfers; each operator's state log (ready, on a call, wrap-up, pauses for
lunch and breaks) follows the calls they took. Then:

- builds the rollups from nothing (``rollup.refresh``: the same catch-up the
  panel runs), timed, as calls per second;
- answers every ready report for June and for the whole year as the panel
  does (catch-up first, then the rollups), timed — target under 1 s;
- baseline in the same run: the same reports for June answered from the raw
  rows (``raw=True``), and the ratio;
- ingestion: --ingest calls fed as AMI events through the history
  (appliance.history.store.CallHistory: Newchannel, QueueCallerJoin, AgentConnect,
  Hangup — the path that finishes a call row), then the rollup catch-up of
  those calls; calls per second of each;
- the store's size on disk per million calls, with and without the rollups.

Writes ``bench/results/report_queries.json``.

Run: ``.venv/bin/python bench/report_queries.py [--calls 1000000] [--ingest 5000] [--keep DIR [--reuse]]``
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.base import dialplan_names as dn
from appliance.base import store
from appliance.history.store import CallHistory
from appliance.reports import engine
from appliance.reports import forms
from appliance.reports import rollup
from appliance.reports import period as P

RESULTS = Path(__file__).resolve().parent / "results" / "report_queries.json"
OPERATORS, GROUPS, YEAR = 200, 20, 2025
TZ = ZoneInfo("Europe/Moscow")
LINES = [("pstn", ""), ("e1a", "1"), ("e1b", "2"), ("e1c", "3")]
# calls per local hour of a working day (relative)
HOURLY = [0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.4, 1.0, 3.0, 6.0, 9.0, 9.5, 8.0, 6.5, 8.5, 9.0, 8.0, 6.5,
          5.0, 3.5, 2.5, 1.5, 0.8, 0.4]
PAUSES = [("lunch", 45 * 60), ("technical break", 10 * 60), ("training", 30 * 60)]


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def seed_config(db) -> list[list[int]]:
    """Operators 2000..2199 and groups g00..g19; returns operator ids per group."""
    with db.atomic():
        for i in range(OPERATORS):
            db.execute("INSERT INTO operators (extension, name, sip_secret) VALUES (?, ?, 'x')",
                       [str(2000 + i), f"Operator {i}"])
        for gi in range(GROUPS):
            db.execute("INSERT INTO groups (name, title) VALUES (?, ?)", [f"g{gi:02d}", f"Group {gi}"])
    ids = [r[0] for r in db.execute("SELECT id FROM operators WHERE extension >= '2000' ORDER BY extension")]
    per = OPERATORS // GROUPS
    return [ids[g * per:(g + 1) * per] for g in range(GROUPS)]


def generate(db, total: int, members: list[list[int]], rnd: random.Random) -> dict:
    """Calls and state logs for the year, day by day, in time order."""
    days = [date(YEAR, 1, 1) + timedelta(days=i) for i in range(365)]
    weights = [0.45 if d.weekday() >= 5 else 1.0 for d in days]
    per_day = [total * w / sum(weights) for w in weights]
    group_weight = [1.0 / (1 + 0.25 * g) for g in range(GROUPS)]
    ext_of = {op: str(2000 + i) for i, op in enumerate(sum(members, []))}
    n = 0
    states = 0
    t0 = time.monotonic()
    for day, expected in zip(days, per_day):
        count = round(expected) if day != days[-1] else total - n
        hours = rnd.choices(range(24), weights=HOURLY, k=count)
        starts = sorted(datetime(day.year, day.month, day.day, h, tzinfo=TZ) +
                        timedelta(seconds=rnd.random() * 3600) for h in hours)
        busy = {op: datetime(day.year, day.month, day.day, 8, tzinfo=TZ) for op in ext_of}
        log = {op: [] for op in ext_of}
        rows = []
        for start in starts:
            n += 1
            g = rnd.choices(range(GROUPS), weights=group_weight)[0]
            trunk, span = LINES[0] if rnd.random() < 0.55 else LINES[1 + g % 3]
            dnis = f"{495000 + g}"
            outbound = rnd.random() < 0.08
            ivr_only = not outbound and rnd.random() < 0.10
            queued = start + timedelta(seconds=rnd.uniform(5, 40))
            row = {"direction": "outbound" if outbound else "inbound", "grp": None if ivr_only else f"g{g:02d}",
                   "trunk": trunk, "span": span or None, "dnis": None if outbound else dnis,
                   "operator": None, "queued": None, "connected": None, "wait": None, "talk": None,
                   "hold": 0.0, "transfers": 0, "ivr_only": int(ivr_only), "route": "scenario"}
            if ivr_only:
                end = start + timedelta(seconds=rnd.uniform(20, 120))
                outcome = "abandoned"
            else:
                row["queued"] = queued
                op = min(members[g], key=lambda o: busy[o])
                patience = rnd.expovariate(1 / 90)
                wait = max(rnd.expovariate(1 / 18), (busy[op] - queued).total_seconds())
                if wait > patience and not outbound:
                    end = queued + timedelta(seconds=patience)
                    row["wait"], outcome = round(patience, 1), "abandoned"
                else:
                    connected = queued + timedelta(seconds=wait)
                    talk = min(3600, rnd.lognormvariate(5.0, 0.6))
                    hold = rnd.expovariate(1 / 40) if rnd.random() < 0.12 else 0.0
                    end = connected + timedelta(seconds=talk + hold)
                    row.update(operator=ext_of[op], connected=connected, wait=round(wait, 1),
                               talk=round(talk, 1), hold=round(hold, 1),
                               transfers=int(rnd.random() < 0.04))
                    outcome = "answered"
                    wrap_end = end + timedelta(seconds=30)
                    if busy[op] < connected:
                        log[op].append(("ready", None, busy[op], connected))
                    log[op].append(("on_call", None, connected, end))
                    log[op].append(("wrapup", None, end, wrap_end))
                    busy[op] = wrap_end
            rows.append((f"{start.timestamp():.3f}.{n}", row["direction"], "4951234567", row["dnis"], row["trunk"],
                         row["grp"], row["route"], row["operator"], iso(start),
                         iso(row["connected"]) if row["connected"] else None,
                         iso(row["connected"]) if row["connected"] else None, iso(end), outcome,
                         iso(row["queued"]) if row["queued"] else None, row["wait"], row["talk"], row["hold"],
                         row["transfers"], "caller", row["span"], row["ivr_only"]))
        state_rows = []
        for op, entries in log.items():
            if not entries:
                continue
            for reason, seconds in rnd.sample(PAUSES, 2):     # two pauses a day between calls
                at = rnd.choice(entries)[3]
                state_rows.append((op, "paused", reason, iso(at), iso(at + timedelta(seconds=seconds))))
            for state, reason, s, e in entries:
                state_rows.append((op, state, reason, iso(s), iso(e)))
            state_rows.append((op, "logged_out", None, iso(entries[-1][3]), iso(entries[-1][3] + timedelta(hours=12))))
        state_rows.sort(key=lambda r: r[3])
        with db.atomic():
            db.conn.executemany(
                "INSERT INTO calls (uniqueid, direction, ani, dnis, trunk, grp, route_source, operator, started_at, "
                "answered_at, connected_at, ended_at, outcome, queued_at, wait_seconds, talk_seconds, hold_seconds, "
                "transfers, hangup_by, span, ivr_only) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?)", rows)
            db.conn.executemany(
                "INSERT INTO operator_state_log (operator_id, state, reason, started_at, ended_at) "
                "VALUES (?, ?, ?, ?, ?)", state_rows)
        states += len(state_rows)
    return {"calls": n, "state_log_rows": states, "seconds": round(time.monotonic() - t0, 1)}


def size_by_table(db) -> dict:
    """MB per table, its indexes included (SQLite's dbstat), when available."""
    try:
        pages = db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    except Exception:  # noqa: BLE001 - dbstat is an optional part of SQLite
        return {}
    owner = dict(db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
    out: dict = {}
    for name, size in pages:
        table = owner.get(name, name)
        out[table] = out.get(table, 0) + size
    return {t: round(v / 2**20, 1) for t, v in sorted(out.items(), key=lambda kv: -kv[1]) if v >= 2**20}


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def ingest(db, count: int, rnd: random.Random) -> dict:
    """Calls as AMI events through the history (autocommit per event, as the
    events service does), then the rollup catch-up of those calls."""
    history = CallHistory(db)
    base = datetime(YEAR + 1, 1, 15, 9, tzinfo=TZ).timestamp()
    t = time.perf_counter()
    events = 0
    for i in range(count):
        start = base + i * 3.0
        lid = f"{start:.3f}.ing{i}"
        group = f"g{i % GROUPS:02d}"
        batch = [{"Event": "Newchannel", "Uniqueid": lid, "Linkedid": lid, "Context": dn.CTX_INBOUND,
                  "CallerIDNum": "4951234567", "Exten": "495000", "Channel": f"PJSIP/pstn-{i:08x}",
                  "Timestamp": f"{start:.3f}"},
                 {"Event": "QueueCallerJoin", "Uniqueid": lid, "Linkedid": lid, "Queue": group,
                  "Timestamp": f"{start + 10:.3f}"}]
        if rnd.random() < 0.9:
            batch.append({"Event": "AgentConnect", "Uniqueid": lid, "Linkedid": lid, "Queue": group,
                          "DestChannel": f"PJSIP/{2000 + i % OPERATORS}-{i:08x}", "DestUniqueid": f"{lid}-op",
                          "MemberName": str(2000 + i % OPERATORS), "Timestamp": f"{start + 25:.3f}"})
        batch.append({"Event": "Hangup", "Uniqueid": lid, "Linkedid": lid, "Cause": "16",
                      "Timestamp": f"{start + 200:.3f}"})
        for e in batch:
            history.handle(e)
        events += len(batch)
    history_s = time.perf_counter() - t
    t = time.perf_counter()
    rollup.refresh(db, now=datetime(YEAR + 2, 1, 1, tzinfo=timezone.utc))
    rollup_s = time.perf_counter() - t
    return {"calls": count, "events": events, "history_seconds": round(history_s, 2),
            "history_calls_per_s": round(count / history_s, 1), "events_per_s": round(events / history_s, 1),
            "rollup_seconds": round(rollup_s, 2), "rollup_calls_per_s": round(count / rollup_s, 1),
            "calls_per_s_end_to_end": round(count / (history_s + rollup_s), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--ingest", type=int, default=5000)
    ap.add_argument("--keep", help="build the store in this directory and keep it")
    ap.add_argument("--reuse", action="store_true",
                    help="with --keep: reuse the history generated there before (rollups are rebuilt)")
    ap.add_argument("--seed", type=int, default=6)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    workdir = Path(args.keep or tempfile.mkdtemp(prefix="korund-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "korund.db"
    reuse = args.reuse and args.keep and path.exists()
    if not reuse:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = store.open_store(path)
    if reuse:
        db.execute("DELETE FROM calls WHERE uniqueid LIKE '%.ing%'")      # an earlier run's ingestion
        gen = {"calls": db.execute("SELECT COUNT(*) FROM calls").fetchone()[0],
               "state_log_rows": db.execute("SELECT COUNT(*) FROM operator_state_log").fetchone()[0],
               "seconds": None, "reused": str(path)}
        with db.atomic():
            for table in (*rollup.TABLES, "report_states", "report_dirty_days", "report_open_states"):
                db.execute(f"DELETE FROM {table}")
            store.set_setting(db, rollup.CALLS_WATERMARK, 0)
            store.set_setting(db, rollup.STATES_WATERMARK, 0)
        db.execute("VACUUM")
    else:
        db.execute("PRAGMA synchronous = NORMAL")      # generating only; the rest runs as the appliance does
        members = seed_config(db)
        print(f"generating {args.calls} calls into {path} ...", flush=True)
        gen = generate(db, args.calls, members, rnd)
    print(f"  {gen}", flush=True)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size_raw = path.stat().st_size
    db.execute("PRAGMA synchronous = FULL")
    args.calls = gen["calls"]

    t = time.perf_counter()
    built = rollup.refresh(db, now=datetime(YEAR + 1, 6, 1, tzinfo=timezone.utc))
    build_s = time.perf_counter() - t
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size_all = path.stat().st_size
    breakdown = size_by_table(db)
    rollup_rows = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                   for t in (*rollup.TABLES, "report_states")}
    print(f"rollups built in {build_s:.1f} s ({args.calls / build_s:.0f} calls/s): {rollup_rows}", flush=True)

    month = P.Period(date(YEAR, 6, 1), date(YEAR, 6, 30))
    year = P.Period(date(YEAR, 1, 1), date(YEAR, 12, 31))
    reports = {}
    for key, spec in forms.READY.items():
        m_s, m_res = timed(lambda: engine.run(db, spec, month))
        y_s, _ = timed(lambda: engine.run(db, spec, year))
        raw_s, raw_res = timed(lambda: engine.run(db, spec, month, refresh=False, raw=True), repeat=1)
        same = (m_res.rows, m_res.total) == (raw_res.rows, raw_res.total)
        reports[key] = {"month_s": round(m_s, 4), "year_s": round(y_s, 4), "raw_month_s": round(raw_s, 3),
                        "ratio_raw_to_rollup_month": round(raw_s / m_s, 1) if m_s else None,
                        "source": m_res.sources, "rollup_equals_raw": same}
        print(f"  {key:20s} month {m_s * 1000:7.1f} ms  year {y_s * 1000:7.1f} ms  raw month {raw_s * 1000:8.1f} ms"
              f"  {'=' if same else 'DIFFERENT'}  {m_res.sources}", flush=True)
    raw_year_s, _ = timed(lambda: engine.run(db, forms.READY["days"], year, refresh=False, raw=True), repeat=1)
    print(f"  days from raw rows for the year: {raw_year_s:.2f} s", flush=True)

    print(f"ingesting {args.ingest} calls through the history ...", flush=True)
    ing = ingest(db, args.ingest, rnd)
    print(f"  {ing}", flush=True)

    worst = max(max(r["month_s"], r["year_s"]) for r in reports.values())
    result = {
        "benchmark": "report_queries",
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "sqlite": store.sqlite3.sqlite_version},
        "generated": gen,
        "rollup_build": {"seconds": round(build_s, 1), "calls_per_s": round(args.calls / build_s), **built,
                         "rows": rollup_rows},
        "size": {"bytes_without_rollups": size_raw, "bytes_with_rollups": size_all,
                 "mb_per_million_calls": round(size_all / args.calls * 1e6 / 2**20, 1),
                 "rollups_mb_per_million_calls": round((size_all - size_raw) / args.calls * 1e6 / 2**20, 1),
                 "mb_by_table_with_its_indexes": breakdown},
        "reports": reports,
        "worst_report_s": round(worst, 4),
        "target_s": 1.0,
        "baseline": {"days_raw_year_s": round(raw_year_s, 2)},
        "ingestion": ing,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"worst ready report {worst * 1000:.0f} ms (target 1000 ms); written {RESULTS}")
    db.close()
    if not args.keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        workdir.rmdir()


if __name__ == "__main__":
    main()

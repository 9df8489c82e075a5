"""Routing decision time: appliance.routing.store.decide() on a large store.

Builds a throw-away SQLite store (in a temporary directory, all migrations
applied) with 200 operators in 20 groups of 10, each operator with 1-3
skills, some paused, 50 000 clients (a quarter with a personal operator, one
in twenty VIP), 200 VIP list entries and 100 000 calls of history over 60
days; then times ``decide()`` for calls from known clients, from numbers
with history only and from unknown numbers, to a random group with and
without a skill. No Asterisk involved: this is the work the FastAGI does
per call before the dialplan queues it.

Prints median and p99 (ms) and writes ``bench/results/routing_decision.json``.

Run: ``.venv/bin/python bench/routing_decision.py [--decisions 5000]``
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.base import instance
from appliance.routing import store as routing
from appliance.base import store
from appliance.base.instance import Instance

RESULTS = Path(__file__).resolve().parent / "results" / "routing_decision.json"
OPERATORS, GROUPS, CALLS, CLIENTS = 200, 20, 100_000, 50_000
SKILLS = ["billing", "tech", "sales", "en", "de", "vip_care"]


def seed(db, rnd: random.Random) -> dict:
    now = datetime.now(timezone.utc)
    with db.atomic():
        db.execute("DELETE FROM group_members")
        db.execute("DELETE FROM groups")
        db.execute("DELETE FROM operators")
        for i in range(OPERATORS):
            db.execute("INSERT INTO operators (extension, name, sip_secret, enabled) VALUES (?, ?, ?, 1)",
                       [str(2000 + i), f"Operator {i}", f"secret{i}"])
        ops = {r[1]: r[0] for r in db.execute("SELECT id, extension FROM operators")}
        for gi in range(GROUPS):
            db.execute("INSERT INTO groups (name, title, is_default) VALUES (?, ?, ?)",
                       [f"g{gi}", f"Group {gi}", int(gi == 0)])
            gid = db.execute("SELECT id FROM groups WHERE name = ?", [f"g{gi}"]).fetchone()[0]
            for k in range(OPERATORS // GROUPS):
                ext = str(2000 + gi * (OPERATORS // GROUPS) + k)
                db.execute("INSERT INTO group_members (group_id, operator_id) VALUES (?, ?)", [gid, ops[ext]])
        for ext, op_id in ops.items():
            for skill in rnd.sample(SKILLS, rnd.randint(1, 3)):
                db.execute("INSERT INTO operator_skills (operator_id, skill, level) VALUES (?, ?, ?)",
                           [op_id, skill, rnd.randint(1, 10)])
            if rnd.random() < 0.3:
                db.execute("INSERT INTO operator_states (operator_id, state, since) VALUES (?, 'paused', ?)",
                           [op_id, now.isoformat()])
        exts = list(ops)
        stamp = now.isoformat()
        clients = []
        for i in range(CLIENTS):
            number = f"7900{i:07d}"
            personal = rnd.choice(exts) if rnd.random() < 0.25 else None
            cur = db.execute("INSERT INTO clients (name, personal_operator, vip, created_at, updated_at) "
                             "VALUES (?, ?, ?, ?, ?)", [f"Client {i}", personal, int(rnd.random() < 0.05),
                                                        stamp, stamp])
            db.execute("INSERT INTO client_phones (number, client_id) VALUES (?, ?)", [number, cur.lastrowid])
            clients.append(number)
        history = [f"7911{i:07d}" for i in range(CALLS // 4)]
        for i in range(CALLS):
            ani = rnd.choice(history) if i % 2 else rnd.choice(clients)
            at = (now - timedelta(seconds=rnd.randint(0, 60 * 86400))).isoformat(timespec="milliseconds")
            db.execute("INSERT INTO calls (uniqueid, ani, operator, started_at, outcome) VALUES (?, ?, ?, ?, ?)",
                       [f"b{i}", ani, rnd.choice(exts), at, "answered"])
        for i in range(200):
            db.execute("INSERT INTO vip_numbers (pattern, priority) VALUES (?, ?)",
                       [f"7495{i:03d}*" if i % 2 else f"7495{i:07d}", rnd.randint(1, 9)])
    db.execute("ANALYZE")
    return {"clients": clients, "history": history}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--decisions", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        inst = Instance(Path(tmp) / "bench")
        inst.create_dirs()
        db = store.open_store(inst.db_path)
        instance.initialise(db)
        t0 = time.perf_counter()
        numbers = seed(db, rnd)
        seeded = time.perf_counter() - t0
        kinds = {"client": numbers["clients"], "history": numbers["history"],
                 "unknown": [f"7999{i:07d}" for i in range(1000)]}
        times: dict[str, list[float]] = {k: [] for k in kinds}
        sources: dict[str, int] = {}
        for i in range(args.decisions):
            kind = list(kinds)[i % 3]
            ani = rnd.choice(kinds[kind])
            req = routing.Request(f"g{rnd.randrange(GROUPS)}", rnd.choice(SKILLS + ["", ""]), rnd.randint(0, 3))
            t = time.perf_counter()
            d = routing.decide(db, ani, "100", req)
            times[kind].append((time.perf_counter() - t) * 1000)
            sources[d.source] = sources.get(d.source, 0) + 1
        db.close()
    every = sorted(x for v in times.values() for x in v)
    p = lambda xs, q: xs[min(len(xs) - 1, int(len(xs) * q))]  # noqa: E731
    result = {
        "decisions": args.decisions, "operators": OPERATORS, "groups": GROUPS, "calls": CALLS,
        "clients": CLIENTS, "seed_seconds": round(seeded, 1),
        "median_ms": round(statistics.median(every), 3), "p99_ms": round(p(every, 0.99), 3),
        "by_caller": {k: {"median_ms": round(statistics.median(v), 3), "p99_ms": round(p(sorted(v), 0.99), 3)}
                      for k, v in times.items()},
        "sources": sources,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    print(f"decide(): {args.decisions} decisions on {OPERATORS} operators, {GROUPS} groups, "
          f"{CALLS} calls of history, {CLIENTS} clients")
    print(f"  all        median {result['median_ms']:.3f} ms   p99 {result['p99_ms']:.3f} ms")
    for k, v in result["by_caller"].items():
        print(f"  {k:10} median {v['median_ms']:.3f} ms   p99 {v['p99_ms']:.3f} ms")
    print(f"  sources: {sources}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

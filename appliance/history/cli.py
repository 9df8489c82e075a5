"""``korund calls``: the call history, newest first, or one call with its
legs in order (appliance.history.legs)."""
from __future__ import annotations

import json
import sys

from appliance.history import legs as call_legs

COLUMNS = ["started_at", "ani", "dnis", "trunk", "grp", "operator", "outcome",
           "answered_at", "connected_at", "ended_at"]


def add_parser(sub) -> None:
    s = sub.add_parser("calls", help="the call history, newest first")
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--json", action="store_true")
    s.add_argument("--legs", metavar="ID", help="one call (history id or uniqueid) with its legs in order")
    s.set_defaults(fn=run)


def run(args, inst) -> int:
    db = inst.open_store()
    if args.legs:
        return show_call_legs(db, args.legs, args.json)
    rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM calls ORDER BY id DESC LIMIT ?",
                      [args.limit]).fetchall()
    if args.json:
        print(json.dumps([dict(zip(COLUMNS, r)) for r in rows], indent=2))
        return 0
    print(f"{'started':24} {'ANI':14} {'DNIS':8} {'trunk':8} {'group':10} {'operator':8} outcome")
    for r in rows:
        print(f"{r[0]:24} {r[1] or '':14} {r[2] or '':8} {r[3] or '':8} {r[4] or '':10} "
              f"{r[5] or '':8} {r[6] or 'in progress'}")
    return 0


def show_call_legs(db, ref: str, as_json: bool) -> int:
    """``korund calls --legs ID``: one call with its legs in order."""
    rec = call_legs.record(db, ref)
    if rec is None:
        print(f"no call {ref!r} in the history", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(rec, indent=2, ensure_ascii=False))
        return 0
    print(f"call {rec['id']} ({rec['uniqueid']}), {rec['direction']}, {rec['ani'] or '-'} -> {rec['dnis'] or '-'}, "
          f"{rec['outcome'] or 'in progress'}, hung up by {rec['hangup_by'] or '-'}")
    for leg in rec["legs"]:
        offset = "" if leg["offset"] is None else f"+{leg['offset']:.1f}s"
        took = "" if leg["duration"] is None else f" ({leg['duration']:.1f}s)"
        detail = ", ".join(f"{k}={v}" for k, v in leg["detail"].items() if v not in ("", None, [], {}) and k != "path")
        print(f"{offset:>9} {leg['kind']:9} {leg['party']:12} {leg['result']:10}{took} {detail}".rstrip())
        for step in leg["detail"].get("path", []):
            print(f"{'':22}{step}")
    return 0

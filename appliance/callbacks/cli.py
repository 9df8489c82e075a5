"""``korund callbacks``: callback orders, open ones by when they are due;
``--done ID`` or ``--cancel ID`` closes one, ``--retry ID`` dials it again
now (appliance.callbacks)."""
from __future__ import annotations

import json
import sys

from appliance.base import audit
from appliance.callbacks import service as dialer, store as callbacks


def add_parser(sub) -> None:
    s = sub.add_parser("callbacks", help="callback orders (open ones by when they are due); "
                       "--done ID or --cancel ID closes one, --retry ID dials it again now")
    s.add_argument("--status", choices=["new", "done", "cancelled", "failed"])
    s.add_argument("--group")
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--json", action="store_true")
    closing = s.add_mutually_exclusive_group()
    closing.add_argument("--done", type=int, metavar="ID")
    closing.add_argument("--cancel", type=int, metavar="ID")
    closing.add_argument("--retry", type=int, metavar="ID", help="dial an open or failed order again now")
    s.set_defaults(fn=run)


def run(args, inst) -> int:
    db = inst.open_store()
    if args.retry is not None:
        try:
            dialer.check_retry(db, args.retry, "korund-cli")   # a refusal's audit entry outlives the rollback below
            with db.atomic():
                dialer.retry(db, args.retry, dialer.system_clock())
                order = callbacks.get(db, args.retry)
                audit.record(db, "korund-cli", "callback retried", str(order["id"]),
                             {"group": order["grp"], "number": order["number"]})
        except LookupError:
            print(f"error: no callback order {args.retry}", file=sys.stderr)
            return 1
        return 0
    closing = ("done", args.done) if args.done is not None else ("cancelled", args.cancel)
    if closing[1] is not None:
        try:
            with db.atomic():
                order = callbacks.set_status(db, closing[1], closing[0], "korund-cli")
                audit.record(db, "korund-cli", f"callback {closing[0]}", str(order["id"]),
                             {"group": order["grp"], "number": order["number"]})
        except LookupError:
            print(f"error: no callback order {closing[1]}", file=sys.stderr)
            return 1
        return 0
    rows = callbacks.list_orders(db, args.status, args.group, args.limit)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    print(f"{'id':>5} {'call back (UTC)':34} {'number':16} {'group':10} {'status':10} caller")
    for o in rows:
        when = "as soon as possible" if o["asap"] else f"{o['slot_from'][:16]} - {(o['slot_until'] or '')[11:16]}"
        print(f"{o['id']:>5} {when:34} {o['number']:16} {o['grp']:10} {o['status']:10} {o['ani']}")
    return 0

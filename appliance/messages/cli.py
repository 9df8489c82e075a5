"""``korund messages``: voice messages left in the IVR, newest first;
``--handled ID`` marks one handled (appliance.messages.store)."""
from __future__ import annotations

import json
import sys

from appliance.base import audit
from appliance.messages import store as messages


def add_parser(sub) -> None:
    s = sub.add_parser("messages", help="voice messages left in the IVR, newest first; "
                       "--handled ID marks one handled")
    s.add_argument("--status", choices=["new", "handled"])
    s.add_argument("--group")
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--json", action="store_true")
    s.add_argument("--handled", type=int, metavar="ID")
    s.set_defaults(fn=run)


def run(args, inst) -> int:
    db = inst.open_store()
    if args.handled is not None:
        before = messages.get(db, args.handled)
        if before is None:
            print(f"error: no message {args.handled}", file=sys.stderr)
            return 1
        if before["handled_at"] is None:
            with db.atomic():
                messages.mark_handled(db, args.handled, "korund-cli")
                audit.record(db, "korund-cli", "message handled", str(args.handled),
                             {"group": before["grp"], "ani": before["ani"]})
        return 0
    rows = messages.list_messages(db, args.status, args.group, args.limit)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    print(f"{'id':>5} {'left at (UTC)':26} {'caller':16} {'group':10} {'secs':>5}  file / handled")
    for m in rows:
        done = f"handled by {m['handled_by']} {m['handled_at']}" if m["handled_at"] else ""
        print(f"{m['id']:>5} {m['created_at']:26} {m['ani'][:16]:16} {m['grp']:10} {m['duration']:>5}  "
              f"{inst.base / messages.FOLDER / m['file']} {done}")
    return 0

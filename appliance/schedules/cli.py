"""``korund schedule list|show|set|rm``: working hours and holidays
(appliance.schedules.store)."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

from appliance.base import audit
from appliance.base.errors import ConfigError
from appliance.schedules import store as schedules


def add_parser(sub) -> None:
    s = sub.add_parser("schedule", help="schedules (working hours, holidays): list, show NAME, "
                       "set FILE.json (add or replace), rm NAME")
    s.add_argument("schedule_command", choices=("list", "show", "set", "rm"))
    s.add_argument("name", nargs="?", help="the schedule (show, rm) or the JSON file (set)")
    s.set_defaults(fn=run)


def run(args, inst) -> int:
    db = inst.open_store()
    try:
        if args.schedule_command == "list":
            for s in schedules.load_all(db):
                j = schedules.to_json(s)
                hours = "; ".join(f"{d}: {', '.join(i)}" for d, i in j["weekly"].items() if i)
                state = "open" if schedules.is_open(s, datetime.now(timezone.utc)) else "closed"
                print(f"{s.name:16} {state:6} {s.timezone:16} {hours}; {len(s.holidays)} holidays, "
                      f"{len(s.workdays)} working days by exception")
            return 0
        if args.schedule_command == "show":
            s = schedules.load(db, args.name or "")
            if s is None:
                raise ConfigError("name", "no schedule named '{name}'", name=args.name)
            print(json.dumps(schedules.to_json(s), ensure_ascii=False, indent=2))
            return 0
        with db.atomic():
            if args.schedule_command == "set":
                data = json.loads(open(args.name, encoding="utf-8").read())
                if not isinstance(data, dict):
                    raise ConfigError("schedule", "a schedule is an object")
                exists = schedules.load(db, str(data.get("name", ""))) is not None
                s = schedules.save(db, data, create=not exists)
                audit.record(db, "korund-cli", "schedule changed" if exists else "schedule added", s.name,
                             schedules.to_json(s))
                print(f"schedule {s.name} saved")
            else:
                schedules.delete(db, args.name or "")
                audit.record(db, "korund-cli", "schedule deleted", args.name)
                print(f"schedule {args.name} deleted")
    except (ConfigError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0

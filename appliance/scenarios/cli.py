"""``korund scenario import|publish|bind|simulate NAME``: IVR scenarios as
JSON files, binding numbers to them, and dry runs (appliance.scenarios)."""
from __future__ import annotations

import json
import sys

from appliance.base.errors import ConfigError
from appliance.prompts import builtin as prompts
from appliance.scenarios import simulate, store as scenarios
from appliance.schedules import store as schedules
from appliance.tables import store as datatables


def add_parser(sub) -> None:
    s = sub.add_parser("scenario", help="IVR scenarios: import NAME FILE.json, publish NAME, "
                       "bind NAME --dnis N, simulate NAME --keys 12#")
    s.add_argument("scenario_command", choices=("import", "publish", "bind", "simulate"))
    s.add_argument("name")
    s.add_argument("file", nargs="?")
    s.add_argument("--title")
    s.add_argument("--dnis", default="*")
    s.add_argument("--keys")
    s.add_argument("--ani")
    s.add_argument("--schedule", help="bind: only while this schedule is open")
    s.add_argument("--otherwise", help="bind: what runs while the schedule is closed: a scenario, or group:NAME")
    s.set_defaults(fn=run)


def run(args, inst) -> int:
    db = inst.open_store()
    try:
        if args.scenario_command == "import":
            graph = json.loads(open(args.file, encoding="utf-8").read())
            if db.execute("SELECT 1 FROM scenarios WHERE name = ?", [args.name]).fetchone():
                scenarios.save_draft(db, args.name, graph)
            else:
                scenarios.create(db, args.name, args.title or args.name, graph)
            print(f"draft of {args.name} saved")
        elif args.scenario_command == "publish":
            version = scenarios.publish(db, args.name, "korund-cli",
                                        prompt_exists=lambda n: prompts.exists(inst.sounds, n))
            print(f"{args.name} version {version} published")
        elif args.scenario_command == "bind":
            other = args.otherwise or ""
            kind, _, other_name = other.partition(":") if other.startswith("group:") else ("", "", other)
            with db.atomic():
                scenarios.bind(db, args.dnis, scenario=args.name, schedule=args.schedule,
                               otherwise_scenario=other_name if not kind else None,
                               otherwise_group=other_name if kind else None)
            print(f"calls to {args.dnis} run {args.name}"
                  + (f" while {args.schedule} is open, otherwise {other}" if args.schedule else ""))
        elif args.scenario_command == "simulate":
            result = simulate.simulate(scenarios.draft(db, args.name), args.keys or "", args.ani or "",
                                       lookup=lambda table, key: datatables.lookup(db, table, key),
                                       load=lambda other: scenarios.published(db, other),
                                       schedule=lambda name: schedules.load(db, name))
            print(json.dumps(result, ensure_ascii=False, indent=2))
    except (ConfigError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0

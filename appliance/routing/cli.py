"""``korund routing ...``: skills, group routing settings, the VIP list and
a dry run of the routing decision (appliance.routing.store)."""
from __future__ import annotations

import json
import sys

from appliance.routing import store as routing

APPLY_HINT = "run 'korund apply' to render the skill queues"


def add_parser(sub) -> None:
    s = sub.add_parser("routing", help="routing (F7): skills EXT ['billing:8, en:5'], "
                                       "group NAME [--skill S --widen N --all N --last-days N], "
                                       "vip list|add NUMBER[*] [--priority N]|remove NUMBER[*], "
                                       "last-days N, explain NUMBER [--group G --skill S]")
    s.add_argument("routing_command", choices=("skills", "group", "vip", "last-days", "explain"))
    s.add_argument("args", nargs="*")
    s.add_argument("--skill")
    s.add_argument("--widen")
    s.add_argument("--all", dest="widen_all")
    s.add_argument("--last-days", dest="last_days")
    s.add_argument("--priority", default=str(routing.VIP_PRIORITY))
    s.add_argument("--note", default="")
    s.add_argument("--group")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=lambda args, inst: run(args, inst.open_store()))


def _need(args, n: int, what: str) -> bool:
    if len(args.args) < n:
        print(f"error: give {what}", file=sys.stderr)
        return False
    return True


def run(args, db) -> int:
    cmd, rest = args.routing_command, args.args
    if cmd == "skills":
        if not rest:
            for ext, skills in routing.all_operator_skills(db).items():
                print(f"{ext:8} {routing.format_skills(skills)}")
            return 0
        if len(rest) > 1:
            with db.atomic():
                routing.set_skills(db, rest[0], " ".join(rest[1:]))
            print(f"{rest[0]}: {routing.format_skills(routing.skills(db, rest[0])) or '(none)'}; {APPLY_HINT}")
            return 0
        print(f"{rest[0]}: {routing.format_skills(routing.skills(db, rest[0])) or '(none)'}")
        return 0
    if cmd == "group":
        if not _need(args, 1, "the group's name"):
            return 2
        change = {k: v for k, v in (("skill", args.skill), ("skill_widen", args.widen),
                                    ("skill_all", args.widen_all), ("last_days", args.last_days))
                  if v is not None}
        if change:
            with db.atomic():
                routing.set_group_settings(db, rest[0], change)
        print(json.dumps({"group": rest[0], **routing.group_settings(db, rest[0])}))
        if change:
            print(APPLY_HINT)
        return 0
    if cmd == "vip":
        action = rest[0] if rest else "list"
        if action == "list":
            rows = routing.vip_list(db)
            if args.json:
                print(json.dumps(rows, indent=2))
            for r in rows if not args.json else []:
                print(f"{r['pattern']:22} {r['priority']}  {r['note']}")
            return 0
        if action not in ("add", "remove") or not _need(args, 2, "a number or a prefix ending in *"):
            if action not in ("add", "remove"):
                print("error: vip list, vip add NUMBER[*], vip remove NUMBER[*]", file=sys.stderr)
            return 2
        with db.atomic():
            if action == "add":
                r = routing.add_vip(db, rest[1], args.priority, args.note)
                print(f"VIP {r['pattern']} priority {r['priority']}")
            else:
                routing.remove_vip(db, rest[1])
                print(f"removed {rest[1]}")
        return 0
    if cmd == "last-days":
        if rest:
            with db.atomic():
                routing.set_last_days(db, rest[0])
        print(routing.last_days_setting(db))
        return 0
    # explain
    if not _need(args, 1, "the caller's number"):
        return 2
    d = routing.decide(db, rest[0], None, routing.Request(args.group, args.skill or "", source="explain"))
    print(json.dumps({"group": d.group, "queue": d.queue, "operator": d.operator or None,
                      "operator_ring": d.operator_ring or None, "skill": d.skill or None,
                      "max_penalty": d.max_penalty, "priority": d.priority, "source": d.source,
                      "reasons": d.reasons}, indent=2))
    return 0

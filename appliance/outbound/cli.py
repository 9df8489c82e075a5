"""``korund trunk-group ...``, ``korund route ...`` and ``korund operator
class``: trunk groups, outbound routes and classes of service
(appliance.outbound.routes).

Routes are read by the FastAGI script at each call out, so a change applies
to the next call without ``korund apply``.

Example:
    korund trunk-group add e1 --kind dahdi --members 1,2 --reserve 4 --format national_8
    korund route change national --trunk-groups e1,pstn
    korund route test 89161234567 --purpose operator --operator 1001
    korund operator class 1001 local
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict

from appliance.base.errors import ConfigError
from appliance.outbound import routes

NO_APPLY = "it applies to the next call out (no apply is needed)"
TEST_PURPOSES = ("route", "operator", "callback-attempt", "test")


def _set_enabled(p) -> None:
    on = p.add_mutually_exclusive_group()
    on.add_argument("--disabled", dest="enabled", action="store_false", default=None,
                    help="not used for calls out until enabled again")
    on.add_argument("--enabled", dest="enabled", action="store_true", default=None)


def _trunk_group_options(p, change: bool) -> None:
    if change:
        p.add_argument("--name", dest="new_name", help="a new name (the routes using it follow)")
    p.add_argument("--kind", choices=routes.KINDS, help="dahdi (E1 or analog spans) or sip (SIP trunks)")
    p.add_argument("--members", help="span numbers (dahdi) or SIP trunk names (sip), comma-separated")
    p.add_argument("--hunting", choices=routes.HUNTING, help="the order channels are taken in (dahdi)")
    p.add_argument("--reserve", help="channels kept free for inbound calls (dahdi)")
    p.add_argument("--max-calls", dest="max_calls", help="calls out at once, 0 = no cap")
    p.add_argument("--format", dest="number_format", choices=routes.NUMBER_FORMATS,
                   help="a national number as dialled, as 8NSN, +7NSN or the NSN alone")
    p.add_argument("--strip", help="digits cut off the front after --format")
    p.add_argument("--prepend", help="digits put in front after --strip")
    p.add_argument("--pri-ton", dest="pri_ton", choices=tuple(routes.PRI_TON),
                   help="PRI type of number ('' = the span's)")
    p.add_argument("--pri-npi", dest="pri_npi", choices=tuple(routes.PRI_NPI),
                   help="PRI numbering plan ('' = the span's)")
    p.add_argument("--caller-id", dest="caller_id", help="the caller ID this group presents ('' = the route's)")
    p.add_argument("--r2-category", dest="r2_category", help="MFC/R2 caller category ('' = the span's)")
    _set_enabled(p)


def _route_options(p, change: bool) -> None:
    if change:
        p.add_argument("--name", dest="new_name", help="a new name")
    p.add_argument("--patterns", help="number patterns, comma-separated: X any digit, Z 1-9, N 2-9, "
                                      "[1-5] a set, a final . one or more digits more")
    p.add_argument("--trunk-groups", dest="trunk_groups", help="trunk groups in the order they are tried")
    p.add_argument("--level", choices=routes.LEVELS,
                   help="which operators' class of service may use it (emergency: everyone)")
    p.add_argument("--caller-id", dest="caller_id", help="the caller ID presented ('' = dialer.caller_id)")
    p.add_argument("--max-calls", dest="max_calls", help="calls out at once through the route, 0 = no cap")
    _set_enabled(p)


def add_parser(sub) -> None:
    s = sub.add_parser("trunk-group", help="trunk groups (lines a route dials out through): "
                                           "list, add NAME, change NAME, delete NAME")
    acts = s.add_subparsers(dest="trunk_group_command", required=True)
    p = acts.add_parser("list", help="the trunk groups")
    p.add_argument("--json", action="store_true")
    for action, what in (("add", "add a trunk group"), ("change", "change a trunk group (options left out stay)")):
        p = acts.add_parser(action, help=what)
        p.add_argument("name")
        _trunk_group_options(p, action == "change")
    p = acts.add_parser("delete", help="delete a trunk group no route uses")
    p.add_argument("name")
    s.set_defaults(fn=lambda args, inst: run_trunk_group(args, inst.open_store()))

    s = sub.add_parser("route", help="outbound routes: list, add NAME, change NAME, delete NAME, "
                                     "test NUMBER [--purpose P --operator EXT]")
    acts = s.add_subparsers(dest="route_command", required=True)
    p = acts.add_parser("list", help="the outbound routes, in order")
    p.add_argument("--json", action="store_true")
    for action, what in (("add", "add a route"), ("change", "change a route (options left out stay)")):
        p = acts.add_parser(action, help=what)
        p.add_argument("name")
        _route_options(p, action == "change")
    p = acts.add_parser("delete", help="delete a route")
    p.add_argument("name")
    p = acts.add_parser("test", help="what dialling NUMBER would do: the route, each try's dial string, "
                                     "the number as sent, the caller ID -- or why nothing is dialled "
                                     "(exit status 1); nothing is dialled")
    p.add_argument("number")
    p.add_argument("--purpose", choices=TEST_PURPOSES, default="route",
                   help="what the number is dialled for (default route: a scenario's number)")
    p.add_argument("--operator", default="", help="with --purpose operator: whose class of service applies")
    p.add_argument("--json", action="store_true")
    s.set_defaults(fn=lambda args, inst: run_route(args, inst.open_store()))


def _given(args, names) -> dict:
    out = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    if getattr(args, "new_name", None) is not None:
        out["name"] = args.new_name
    return out


def _tg_line(tg: routes.TrunkGroup) -> str:
    rewrite = tg.number_format + (f" strip {tg.strip}" if tg.strip else "") + \
        (f" prepend {tg.prepend}" if tg.prepend else "")
    extra = [f"reserve {tg.reserve}" if tg.reserve else "", f"max {tg.max_calls}" if tg.max_calls else "",
             f"PRI {tg.pri_ton or '-'}/{tg.pri_npi or '-'}" if tg.pri_ton or tg.pri_npi else "",
             f"caller ID {tg.caller_id}" if tg.caller_id else "",
             f"R2 category {tg.r2_category}" if tg.r2_category else "", "" if tg.enabled else "DISABLED"]
    members = ",".join(str(m) for m in tg.members)
    return f"{tg.name:16} {tg.kind:5} {members:16} {tg.hunting:19} {rewrite:24} {' '.join(e for e in extra if e)}"


def run_trunk_group(args, db) -> int:
    cmd = args.trunk_group_command
    if cmd == "list":
        groups = routes.trunk_groups(db)
        if args.json:
            print(json.dumps([asdict(g) for g in groups], indent=2))
            return 0
        print(f"{'name':16} {'kind':5} {'members':16} {'hunting':19} {'number as sent':24} other")
        for tg in groups:
            print(_tg_line(tg))
        return 0
    if cmd == "delete":
        routes.delete_trunk_group(db, args.name, "cli")
        print(f"trunk group {args.name} deleted")
        return 0
    given = _given(args, ("kind", "members", "hunting", "reserve", "max_calls", "number_format", "strip",
                          "prepend", "pri_ton", "pri_npi", "caller_id", "r2_category", "enabled"))
    if cmd == "add":
        tg = routes.save_trunk_group(db, {"name": args.name, **given}, "cli")
    else:
        current = next((g for g in routes.trunk_groups(db) if g.name == args.name), None)
        if current is None:
            raise ConfigError("name", "no trunk group named '{name}'", name=args.name)
        tg = routes.save_trunk_group(db, {**asdict(current), **given}, "cli", original=args.name)
    print(_tg_line(tg))
    print(f"saved; {NO_APPLY}")
    return 0


def _route_line(r: routes.Route) -> str:
    extra = [f"caller ID {r.caller_id}" if r.caller_id else "", f"max {r.max_calls}" if r.max_calls else "",
             "" if r.enabled else "DISABLED"]
    return (f"{r.name:16} {r.level:13} {','.join(r.trunk_groups):20} {','.join(r.patterns)}"
            + "".join(f"  {e}" for e in extra if e))


def run_route(args, db) -> int:
    cmd = args.route_command
    if cmd == "list":
        rs = routes.routes(db)
        if args.json:
            print(json.dumps([asdict(r) for r in rs], indent=2))
            return 0
        print(f"{'name':16} {'level':13} {'trunk groups':20} patterns")
        for r in rs:
            print(_route_line(r))
        return 0
    if cmd == "delete":
        routes.delete_route(db, args.name, "cli")
        print(f"route {args.name} deleted")
        return 0
    if cmd == "test":
        return test(args, db)
    given = _given(args, ("patterns", "trunk_groups", "level", "caller_id", "max_calls", "enabled"))
    if cmd == "add":
        r = routes.save_route(db, {"name": args.name, **given}, "cli")
    else:
        current = next((r for r in routes.routes(db) if r.name == args.name), None)
        if current is None:
            raise ConfigError("name", "no route named '{name}'", name=args.name)
        r = routes.save_route(db, {**asdict(current), **given}, "cli", original=args.name)
    print(_route_line(r))
    print(f"saved; {NO_APPLY}")
    return 0


def test(args, db) -> int:
    if args.purpose == "operator" and not args.operator:
        print("error: --purpose operator needs --operator EXT (whose class of service applies)", file=sys.stderr)
        return 2
    plan = routes.plan(db, args.number, args.purpose, operator=args.operator if args.purpose == "operator" else "")
    if args.json:
        print(json.dumps({**plan.as_dict(), "dial": [t.dial for t in plan.tries]}, indent=2))
        return 1 if plan.refused else 0
    if plan.refused:
        print(f"refused ({plan.refused}): {plan.message}")
        return 1
    cap = f" (at most {plan.route_cap} calls at once)" if plan.route_cap else ""
    print(f"{plan.number} ({plan.purpose}): route {plan.route}{cap}")
    for i, t in enumerate(plan.tries, 1):
        extra = "".join(f", {label} {value}" for label, value in (
            ("caller ID", t.caller_id or "unchanged"), ("R2 category", t.category),
            ("cap", t.cap or "")) if value)
        print(f"  {i}. trunk group {t.trunk_group}: {t.dial}  sent as {t.sent}{extra}")
    for name, why in plan.skipped:
        print(f"  skipped: trunk group {name} ({why})")
    return 0


def operator_class(args, db) -> int:
    """``korund operator class EXT [CLASS]``: show or set an operator's class of service."""
    if args.reason:
        routes.set_operator_class(db, args.extension, args.reason, "cli")
        print(f"{args.extension}: class of service {args.reason}; {NO_APPLY}")
        return 0
    cls = routes.operator_class(db, args.extension)
    if cls is None:
        print(f"error: no enabled operator with extension {args.extension}", file=sys.stderr)
        return 1
    print(f"{args.extension}: class of service {cls} (one of {', '.join(routes.CLASSES)})")
    return 0

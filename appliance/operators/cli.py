"""``korund operator list|login|logout|ready|pause``: operators' states
(appliance.operators.states); ``korund operator class EXT [CLASS]``: the
class of service of their calls out (appliance.outbound.cli). ``korund
agent`` is the same command under its older name, which scripts still use."""
from __future__ import annotations

import json
import sys

from appliance.base import ami
from appliance.operators import states as operator_states
from appliance.outbound import cli as outbound_cli

NEW_STATE = {"login": "ready", "ready": "ready", "logout": "logged_out", "pause": "paused"}


def add_parser(sub) -> None:
    s = sub.add_parser("operator", aliases=["agent"],
                       help="operator states: list, login EXT, logout EXT, ready EXT, "
                            "pause EXT REASON (a reason's name or number), "
                            "class EXT [internal|local|national|international] (class of service)")
    s.add_argument("operator_command", choices=("list", "login", "logout", "ready", "pause", "class"))
    s.add_argument("extension", nargs="?")
    s.add_argument("reason", nargs="?")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=run)


def run(args, inst) -> int:
    db = inst.open_store()
    if args.operator_command == "list":
        rows = operator_states.states(db)
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        print(f"{'ext':8} {'name':24} {'state':11} {'reason':18} since")
        for r in rows:
            print(f"{r['extension']:8} {r['name']:24} {r['state']:11} {r['reason'] or '':18} {r['since'] or ''}")
        return 0
    if not args.extension:
        print("error: give the operator's extension", file=sys.stderr)
        return 2
    if args.operator_command == "class":
        return outbound_cli.operator_class(args, db)
    if args.operator_command == "pause" and not args.reason:
        print("error: give a pause reason (name or number): "
              + ", ".join(f"{r['code']} {r['name']}" for r in operator_states.reasons(db)), file=sys.stderr)
        return 2
    # without a running Asterisk the state is only stored: the events service
    # pushes every state to the queues when it connects
    mgr = ami.connect_if_running(inst, db, timeout=10)
    try:
        with operator_states.immediate(db):
            r = operator_states.change(db, mgr, args.extension, NEW_STATE[args.operator_command],
                                       args.reason, by="cli")
    finally:
        ami.close(mgr)
    print(f"{r['extension']} {r['state']}{' (' + r['reason'] + ')' if r['reason'] else ''}")
    return 0

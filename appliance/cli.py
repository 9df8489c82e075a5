"""The ``korund`` command: a thin layer over the library.

Example:
    korund -i /var/lib/korund/appliance init --demo
    korund -i /var/lib/korund/appliance start
    korund -i /var/lib/korund/appliance calls
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from . import apply as applier
from . import ami, demo, instance, model, prompts, simulator, store, supervisor
from .instance import Instance


def _running_ami(inst: Instance, db):
    """An AMI session if the instance's Asterisk is up, else None."""
    if supervisor.status(inst).get("asterisk", {}).get("state") != "RUNNING":
        return None
    try:
        return ami.connect(store.settings(db), timeout=10)
    except ami.AmiError:
        return None


def cmd_init(args, inst: Instance) -> int:
    inst.create_dirs()
    db = inst.open_store()
    net = {k: str(v) for k, v in {
        "net.address": args.address, "sip.port": args.sip_port, "ami.port": args.ami_port,
        "agi.port": args.agi_port, "web.port": args.web_port, "rtp.start": args.rtp_start,
        "rtp.end": args.rtp_end, "language": args.language}.items() if v is not None}
    instance.initialise(db, net)
    if args.demo:
        host, _, port = (args.carrier or "127.0.0.2:5060").partition(":")
        if demo.seed(db, host, int(port or 5060)):
            print("demo configuration loaded")
    prompts.build(inst.sounds)
    applier.apply(inst, db)
    inst.supervisord_conf.write_text(supervisor.render(inst))
    print(f"instance ready in {inst.base}")
    return 0


def cmd_apply(args, inst: Instance) -> int:
    db = inst.open_store()
    mgr = _running_ami(inst, db)
    try:
        result = applier.apply(inst, db, mgr)
    except applier.ApplyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        ami.close(mgr)
    print(f"configuration {result.generation} {'applied' if result.reloaded else 'written'}")
    return 0


def cmd_start(args, inst: Instance) -> int:
    supervisor.start(inst)
    supervisor.wait_running(inst, timeout=args.timeout)
    db = inst.open_store()
    mgr = ami.connect(store.settings(db), timeout=args.timeout)
    ami.command(mgr, "core waitfullybooted")
    ami.close(mgr)
    print("appliance running")
    return 0


def cmd_stop(args, inst: Instance) -> int:
    supervisor.stop(inst)
    return 0


def cmd_status(args, inst: Instance) -> int:
    print(json.dumps(supervisor.status(inst), indent=2))
    return 0


def cmd_service(args, inst: Instance) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.command == "agi":
        from .agi import server
        server.serve(inst)
    elif args.command == "events":
        from . import events
        events.run(inst)
    elif args.command == "web":
        from web import serve
        serve(inst)
    return 0


def cmd_calls(args, inst: Instance) -> int:
    db = inst.open_store()
    cols = ["started_at", "ani", "dnis", "trunk", "grp", "operator", "outcome",
            "answered_at", "connected_at", "ended_at"]
    rows = db.execute(f"SELECT {', '.join(cols)} FROM calls ORDER BY id DESC LIMIT ?",
                      [args.limit]).fetchall()
    if args.json:
        print(json.dumps([dict(zip(cols, r)) for r in rows], indent=2))
        return 0
    print(f"{'started':24} {'ANI':14} {'DNIS':8} {'trunk':8} {'group':10} {'operator':8} outcome")
    for r in rows:
        print(f"{r[0]:24} {r[1] or '':14} {r[2] or '':8} {r[3] or '':8} {r[4] or '':10} "
              f"{r[5] or '':8} {r[6] or 'in progress'}")
    return 0


def cmd_trunk(args, inst: Instance) -> int:
    db = inst.open_store()
    host, _, port = args.address.partition(":")
    try:
        model.update_sip_trunk(db, args.name, host, port or 5060)
    except model.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return cmd_apply(args, inst)


def cmd_user(args, inst: Instance) -> int:
    from . import audit, users
    db = inst.open_store()
    if args.user_command == "list":
        for u in users.all_users(db):
            print(f"{u.username:20} {u.role:11} {u.language} {'active' if u.active else 'disabled'}")
        return 0
    if sys.stdin.isatty():
        import getpass
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("error: the passwords do not match", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\n")
    operator_id = None
    if args.extension:
        row = db.execute("SELECT id FROM operators WHERE extension = ?", [args.extension]).fetchone()
        if not row:
            print(f"error: no operator with extension {args.extension}", file=sys.stderr)
            return 2
        operator_id = row[0]
    try:
        with db.atomic():
            user = users.create(db, args.username, password, args.role, args.language, operator_id)
            audit.record(db, "korund-cli", "user added", user.username, {"role": user.role})
    except model.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"user {user.username} ({user.role}) created")
    return 0


def cmd_scenario(args, inst: Instance) -> int:
    from . import datatables
    from .scenarios import simulate
    from .scenarios import store as scenarios
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
            scenarios.bind(db, args.dnis, scenario=args.name)
            print(f"calls to {args.dnis} run {args.name}")
        elif args.scenario_command == "simulate":
            result = simulate.simulate(scenarios.draft(db, args.name), args.keys or "", args.ani or "",
                                       lookup=lambda table, key: datatables.lookup(db, table, key),
                                       load=lambda other: scenarios.published(db, other))
            print(json.dumps(result, ensure_ascii=False, indent=2))
    except (model.ConfigError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_table(args, inst: Instance) -> int:
    from . import datatables
    db = inst.open_store()
    try:
        raw = open(args.file, "rb").read()
        if args.dry_run:
            p = datatables.preview(raw, args.key)
        else:
            p = datatables.import_csv(db, args.name, raw, args.key)
    except (model.ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(p.rows)} rows, columns {', '.join(p.columns)}, encoding {p.encoding}")
    for e in p.errors:
        print(f"  {e}")
    return 0 if p.ok else 2


def cmd_sim(args, inst: Instance) -> int:
    sim_inst = Instance.at(args.sim)
    if args.sim_command == "init":
        host, _, port = args.appliance.partition(":")
        simulator.init(sim_inst, simulator.SimSettings(
            address=args.address, appliance_address=host, appliance_port=int(port or 5060),
            ami_port=args.ami_port, rtp_start=args.rtp_start, rtp_end=args.rtp_start + 999))
    elif args.sim_command == "start":
        simulator.start(sim_inst)
    elif args.sim_command == "stop":
        simulator.stop(sim_inst)
    return 0


def cmd_demo_call(args, inst: Instance) -> int:
    sim_inst = Instance.at(args.sim)
    mgr = ami.connect(simulator.load(sim_inst).ami_settings())
    try:
        call = simulator.originate(mgr, ani=args.ani, dnis=args.dnis, name=args.name,
                                   hold=args.hold)
    finally:
        ami.close(mgr)
    print(f"call {call} placed from {args.ani} to {args.dnis}; "
          f"the simulated operator answers with a tone and the caller hangs up after "
          f"{args.hold:g}s. See it with: korund calls")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="korund", description="Korund call-center appliance")
    p.add_argument("-i", "--instance", help="instance directory (default $KORUND_BASE or "
                   f"{instance.DEFAULT_BASE})")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init", help="create or update an instance: database, prompts, config")
    s.add_argument("--address", help="loopback/LAN address to bind SIP, AMI, AGI and web to")
    for opt in ("sip-port", "ami-port", "agi-port", "web-port", "rtp-start", "rtp-end"):
        s.add_argument(f"--{opt}", type=int)
    s.add_argument("--language", choices=prompts.LANGUAGES)
    s.add_argument("--demo", action="store_true", help="load the demo configuration if empty")
    s.add_argument("--carrier", help="demo carrier HOST:PORT (default 127.0.0.2:5060)")
    s.set_defaults(fn=cmd_init)

    sub.add_parser("apply", help="render the config and reload Asterisk (rolls back on failure)"
                   ).set_defaults(fn=cmd_apply)
    s = sub.add_parser("start", help="start supervisord with asterisk, agi, events and web")
    s.add_argument("--timeout", type=float, default=60)
    s.set_defaults(fn=cmd_start)
    sub.add_parser("stop", help="stop the instance's services").set_defaults(fn=cmd_stop)
    sub.add_parser("status", help="state of the supervised services").set_defaults(fn=cmd_status)
    for name in ("agi", "events", "web"):
        sub.add_parser(name, help=f"run the {name} service (supervisord does this)"
                       ).set_defaults(fn=cmd_service)

    s = sub.add_parser("calls", help="the call history, newest first")
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_calls)

    s = sub.add_parser("trunk", help="point a SIP trunk at a carrier address and apply")
    s.add_argument("name")
    s.add_argument("address", help="HOST[:PORT]")
    s.set_defaults(fn=cmd_trunk)

    s = sub.add_parser("user", help="panel users: 'user add NAME --role admin' (password from the "
                       "terminal or one line of standard input), 'user list'")
    s.add_argument("user_command", choices=("add", "list"))
    s.add_argument("username", nargs="?")
    s.add_argument("--role", default="admin", choices=("admin", "supervisor", "operator", "technician"))
    s.add_argument("--language", default="ru", choices=("ru", "en"))
    s.add_argument("--extension", help="the operator's extension (role operator)")
    s.set_defaults(fn=cmd_user)

    s = sub.add_parser("scenario", help="IVR scenarios: import NAME FILE.json, publish NAME, "
                       "bind NAME --dnis N, simulate NAME --keys 12#")
    s.add_argument("scenario_command", choices=("import", "publish", "bind", "simulate"))
    s.add_argument("name")
    s.add_argument("file", nargs="?")
    s.add_argument("--title")
    s.add_argument("--dnis", default="*")
    s.add_argument("--keys")
    s.add_argument("--ani")
    s.set_defaults(fn=cmd_scenario)

    s = sub.add_parser("table", help="import a CSV data table for IVR look-ups (all or nothing)")
    s.add_argument("name")
    s.add_argument("file")
    s.add_argument("--key", required=True, help="the column looked up by")
    s.add_argument("--dry-run", action="store_true", help="only report what the import would do")
    s.set_defaults(fn=cmd_table)

    s = sub.add_parser("sim", help="the PSTN simulator (carrier and operators' phones)")
    s.add_argument("sim_command", choices=("init", "start", "stop"))
    s.add_argument("--sim", default=simulator.DEFAULT_BASE)
    s.add_argument("--address", default="127.0.0.2")
    s.add_argument("--ami-port", type=int, default=5038)
    s.add_argument("--appliance", default="127.0.0.1:5060")
    s.add_argument("--rtp-start", type=int, default=11000)
    s.set_defaults(fn=cmd_sim)

    s = sub.add_parser("demo-call", help="place a call from the simulated carrier")
    s.add_argument("--sim", default=simulator.DEFAULT_BASE)
    s.add_argument("--ani", default="4951234567")
    s.add_argument("--dnis", default="100")
    s.add_argument("--name", default="Demo Caller")
    s.add_argument("--hold", type=float, default=15)
    s.set_defaults(fn=cmd_demo_call)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    inst = Instance.at(args.instance)
    try:
        return args.fn(args, inst)
    except (model.ConfigError, ami.AmiError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

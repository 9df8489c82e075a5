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
from datetime import datetime, timezone

from appliance import apply as applier
from appliance.base import ami
from devtools import demo
from appliance.base import instance
from appliance.prompts import builtin as prompts
from devtools import simulator
from appliance.base import store
from appliance.base import supervisor
from appliance.prompts import moh
from appliance.base.instance import Instance
from appliance.base.errors import ConfigError
from appliance.lines import trunks as sip_trunks


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
        "rtp.end": args.rtp_end, "language": args.language,
        "web.address": args.web_address}.items() if v is not None}
    instance.initialise(db, net)
    if args.demo:
        host, _, port = (args.carrier or "127.0.0.2:5060").partition(":")
        if demo.seed(db, host, int(port or 5060)):
            print("demo configuration loaded")
    prompts.build(inst.sounds)
    if args.demo_ivr and demo.seed_ivr(db, inst.sounds):
        print("demo IVR scenario bound to number", demo.DEMO_DNIS)
    moh.generate(inst)   # the music callers hear while they wait or are held
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
    if not result.reloaded:
        print(f"configuration {result.generation} written")
    elif result.modules:
        print(f"configuration {result.generation} applied (reloaded in Asterisk: {', '.join(result.modules)})")
    else:
        print(f"configuration {result.generation} applied (no Asterisk module to reload)")
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
        from appliance.agi import server
        server.serve(inst)
    elif args.command == "events":
        from appliance.history import service as events
        events.run(inst)
    elif args.command == "web":
        from web import serve
        serve(inst)
    elif args.command == "dialer":
        from appliance.callbacks import service as dialer
        dialer.run(inst)
    return 0


def cmd_calls(args, inst: Instance) -> int:
    db = inst.open_store()
    if args.legs:
        return show_call_legs(db, args.legs, args.json)
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


def show_call_legs(db, ref: str, as_json: bool) -> int:
    """``korund calls --legs ID``: one call with its legs in order."""
    from appliance.history import legs as call_legs
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


def cmd_trunk(args, inst: Instance) -> int:
    db = inst.open_store()
    host, _, port = args.address.partition(":")
    sip_trunks.update_sip_trunk(db, args.name, host, port or 5060)
    return cmd_apply(args, inst)


def cmd_user(args, inst: Instance) -> int:
    from appliance.base import audit
    from appliance.users import store as users
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
    with db.atomic():
        user = users.create(db, args.username, password, args.role, args.language, operator_id)
        audit.record(db, "korund-cli", "user added", user.username, {"role": user.role})
    print(f"user {user.username} ({user.role}) created")
    return 0


def cmd_scenario(args, inst: Instance) -> int:
    from appliance.tables import store as datatables
    from appliance.schedules import store as schedules
    from appliance.scenarios import simulate
    from appliance.scenarios import store as scenarios
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


def cmd_table(args, inst: Instance) -> int:
    from appliance.tables import store as datatables
    db = inst.open_store()
    try:
        raw = open(args.file, "rb").read()
        if args.dry_run:
            p = datatables.preview(raw, args.key)
        else:
            p = datatables.import_csv(db, args.name, raw, args.key, "merge" if args.merge else "replace")
    except (ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(p.rows)} rows, columns {', '.join(p.columns)}, encoding {p.encoding}")
    for e in p.errors:
        print(f"  {e}")
    return 0 if p.ok else 2


def cmd_clients(args, inst: Instance) -> int:
    """Clients (CRM): import FILE [--dry-run] (all or nothing), export [FILE], find NUMBER."""
    from appliance.clients import store as clients
    db = inst.open_store()
    try:
        if args.clients_command == "export":
            data = clients.export_csv(db)
            if args.file and args.file != "-":
                open(args.file, "wb").write(data)
            else:
                sys.stdout.buffer.write(data)
            return 0
        if args.clients_command == "find":
            c = clients.find_by_number(db, args.file or "")
            if c is None:
                print("no client has this number", file=sys.stderr)
                return 1
            print(json.dumps(c, ensure_ascii=False, indent=2))
            return 0
        if not args.file:
            print("error: give the CSV file", file=sys.stderr)
            return 2
        raw = open(args.file, "rb").read()
        p = clients.preview(db, raw) if args.dry_run else clients.import_csv(db, raw, by="cli")
    except (ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    new = sum(1 for r in p.rows if not r["id"])
    print(f"{len(p.rows)} clients ({new} new, {len(p.rows) - new} updated), encoding {p.encoding}")
    for e in p.errors:
        print(f"  {e}")
    return 0 if p.ok else 2


def cmd_prompt(args, inst: Instance) -> int:
    from appliance.base import audit
    from appliance.prompts import store as prompt_library
    db = inst.open_store()
    try:
        if args.prompt_command == "list":
            for p in prompt_library.all_prompts(db, inst.sounds):
                langs = ", ".join(f"{v['language']} {v['duration'] or 0:.1f}s" for v in p["variants"])
                fallback = "".join(f"; {m} falls back to {o}" for m, o in p["fallback"].items())
                used = f"; used by {', '.join(p['used_by'])}" if p["used_by"] else ""
                print(f"{p['name']:24} {p['source']:9} {langs}{fallback}{used}")
            return 0
        language = args.language or prompts.LANGUAGES[0]
        with db.atomic():
            if args.prompt_command == "say":
                prompt_library.say(db, inst.sounds, args.name, language, args.text, "korund-cli")
                audit.record(db, "korund-cli", "prompt spoken", args.name,
                             {"language": language, "text": args.text})
                print(f"prompt {args.name} ({language}) spoken")
            elif args.prompt_command == "add":
                with open(args.file, "rb") as f:
                    data = f.read(prompt_library.MAX_BYTES + 1)
                prompt_library.add_file(db, inst.sounds, args.name, language, data, args.file,
                                        "korund-cli")
                audit.record(db, "korund-cli", "prompt uploaded", args.name,
                             {"language": language, "file": args.file})
                print(f"prompt {args.name} ({language}) added from {args.file}")
            else:
                gone = prompt_library.delete(db, inst.sounds, args.name, args.language)
                audit.record(db, "korund-cli", "prompt deleted", args.name, {"languages": gone})
                print(f"prompt {args.name} deleted ({', '.join(gone)})")
    except (ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_schedule(args, inst: Instance) -> int:
    from appliance.base import audit
    from appliance.schedules import store as schedules
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


def cmd_messages(args, inst: Instance) -> int:
    """Voice messages left in the IVR; --handled ID marks one handled."""
    from appliance.base import audit
    from appliance.messages import store as messages
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


def cmd_callbacks(args, inst: Instance) -> int:
    """Callback orders; --done ID or --cancel ID closes an open one."""
    from appliance.base import audit
    from appliance.callbacks import store as callbacks
    db = inst.open_store()
    if args.retry is not None:
        from appliance.callbacks import service as dialer
        try:
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


def cmd_agent(args, inst: Instance) -> int:
    """Operator states: list, or login/logout/ready/pause EXTENSION [REASON]."""
    from appliance.operators import states as operator_states
    db = inst.open_store()
    if args.agent_command == "list":
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
    if args.agent_command == "pause" and not args.reason:
        print("error: give a pause reason (name or number): "
              + ", ".join(f"{r['code']} {r['name']}" for r in operator_states.reasons(db)), file=sys.stderr)
        return 2
    mgr = _running_ami(inst, db)
    try:
        with operator_states.immediate(db):
            new = {"login": "ready", "ready": "ready", "logout": "logged_out", "pause": "paused"}
            r = operator_states.change(db, mgr, args.extension, new[args.agent_command], args.reason, by="cli")
    finally:
        ami.close(mgr)
    print(f"{r['extension']} {r['state']}{' (' + r['reason'] + ')' if r['reason'] else ''}")
    return 0


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


def cmd_hw(args, inst: Instance) -> int:
    """Technicians' hardware tools (drivers/cli.py): the bundle also takes the
    instance's generated configuration and service logs."""
    from drivers import cli as hw_cli
    return hw_cli.run(args, config_dirs=[inst.etc], log_dirs=[inst.log])


def cmd_demo_call(args, inst: Instance) -> int:
    sim_inst = Instance.at(args.sim)
    mgr = ami.connect(simulator.load(sim_inst).ami_settings())
    try:
        call = simulator.originate(mgr, ani=args.ani, dnis=args.dnis, name=args.name,
                                   hold=args.hold, dtmf=args.dtmf, dtmf_delay=args.dtmf_delay)
    finally:
        ami.close(mgr)
    print(f"call {call} placed from {args.ani} to {args.dnis}; "
          f"the simulated operator answers with a tone and the caller hangs up after "
          f"{args.hold:g}s. See it with: korund calls")
    return 0


def cmd_health(args, inst: Instance) -> int:
    """The health collector service, or one sweep printed (--once)."""
    from appliance.health import store as health
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.set:
        db = inst.open_store()
        for pair in args.set:
            key, _, value = pair.partition("=")
            health.set_setting(db, key.strip(), value.strip())
            print(f"{key.strip()} = {value.strip()}")
        return 0
    if not args.once:
        health.run(inst)
        return 0
    result = health.sweep(inst.open_store())
    if args.json:
        print(json.dumps({"readings": [r.as_dict() for r in result["readings"]],
                          "spans": result["spans"], "spans_error": result["spans_error"]},
                         indent=2, ensure_ascii=False))
        return 0
    for r in result["readings"]:
        value = "-" if r.value is None else f"{r.value:g} {r.unit}".strip()
        print(f"{r.id:10} {r.label:20} {r.status:9} {value:12} {r.detail}")
    if result["spans_error"]:
        print(f"spans: not available ({result['spans_error']})")
    return 0


def cmd_dahdi(args, inst: Instance) -> int:
    """DAHDI's files from the span settings (H1, H2); paths: $KORUND_DAHDI_ETC
    (default: the instance's etc/dahdi), $KORUND_HW_ROOT for the inventory."""
    from appliance.lines import apply as dahdi_apply
    from appliance.lines import render as dahdi
    db = inst.open_store()
    if args.action == "show":
        from appliance.lines import store as spans
        for name, text in dahdi.render(spans.load_all(db), dahdi.hardware()).items():
            print(f"==> {name} <==\n{text}")
        return 0
    if args.action == "loop-demo":
        return _dahdi_loop_demo(args, inst, db)
    mgr = _running_ami(inst, db)
    try:
        result = dahdi_apply.apply(inst, db, mgr, configure=not args.no_dahdi_cfg)
    except dahdi_apply.DahdiApplyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        ami.close(mgr)
    where = dahdi_apply.targets(inst)
    print("DAHDI configuration " + ("applied" if result.reloaded else "written") + ": "
          + ", ".join(str(where[n]) for n in sorted(where)))
    return 0


def _dahdi_loop_demo(args, inst: Instance, db) -> int:
    """Spans 1 and 2 as a looped test pair (devtools/dahdi_loop.py): span 1
    the test carrier, span 2 the appliance's trunk; applied and waited for."""
    from appliance.lines import apply as dahdi_apply
    from devtools import dahdi_loop
    mgr = _running_ami(inst, db)
    try:
        loop = dahdi_loop.store(db, args.kind, dynamic=not args.board)
        dahdi_loop.put_in_service(inst, db, mgr, configure=not args.no_dahdi_cfg)
        said = dahdi_loop.wait_up(mgr, loop, timeout=args.timeout) if mgr is not None else ""
    except (dahdi_apply.DahdiApplyError, applier.ApplyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        ami.close(mgr)
    print(f"loop {args.kind}: span 1 = test carrier, span 2 = the appliance's trunk "
          + ("(up: " + said + ")" if said else "(written; Asterisk is not running)"))
    if args.kind == "analog":
        print(f"the carrier rings the FXO line with {loop.carrier_dial()}; "
              f"the FXS operator port is {loop.fxs_phone}")
    else:
        print(f"the carrier calls the appliance with {loop.carrier_dial('100')} (number 100)")
    return 0


def cmd_frontpanel(args, inst: Instance) -> int:
    """Drive the front-panel display on the configured serial port."""
    from drivers import frontpanel
    from appliance.health import store as health
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    db = inst.open_store()
    if args.configure is not None:
        health.set_setting(db, "frontpanel.port", args.configure)
        inst.supervisord_conf.write_text(supervisor.render(inst))
        print(f"front panel {'on ' + args.configure if args.configure else 'off'}; "
              "restart the services (korund stop, korund start) to apply")
        return 0
    port = args.port or store.get_setting(db, "frontpanel.port")
    if not port:
        print("error: no front panel port (setting frontpanel.port or --port)", file=sys.stderr)
        return 1
    width, _, height = (store.get_setting(db, "frontpanel.size", "20x4") or "20x4").partition("x")
    frontpanel.serve(port, lambda: health.panel_status(db),
                     baud=int(store.get_setting(db, "frontpanel.baud", frontpanel.BAUD)),
                     width=int(width or 20), height=int(height or 4))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="korund", description="Korund call-center appliance")
    p.add_argument("-i", "--instance", help="instance directory (default $KORUND_BASE or "
                   f"{instance.DEFAULT_BASE})")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init", help="create or update an instance: database, prompts, config")
    s.add_argument("--address", help="loopback/LAN address to bind SIP, AMI, AGI and web to")
    s.add_argument("--web-address", help="address the web panel alone listens on "
                   "(e.g. 0.0.0.0 on the appliance image; default: --address)")
    for opt in ("sip-port", "ami-port", "agi-port", "web-port", "rtp-start", "rtp-end"):
        s.add_argument(f"--{opt}", type=int)
    s.add_argument("--language", choices=prompts.LANGUAGES)
    s.add_argument("--demo", action="store_true", help="load the demo configuration if empty")
    s.add_argument("--demo-ivr", action="store_true",
                   help="add the demo IVR (scenario 'demo' on number 200, its prompts and data table)")
    s.add_argument("--carrier", help="demo carrier HOST:PORT (default 127.0.0.2:5060)")
    s.set_defaults(fn=cmd_init)

    sub.add_parser("apply", help="render the config and reload Asterisk (rolls back on failure)"
                   ).set_defaults(fn=cmd_apply)
    s = sub.add_parser("start", help="start supervisord with asterisk, agi, events and web")
    s.add_argument("--timeout", type=float, default=60)
    s.set_defaults(fn=cmd_start)
    sub.add_parser("stop", help="stop the instance's services").set_defaults(fn=cmd_stop)
    sub.add_parser("status", help="state of the supervised services").set_defaults(fn=cmd_status)
    for name in ("agi", "events", "web", "dialer"):
        sub.add_parser(name, help=f"run the {name} service (supervisord does this)"
                       ).set_defaults(fn=cmd_service)

    s = sub.add_parser("calls", help="the call history, newest first")
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--json", action="store_true")
    s.add_argument("--legs", metavar="ID", help="one call (history id or uniqueid) with its legs in order")
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
    s.add_argument("--schedule", help="bind: only while this schedule is open")
    s.add_argument("--otherwise", help="bind: what runs while the schedule is closed: a scenario, or group:NAME")
    s.set_defaults(fn=cmd_scenario)

    s = sub.add_parser("schedule", help="schedules (working hours, holidays): list, show NAME, "
                       "set FILE.json (add or replace), rm NAME")
    s.add_argument("schedule_command", choices=("list", "show", "set", "rm"))
    s.add_argument("name", nargs="?", help="the schedule (show, rm) or the JSON file (set)")
    s.set_defaults(fn=cmd_schedule)

    s = sub.add_parser("table", help="import a CSV data table for IVR look-ups (all or nothing)")
    s.add_argument("name")
    s.add_argument("file")
    s.add_argument("--key", required=True, help="the column looked up by")
    s.add_argument("--dry-run", action="store_true", help="only report what the import would do")
    s.add_argument("--merge", action="store_true",
                   help="update rows by key and add new ones instead of replacing the table")
    s.set_defaults(fn=cmd_table)

    s = sub.add_parser("clients", help="clients (CRM): import FILE.csv [--dry-run] (all or nothing), "
                       "export [FILE.csv], find NUMBER")
    s.add_argument("clients_command", choices=("import", "export", "find"))
    s.add_argument("file", nargs="?", help="the CSV file (export: '-' or none for standard output); find: the number")
    s.add_argument("--dry-run", action="store_true", help="only report what the import would do")
    s.set_defaults(fn=cmd_clients)

    s = sub.add_parser("prompt", help="the prompt library: list, say NAME --language ru --text '...', "
                       "add NAME --language en FILE (WAV/MP3/OGG), rm NAME [--language en]")
    s.set_defaults(fn=cmd_prompt)
    actions = s.add_subparsers(dest="prompt_command", required=True)
    actions.add_parser("list", help="prompts, their languages, fallbacks and users")
    for action, help_text in (("say", "speak --text with espeak-ng"), ("add", "convert a WAV/MP3/OGG file"),
                              ("rm", "delete a prompt (or one --language of it)")):
        a = actions.add_parser(action, help=help_text)
        a.add_argument("name")
        if action == "add":
            a.add_argument("file")
        if action == "say":
            a.add_argument("--text", required=True)
        a.add_argument("--language", choices=prompts.LANGUAGES,
                       help="default ru" if action != "rm" else "default: every language")

    s = sub.add_parser("messages", help="voice messages left in the IVR, newest first; "
                       "--handled ID marks one handled")
    s.add_argument("--status", choices=["new", "handled"])
    s.add_argument("--group")
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--json", action="store_true")
    s.add_argument("--handled", type=int, metavar="ID")
    s.set_defaults(fn=cmd_messages)

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
    s.set_defaults(fn=cmd_callbacks)

    s = sub.add_parser("agent", help="operator states: list, login EXT, logout EXT, ready EXT, "
                                     "pause EXT REASON (a reason's name or number)")
    s.add_argument("agent_command", choices=("list", "login", "logout", "ready", "pause"))
    s.add_argument("extension", nargs="?")
    s.add_argument("reason", nargs="?")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_agent)

    from appliance.routing import cli as routing_cli
    routing_cli.add_parser(sub)

    from appliance.recordings import cli as recordings_cli
    recordings_cli.add_parser(sub)

    from appliance.history import log_rotation
    log_rotation.add_parser(sub)

    from appliance.reports import cli as reports_cli
    reports_cli.add_parser(sub)

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
    s.add_argument("--dtmf", default="", help="keys the caller sends once answered (w = half a second's pause)")
    s.add_argument("--dtmf-delay", type=float, default=1, help="seconds before the keys")
    s.set_defaults(fn=cmd_demo_call)

    s = sub.add_parser("health", help="the hardware health collector (supervisord runs it); "
                       "--once reads the sensors and span alarms now and prints them")
    s.add_argument("--once", action="store_true")
    s.add_argument("--json", action="store_true")
    s.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="change a setting: hw.root, hw.model, hw.i2c_bus, health.interval, "
                   "health.bucket, health.keep_days, frontpanel.baud, frontpanel.size")
    s.set_defaults(fn=cmd_health)
    s = sub.add_parser("frontpanel", help="drive the front-panel display (supervisord runs it "
                       "when the setting frontpanel.port is set)")
    s.add_argument("--port", help="serial port or pyserial URL (default: setting frontpanel.port)")
    s.add_argument("--configure", metavar="PORT", help="store the panel's port ('' = no panel) "
                   "and rewrite supervisord.conf; then restart the services")
    s.set_defaults(fn=cmd_frontpanel)

    s = sub.add_parser("hw", help="technicians' hardware tools: inventory, spans, span N, counters "
                       "[--reset], loopback N, timing, firmware, bundle OUT.tar.gz")
    from drivers import cli as hw_cli
    hw_cli.add_arguments(s)
    s.set_defaults(fn=cmd_hw)

    s = sub.add_parser("dahdi", help="DAHDI configuration from the span settings: 'show' prints "
                       "system.conf, modules and chan_dahdi.conf; 'apply' writes them (previous "
                       "files kept as .prev), runs dahdi_cfg, reloads chan_dahdi, rolls back on failure; "
                       "'loop-demo [pri|r2|analog]' sets spans 1 and 2 up as a looped test pair (span 1 "
                       "the test carrier, span 2 the appliance's trunk) and waits until they are up")
    s.add_argument("action", choices=("show", "apply", "loop-demo"))
    s.add_argument("kind", nargs="?", choices=("pri", "r2", "analog"), default="pri",
                   help="loop-demo: the signalling of the pair (default pri)")
    s.add_argument("--board", action="store_true",
                   help="loop-demo: two board ports cabled back to back instead of dahdi_dynamic_loc spans")
    s.add_argument("--timeout", type=float, default=60.0, help="loop-demo: seconds to wait for the spans")
    s.add_argument("--no-dahdi-cfg", action="store_true",
                   help="write and reload Asterisk only (no DAHDI kernel on this machine)")
    s.set_defaults(fn=cmd_dahdi)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    inst = Instance.at(args.instance)
    try:
        return args.fn(args, inst)
    except ConfigError as exc:
        # a refused value: the same exit status as argparse's usage errors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ami.AmiError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

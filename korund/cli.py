"""The ``korund`` command: a thin layer over the library.

A feature's own sub-commands live in ``appliance/<feature>/cli.py``
(``add_parser(sub)``); this module keeps the parser, the instance and
service commands, and the commands that need what sits above the features:
``appliance.apply``, ``devtools/``, ``drivers/`` or ``web/``.

Example:
    korund -i /var/lib/korund/appliance init --demo
    korund -i /var/lib/korund/appliance start
    korund -i /var/lib/korund/appliance calls
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import traceback
import xmlrpc.client

from appliance import apply as applier
from appliance.base import ami, instance, store, supervisor
from appliance.base.errors import ConfigError
from appliance.base.instance import Instance
from appliance.callbacks import cli as callbacks_cli
from appliance.clients import cli as clients_cli
from appliance.history import cli as history_cli, log_rotation
from appliance.lines import cli as lines_cli
from appliance.messages import cli as messages_cli
from appliance.operators import cli as operators_cli, sip_tls
from appliance.outbound import cli as outbound_cli
from appliance.prompts import builtin as prompts, cli as prompts_cli, moh
from appliance.recordings import cli as recordings_cli
from appliance.reports import cli as reports_cli
from appliance.routing import cli as routing_cli
from appliance.scenarios import cli as scenarios_cli
from appliance.schedules import cli as schedules_cli
from appliance.tables import cli as tables_cli
from appliance.users import cli as users_cli, setup_code
from devtools import demo, simulator


def cmd_init(args, inst: Instance) -> int:
    ensure_service_user()
    inst.create_dirs()   # owners and modes too, mending an older instance's
    sip_tls.ensure(inst.base)   # the certificate of the secure phones' TLS transport (root: Asterisk's copy)
    net = {k: str(v) for k, v in {
        "net.address": args.address, "local.address": args.local_address, "sip.port": args.sip_port,
        "ami.port": args.ami_port, "agi.port": args.agi_port, "web.port": args.web_port,
        "rtp.start": args.rtp_start, "rtp.end": args.rtp_end, "language": args.language,
        "web.address": args.web_address}.items() if v is not None}

    def fill() -> int:
        db = inst.open_store()
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
        return 0

    code = as_owner(inst, fill)   # the database and files are the services' own
    if code:
        return code
    if os.geteuid() == 0:
        supervisor.write_conf(inst)
    print(f"instance ready in {inst.base}")
    return 0


def ensure_service_user() -> None:
    """The services' system user (korund, in the asterisk, dialout and i2c
    groups where they exist), created where the root filesystem lacks it.
    Only as root inside an appliance root filesystem (one with Asterisk's
    user): a development host is left alone."""
    import grp
    import pwd
    try:
        pwd.getpwnam(instance.ASTERISK_USER)
    except KeyError:
        return
    if os.geteuid() != 0:
        return
    if instance.service_user() is None:
        _admin_tool(["useradd", "--system", "--user-group", "--home-dir", instance.SERVICE_HOME,
                     "--no-create-home", "--shell", "/usr/sbin/nologin", instance.SERVICE_USER],
                    done=lambda: instance.service_user() is not None)
    for group in instance.SERVICE_GROUPS:
        def member(group=group) -> bool:
            try:
                return instance.SERVICE_USER in grp.getgrnam(group).gr_mem
            except KeyError:   # no such group here (i2c only on the image)
                return True
        if not member():
            _admin_tool(["usermod", "--append", "--groups", group, instance.SERVICE_USER], done=member)


def _admin_tool(argv: list[str], done) -> None:
    """Run useradd/usermod until *done()* (another korund init may hold the
    password files' lock for a moment); a clear error if it cannot."""
    tool = shutil.which(argv[0], path="/usr/sbin:/usr/bin:/sbin:/bin")
    if tool is None:
        raise SystemExit(f"error: the system user {instance.SERVICE_USER!r} is missing and {argv[0]} is not "
                         f"installed (package passwd): create the user, or rebuild the root filesystem")
    said = ""
    for _ in range(20):
        run = subprocess.run([tool, *argv[1:]], capture_output=True, text=True, check=False)
        if done():
            return
        said = (run.stderr or run.stdout).strip()
        time.sleep(0.5)
    raise SystemExit(f"error: {' '.join(argv)} failed: {said}")


def as_owner(inst: Instance, fn) -> int:
    """Run *fn* as the instance's service user when root runs this (in a
    child process, so that root can carry on afterwards): what it writes is
    the services' own."""
    owner = instance.owner_of(inst)
    if os.geteuid() != 0 or owner is None:
        return fn()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            instance.become(owner)
            code = fn()
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            code = 2
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
            if not isinstance(exc.code, int) and exc.code:
                print(exc.code, file=sys.stderr)
        except BaseException:   # noqa: BLE001 - whatever it was, the child ends with 1 and says why
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def cmd_apply(args, inst: Instance) -> int:
    db = inst.open_store()
    mgr = ami.connect_if_running(inst, db, timeout=10)
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
    ensure_service_user()
    inst.create_dirs()   # owners and modes (an instance from before is handed over once)
    sip_tls.ensure(inst.base)   # Asterisk's TLS transport takes the panel's current certificate
    supervisor.start(inst)
    drop_root(inst)   # supervisord runs: the rest needs no root
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


def cmd_root_helper(args, inst: Instance) -> int:
    """The root helper supervisord runs (appliance/base/root_helper.py): the
    verbs' work is the features', handed in here."""
    from appliance.base import root_helper
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if os.geteuid() != 0:
        print("error: the root helper runs as root (supervisord starts it)", file=sys.stderr)
        return 1
    owner = instance.owner_of(inst)
    root_helper.serve(inst.root_helper_sock, root_handlers(inst), owner.pw_gid if owner else None)
    return 0


def root_handlers(inst: Instance) -> dict:
    """What each of the root helper's verbs does (root_helper.VERBS checks
    the requests)."""
    from appliance.lines import apply as dahdi_apply
    return {"ping": lambda: (0, "pong"),
            "dahdi-install": lambda: dahdi_apply.install_staged(inst)}


def cmd_sim(args, inst: Instance) -> int:
    sim_inst = Instance.at(args.sim)
    if args.sim_command == "init":
        host, _, port = args.appliance.partition(":")
        simulator.init(sim_inst, simulator.SimSettings(
            address=args.address, appliance_address=host, appliance_port=int(port or 5060),
            ami_port=args.ami_port, rtp_start=args.rtp_start, rtp_end=args.rtp_start + 1999))
    elif args.sim_command == "start":
        simulator.start(sim_inst)
    elif args.sim_command == "stop":
        simulator.stop(sim_inst)
    return 0


def cmd_hw(args, inst: Instance) -> int:
    """Technicians' hardware tools (drivers/cli.py): the bundle also takes the
    instance's generated configuration and service logs."""
    from drivers import cli as hw_cli
    return hw_cli.run(args, config_dirs=[inst.etc], log_dirs=[inst.log, inst.service_log])


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
    from appliance.lines import apply as dahdi_apply, render as dahdi
    db = inst.open_store()
    if args.action == "show":
        from appliance.lines import store as spans
        for name, text in dahdi.render(spans.load_all(db), dahdi.hardware()).items():
            print(f"==> {name} <==\n{text}")
        return 0
    if args.action == "loop-demo":
        return _dahdi_loop_demo(args, inst, db)
    mgr = ami.connect_if_running(inst, db, timeout=10)
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
    mgr = ami.connect_if_running(inst, db, timeout=10)
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
    from appliance.health import store as health
    from drivers import frontpanel
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    db = inst.open_store()
    if args.configure is not None:
        health.set_setting(db, "frontpanel.port", args.configure)   # korund start adds the program
        print(f"front panel {'on ' + args.configure if args.configure else 'off'}; "
              "restart the services (korund stop, korund start) to apply")
        return 0
    port = args.port or store.get_setting(db, "frontpanel.port")
    if not port:
        print("error: no front panel port (setting frontpanel.port or --port)", file=sys.stderr)
        return 1
    width, _, height = (store.get_setting(db, "frontpanel.size", "20x4") or "20x4").partition("x")
    code = setup_code.PanelCode()   # shown while the instance has no administrator
    frontpanel.serve(port, lambda: {**health.panel_status(db), "setup_code": code.current(db)},
                     baud=int(store.get_setting(db, "frontpanel.baud", frontpanel.BAUD)),
                     width=int(width or 20), height=int(height or 4))
    return 0


def cmd_setup_code(args, inst: Instance) -> int:
    """Print the one-time code that creating the first administrator needs."""
    code = setup_code.console_code(inst.open_store(), inst.base)
    if code is None:
        print("an administrator exists: no setup code is needed (log in, or 'korund user add')",
              file=sys.stderr)
        return 1
    print(code)
    return 0


def cmd_tls(args, inst: Instance) -> int:
    """HTTPS for the panel: on (a self-signed certificate if there is none),
    off, or show the certificate; the panel is restarted if it runs."""
    from appliance.base import tls
    db = inst.open_store()
    if args.action in ("on", "off"):
        if args.action == "on":
            tls.ensure(inst.base)
            if not store.get_setting(db, "web.https_port"):
                store.set_setting(db, "web.https_port", args.https_port)
        store.set_setting(db, "web.tls", "1" if args.action == "on" else "0")
        try:
            rpc = supervisor.rpc(inst)
            with contextlib.suppress(xmlrpc.client.Fault):   # the panel was not running
                rpc.supervisor.stopProcess("web")
            rpc.supervisor.startProcess("web")
            print("the panel restarted")
        except OSError as exc:   # not running (first boot), or not reachable from here
            print(f"the panel was not restarted ({exc.strerror or exc}): it uses this from its next start")
    settings = store.settings(db)
    info = tls.current(inst.base)
    if settings.get("web.tls") == "1":
        print(f"HTTPS on port {settings.get('web.https_port')}; HTTP port {settings['web.port']} redirects there")
    else:
        print(f"plain HTTP on port {settings['web.port']}")
    if info:
        print(f"certificate: {info.subject}, issuer {info.issuer}, valid until "
              f"{info.not_after:%Y-%m-%d}, SHA-256 {info.fingerprint}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="korund", description="Korund call-center appliance")
    p.add_argument("-i", "--instance", help="instance directory (default $KORUND_BASE or "
                   f"{instance.DEFAULT_BASE})")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init", help="create or update an instance: database, prompts, config")
    s.add_argument("--address", help="loopback/LAN address to bind SIP and the web panel to (AMI and FastAGI "
                   "too when it is a loopback address; else they stay on 127.0.0.1)")
    s.add_argument("--local-address", help="the loopback address AMI and FastAGI listen on "
                   "(default: --address if it is loopback, else 127.0.0.1)")
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
    sub.add_parser(supervisor.ROOT_HELPER, help="run the root helper, the services' one way to root "
                   "(supervisord does this)").set_defaults(fn=cmd_root_helper)

    history_cli.add_parser(sub)
    lines_cli.add_parser(sub, apply=cmd_apply)
    users_cli.add_parser(sub)
    scenarios_cli.add_parser(sub)
    schedules_cli.add_parser(sub)
    tables_cli.add_parser(sub)
    clients_cli.add_parser(sub)
    prompts_cli.add_parser(sub)
    messages_cli.add_parser(sub)
    callbacks_cli.add_parser(sub)
    operators_cli.add_parser(sub)
    outbound_cli.add_parser(sub)
    routing_cli.add_parser(sub)
    recordings_cli.add_parser(sub)
    log_rotation.add_parser(sub)
    reports_cli.add_parser(sub)

    s = sub.add_parser("sim", help="the PSTN simulator (carrier and operators' phones)")
    s.add_argument("sim_command", choices=("init", "start", "stop"))
    s.add_argument("--sim", default=simulator.DEFAULT_BASE)
    s.add_argument("--address", default="127.0.0.2")
    s.add_argument("--ami-port", type=int, default=5038)
    s.add_argument("--appliance", default="127.0.0.1:5060")
    s.add_argument("--rtp-start", type=int, default=30000)
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
    sub.add_parser("setup-code", help="print the one-time code the panel's first visit needs to "
                   "create the administrator (only while there is none)").set_defaults(fn=cmd_setup_code)
    s = sub.add_parser("tls", help="the panel's HTTPS: 'on' (a self-signed certificate if there is none; "
                       "HTTP then redirects), 'off', 'show'")
    s.add_argument("action", choices=("on", "off", "show"))
    s.add_argument("--https-port", default="8443", help="port for HTTPS when first turned on (default 8443)")
    s.set_defaults(fn=cmd_tls)
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


# Commands that keep root when root runs them: they start or stop
# supervisord and Asterisk, create the service user, touch the hardware or
# DAHDI, or keep a file only root may read (the setup code, the simulator's
# secrets). Every other command runs as the instance's service user, so what
# it writes stays the services' own.
ROOT_COMMANDS = {"init", "start", "stop", "sim", "demo-call", "hw", "dahdi", "setup-code", supervisor.ROOT_HELPER}


def drop_root(inst: Instance) -> None:
    """Carry on as the instance's service user when root runs this."""
    owner = instance.owner_of(inst)
    if os.geteuid() == 0 and owner is not None:
        instance.become(owner)


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    inst = Instance.at(args.instance)
    if args.command not in ROOT_COMMANDS:
        drop_root(inst)
    try:
        return args.fn(args, inst)
    except ConfigError as exc:
        # a refused value: the same exit status as argparse's usage errors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ami.AmiError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except PermissionError as exc:
        if os.geteuid() == 0 or not exc.filename:
            raise
        # run by root, the command carries on as the service user (ROOT_COMMANDS)
        print(f"error: {exc.filename}: not readable or writable by the user {instance.SERVICE_USER}, "
              f"which korund commands run as; use a file or folder it can reach (e.g. under /tmp)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

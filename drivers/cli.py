"""`korund hw ...` (also `firmware-tools/korund-hw ...`): the technicians' CLI.

Example:
    korund hw inventory
    korund hw spans
    korund hw span 1
    korund hw counters --reset --span 1
    korund hw loopback 1 --mode localhost
    korund hw timing --count 5
    korund hw firmware
    korund hw bundle /tmp/support.tar.gz
    KORUND_HW_ROOT=tests/fixtures/hw/te410p_e1 korund hw spans   (a recorded machine)
"""
from __future__ import annotations

import argparse
import json
import sys

from . import bundle as bundle_mod, inventory, maint, spans as spans_mod
from .root import Root


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=sorted))


def cmd_inventory(args, root: Root) -> int:
    boards = inventory.boards(root)
    if args.json:
        _print_json([b.as_dict() for b in boards])
        return 0
    if not boards:
        print("no telephony boards found")
        return 0
    for b in boards:
        if b.supported:
            ports = f"{b.spans} span(s)" if b.spans else (f"{b.ports} port(s)" if b.ports else "")
            drv = b.loaded_driver or "none"
            warn = "" if b.driver_ok else f"  (expects {b.driver}, bound: {drv})"
            print(f"{b.address}  {b.vendor} {b.model}  [{b.kind}, {ports}, echo: {b.echo}]  "
                  f"driver {b.driver}{warn}")
        else:
            print(f"{b.address}  unsupported board {b.ids} ({b.vendor})")
    return 0


def _span_line(s: spans_mod.Span) -> str:
    state = ",".join(sorted(s.alarms)) or "OK"
    flags = (" master" if s.timing_source else "") + (" clock-source" if s.clock_source else "")
    return (f"{s.number:>3}  {s.name:<14} {state:<12} {s.line_config:<15} "
            f"{len(s.channels):>2} ch, {s.in_use} in use{flags}  {s.description}")


def cmd_spans(args, root: Root) -> int:
    all_spans = spans_mod.spans(root)
    if args.json:
        _print_json([s.as_dict() for s in all_spans])
        return 0
    if not all_spans:
        print("no DAHDI spans (is the DAHDI module loaded?)")
        return 0
    for s in all_spans:
        print(_span_line(s))
    return 0


def cmd_span(args, root: Root) -> int:
    try:
        s = spans_mod.span(root, args.number)
    except spans_mod.SpanNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(s.as_dict())
        return 0
    print(_span_line(s))
    print("counters: " + ", ".join(f"{k}={v}" for k, v in s.counters.items()))
    for c in s.channels:
        extra = " in use" if c.in_use else ""
        extra += f" {','.join(sorted(c.alarms))}" if c.alarms else ""
        extra += f" EC {c.echo_canceller} ({'on' if c.echo_active else 'off'})" if c.echo_canceller else ""
        print(f"  {c.number:>4} {c.name:<18} {c.signalling or '-':<24} {c.kind}{extra}")
    return 0


def _result(args, r: maint.Result) -> int:
    if args.json:
        _print_json(r.as_dict())
    else:
        print(r.message)
        if r.output.strip() and getattr(args, "verbose", False):
            print(r.output.rstrip())
    return 0 if r.ok else (2 if not r.available else 1)


def cmd_counters(args, root: Root) -> int:
    if args.reset:
        return _result(args, maint.reset_counters(root, args.span))
    all_spans = spans_mod.spans(root)
    if args.span is not None:
        all_spans = [s for s in all_spans if s.number == args.span]
        if not all_spans:
            print(f"error: no DAHDI span {args.span}", file=sys.stderr)
            return 1
    if args.json:
        _print_json({s.number: s.counters for s in all_spans})
        return 0
    print("span  " + "  ".join(f"{k:>10}" for k in spans_mod.COUNTERS))
    for s in all_spans:
        print(f"{s.number:>4}  " + "  ".join(f"{s.counters[k]:>10}" for k in spans_mod.COUNTERS))
    return 0


def cmd_loopback(args, root: Root) -> int:
    return _result(args, maint.loopback(root, args.number, args.mode, seconds=args.seconds))


def cmd_timing(args, root: Root) -> int:
    return _result(args, maint.timing_test(root, args.count))


def cmd_firmware(args, root: Root) -> int:
    fw = maint.firmware(root)
    if args.json:
        _print_json(fw)
        return 0
    for b in fw["boards"]:
        vers = ", ".join(f"{k}={v}" for k, v in b["versions"].items()) or b["note"]
        print(f"{b['address']}  {b['model']}  PCI rev {b['pci_revision'] or '?'}: {vers}")
    if not fw["boards"]:
        print("no telephony boards found")
    print("firmware files: " + (", ".join(f"{f['path']} ({f['size']} bytes)" for f in fw["files"])
                                or "none installed"))
    return 0


def cmd_bundle(args, root: Root, config_dirs=(), log_dirs=()) -> int:
    manifest = bundle_mod.make_bundle(args.out, root, config_dirs=config_dirs, log_dirs=log_dirs)
    print(f"support bundle written to {args.out} ({len(manifest['files'])} files, secrets removed)")
    for m in manifest["missing"]:
        print(f"  not included: {m}")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", help="hardware root to read instead of / (also $KORUND_HW_ROOT)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    sub = p.add_subparsers(dest="hw_command", required=True)
    sub.add_parser("inventory", help="telephony boards: model, driver, spans/ports, echo canceller")
    sub.add_parser("spans", help="DAHDI spans: alarms, line config, channels in use")
    s = sub.add_parser("span", help="one span in detail: counters and every channel")
    s.add_argument("number", type=int)
    s = sub.add_parser("counters", help="error counters (BPV, CRC4, E-bit, FAS, slips); --reset zeroes them")
    s.add_argument("--span", type=int)
    s.add_argument("--reset", action="store_true")
    s = sub.add_parser("loopback", help="maintenance loopback test on a span (dahdi_maint)")
    s.add_argument("number", type=int)
    s.add_argument("--mode", default="localhost", choices=maint.LOOPBACK_MODES)
    s.add_argument("--seconds", type=float, default=2.0)
    s.add_argument("-v", "--verbose", action="store_true")
    s = sub.add_parser("timing", help="timing test (dahdi_test)")
    s.add_argument("--count", type=int, default=5)
    s.add_argument("-v", "--verbose", action="store_true")
    sub.add_parser("firmware", help="firmware versions exposed by drivers and firmware files shipped")
    s = sub.add_parser("bundle", help="support bundle OUT.tar.gz (configs, status, counters, logs; "
                       "secrets removed)")
    s.add_argument("out")


COMMANDS = {"inventory": cmd_inventory, "spans": cmd_spans, "span": cmd_span,
            "counters": cmd_counters, "loopback": cmd_loopback, "timing": cmd_timing,
            "firmware": cmd_firmware}


def run(args, config_dirs=(), log_dirs=()) -> int:
    root = Root(args.root)
    if args.root and not root.base.is_dir():
        print(f"error: hardware root {args.root} is not a directory", file=sys.stderr)
        return 1
    if args.hw_command == "bundle":
        dirs = [str(root.path("etc/dahdi")), *config_dirs]
        return cmd_bundle(args, root, dirs, log_dirs)
    return COMMANDS[args.hw_command](args, root)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="korund-hw", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    args = p.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())

"""``korund recordings ...`` and ``korund archive`` (appliance.recordings.store).

Example:
    korund recordings policy list
    korund recordings policy set group support --mode sampled --percent 20 --retention-days 90
    korund recordings policy set number 100 --mode demand
    korund recordings policy set callbacks --mode all --two-channel
    korund recordings policy delete group support
    korund recordings guard --warn 15 --delete 5
    korund recordings reindex
    korund recordings retention --dry-run
"""
from __future__ import annotations

import json
import logging
import sys

from appliance.base import ami, store
from appliance.recordings import service as archive_service, store as recordings

APPLY_HINT = "run 'korund apply' (or Apply in the panel) so Asterisk records by the new policy"


def add_parser(sub) -> None:
    s = sub.add_parser("recordings", help="call recording (F12): policy list|set SCOPE [TARGET] "
                                          "--mode M [--percent N --two-channel --retention-days N]|"
                                          "delete SCOPE [TARGET]; guard [--warn N --delete N]; "
                                          "reindex; retention [--dry-run]; list")
    s.add_argument("rec_command", choices=("policy", "guard", "reindex", "retention", "list"))
    s.add_argument("args", nargs="*")
    s.add_argument("--mode", default="all")
    s.add_argument("--percent", default="100")
    s.add_argument("--two-channel", action="store_true")
    s.add_argument("--retention-days", default="")
    s.add_argument("--warn")
    s.add_argument("--delete")
    s.add_argument("--dry-run", action="store_true")
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=run)
    sub.add_parser("archive", help="run the archive service: index, crash recovery, retention, "
                                   "disk guard (supervisord does this)").set_defaults(fn=serve)


def serve(args, inst) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    archive_service.run(inst)
    return 0


def run(args, inst) -> int:
    return _run(args, inst, inst.open_store())


def _print(args, data, lines) -> None:
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        for line in lines:
            print(line)


def _run(args, inst, db) -> int:
    cmd, rest = args.rec_command, args.args
    if cmd == "policy":
        action = rest[0] if rest else "list"
        if action == "list":
            plist = recordings.policies(db)
            _print(args, plist, [f"{p['key']:24} {p['mode']:8} {p['sample_percent']:>3}% "
                                 f"{'2ch' if p['two_channel'] else '1ch'} "
                                 f"keep {p['retention_days'] or 'forever'}" for p in plist])
            return 0
        if action not in ("set", "delete") or len(rest) < 2:
            print("usage: korund recordings policy list|set SCOPE [TARGET] --mode M|delete SCOPE [TARGET]",
                  file=sys.stderr)
            return 2
        scope, target = rest[1], (rest[2] if len(rest) > 2 else "")
        if action == "set":
            p = recordings.set_policy(db, "cli", scope, target, args.mode, args.percent, args.two_channel,
                                      args.retention_days)
            print(f"policy {recordings.policy_key(p['scope'], p['target'])}: {p['mode']}; {APPLY_HINT}")
        else:
            recordings.delete_policy(db, "cli", scope, target)
            print(f"policy {recordings.policy_key(scope, target)} deleted; {APPLY_HINT}")
        return 0
    if cmd == "guard":
        if args.warn is not None or args.delete is not None:
            g = recordings.guard_settings(db)
            recordings.set_guard(db, "cli", args.warn if args.warn is not None else g["warn_free_percent"],
                                 args.delete if args.delete is not None else g["delete_free_percent"])
        u = recordings.usage(db, inst)
        _print(args, u, [f"free {u['free_percent']} % ({u['free'] // 2**20} MiB of {u['total'] // 2**20} MiB); "
                         f"warn below {u['warn_free_percent']} %, delete oldest below "
                         f"{u['delete_free_percent']} %",
                         f"{u['files']} recording(s), {u['bytes'] // 2**10} KiB, {u['held']} on legal hold"])
        return 0
    if cmd == "reindex":
        mgr = None
        try:
            mgr = ami.connect(store.settings(db), timeout=2)
        except ami.AmiError:
            mgr = None
        try:
            done = recordings.sweep(db, inst, archive_service.live_channels(mgr), days=None)
        finally:
            ami.close(mgr)
        _print(args, done, [f"{len(done['indexed'])} file(s) indexed, {len(done['finalised'])} finalised"])
        return 0
    if cmd == "retention":
        victims = recordings.retention(db, inst, dry_run=args.dry_run, by="cli")
        verb = "would delete" if args.dry_run else "deleted"
        _print(args, victims, [f"{verb} {r['path']} ({r['started_at']}, policy {r['policy'] or 'default'})"
                               for r in victims] + [f"{len(victims)} recording(s) {verb}"])
        return 0
    rows = [recordings.get(db, r[0]) for r in db.execute(
        "SELECT id FROM recordings ORDER BY id DESC LIMIT ?", [args.limit])]
    _print(args, rows, [f"{r['id']:5} {r['status']:9} {r['started_at'][:19]} {r['operator']:6} "
                        f"{r['grp']:10} {r['ani']:14} {r['duration'] or 0:7.1f}s {r['path']}" for r in rows])
    return 0

"""``korund clients import|export|find``: the client register (CRM) as CSV,
imported all or nothing (appliance.clients.store)."""
from __future__ import annotations

import json
import sys

from appliance.base.errors import ConfigError
from appliance.clients import store as clients


def add_parser(sub) -> None:
    s = sub.add_parser("clients", help="clients (CRM): import FILE.csv [--dry-run] (all or nothing), "
                       "export [FILE.csv], find NUMBER")
    s.add_argument("clients_command", choices=("import", "export", "find"))
    s.add_argument("file", nargs="?", help="the CSV file (export: '-' or none for standard output); find: the number")
    s.add_argument("--dry-run", action="store_true", help="only report what the import would do")
    s.set_defaults(fn=run)


def run(args, inst) -> int:
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

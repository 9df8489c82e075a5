"""``korund table NAME FILE.csv --key COL``: import a data table for IVR
look-ups, all or nothing (appliance.tables.store)."""
from __future__ import annotations

import sys

from appliance.base.errors import ConfigError
from appliance.tables import store as datatables


def add_parser(sub) -> None:
    s = sub.add_parser("table", help="import a CSV data table for IVR look-ups (all or nothing)")
    s.add_argument("name")
    s.add_argument("file")
    s.add_argument("--key", required=True, help="the column looked up by")
    s.add_argument("--dry-run", action="store_true", help="only report what the import would do")
    s.add_argument("--merge", action="store_true",
                   help="update rows by key and add new ones instead of replacing the table")
    s.set_defaults(fn=run)


def run(args, inst) -> int:
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

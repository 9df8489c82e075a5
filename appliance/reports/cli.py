"""``korund reports ...``: list the forms, show one (table, CSV or JSON),
catch the rollups up or rebuild them.

Example: ``korund reports show groups --period month --from 2026-03-01``
"""
from __future__ import annotations

import json
import sys

from appliance.base.errors import ConfigError
from appliance.reports import engine, export, forms, measures as M, period as P, rollup
from appliance.reports.spec import check_filters, check_spec


def add_parser(sub) -> None:
    s = sub.add_parser("reports", help="reports (F14): list, show FORM [--period day|week|month|year "
                                       "--from D --to D --group G --operator X --format table|csv|json], "
                                       "refresh (catch the rollups up), rebuild")
    s.add_argument("reports_command", choices=("list", "show", "refresh", "rebuild"))
    s.add_argument("form", nargs="?")
    s.add_argument("--period", default="")
    s.add_argument("--from", dest="start")
    s.add_argument("--to", dest="end")
    for name in M.FILTERS:
        s.add_argument(f"--{name}")
    s.add_argument("--sl", type=int)
    s.add_argument("--format", choices=("table", "csv", "json"), default="table")
    s.set_defaults(fn=lambda args, inst: run(args, inst.open_store()))


def run(args, db) -> int:
    cmd = args.reports_command
    if cmd == "list":
        for key, spec in forms.READY.items():
            print(f"{key:20s} {spec.title}")
        for f in forms.custom_forms(db):
            print(f"{f['key']:20s} {f['spec'].title}  (custom, {f['created_by']})")
        return 0
    if cmd in ("refresh", "rebuild"):
        done = (rollup.refresh if cmd == "refresh" else rollup.rebuild)(db)
        print(f"{done['days']} day(s) recomputed, {done['states']} state log row(s) added")
        return 0
    found = forms.get(db, args.form or "")
    if found is None:
        raise ConfigError("form", "no such report form")
    spec = found[0]
    kind = args.period or ("custom" if args.start and args.end else spec.period)
    per = P.resolve(kind, args.start, args.end, engine.today(db))
    filters = dict(spec.filters) | {k: getattr(args, k) for k in M.FILTERS if getattr(args, k)}
    data = spec.as_dict() | {"filters": check_filters(filters, spec.families(), spec.dimensions)}
    if args.sl:
        data["sl_seconds"] = args.sl
    result = engine.run(db, check_spec(data), per)
    header = [c["title"] + (f": {c['reason']}" if c.get("reason") else "") for c in result.columns]
    rows = result.rows + [["Total"] + [""] * (len(result.spec.dimensions) - 1) + result.total[len(result.spec.dimensions):]
                          if result.spec.dimensions else result.total]
    if args.format == "json":
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=1))
    elif args.format == "csv":
        sys.stdout.write(export.to_csv(header, rows).decode("utf-8-sig"))
    else:
        print(f"{spec.title}: {per.start} .. {per.end}")
        cells = [header] + [["—" if v is None else str(v) for v in row] for row in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
        for r in cells:
            print("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths))))
    return 0

"""Answering a report: each family of measures is summed per row key (the
chosen dimensions) from the smallest rollup that holds those dimensions and
filters, or from the raw rows when none does; the sums are then turned into
the measures (rates and averages from summed parts, so totals are exact)."""
from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from appliance.recordings import quality
from appliance.reports import measures as M, period as P, rollup
from appliance.reports.spec import Spec

log = logging.getLogger("korund.reports")

# rollup table -> the dimensions and filters it can answer
CALL_ROLLUPS = (
    ("report_calls_line", {"day", "week", "month", "direction", "group", "line", "span", "dnis",
                           "route_source"}),
    ("report_calls_operator", {"day", "week", "month", "direction", "group", "operator"}),
    ("report_calls_hour", {"hour", "day", "week", "month", "direction", "group"}),
)
SQL_COLUMN = {"hour": "hour", "day": "day", "week": "week", "month": "substr(day, 1, 7)",
              "direction": "direction", "group": "grp", "line": "trunk", "span": "span", "dnis": "dnis",
              "route_source": "route_source", "operator": "operator"}
RAW_KEY = {"group": "grp", "line": "trunk"}        # dimension -> key_values() name, when it differs
RAW_FILTER = {"group": "grp", "operator": "operator", "line": "trunk", "dnis": "dnis",
              "direction": "direction"}


@dataclass
class Result:
    spec: Spec
    period: P.Period
    columns: list            # [{"key", "title", "kind", "dimension": bool}]
    rows: list               # [[value per column]]
    total: list              # [value per column]; dimensions None
    sources: dict = field(default_factory=dict)   # family -> rollup table or "raw"

    def as_dict(self) -> dict:
        return {"title": self.spec.title, "from": self.period.start.isoformat(),
                "to": self.period.end.isoformat(), "columns": self.columns, "rows": self.rows,
                "total": self.total, "sources": self.sources}


def _calls_source(spec: Spec) -> str | None:
    need = set(spec.dimensions) | set(spec.filters)
    if spec.sl_seconds not in M.EDGES:
        return None
    for table, covers in CALL_ROLLUPS:
        if need <= covers:
            return table
    return None


def calls_sums(db, spec: Spec, per: P.Period, tz, source: str | None) -> dict:
    dims = spec.dimensions
    out = {}
    if source:
        cols = [SQL_COLUMN[d] for d in dims]
        where, args = ["day >= ?", "day <= ?"], list(per.iso())
        for key, value in spec.filters.items():
            where.append(f"{SQL_COLUMN[key]} = ?")
            args.append(value)
        sums = M.needed_sums(spec.measures, spec.sl_seconds)
        select = ", ".join(cols + [f"SUM({s})" for s in sums])
        sql = f"SELECT {select} FROM {source} WHERE {' AND '.join(where)}"
        if cols:
            sql += f" GROUP BY {', '.join(cols)}"
        for row in db.execute(sql, args):
            key = tuple(row[:len(cols)])
            out[key] = {k: v for k, v in zip(sums, row[len(cols):]) if v}
        return out
    where, args = "", []
    for key, value in spec.filters.items():
        where += f" AND COALESCE({RAW_FILTER[key]}, '') = ?"
        args.append(value)
    start, end = per.bounds(tz)
    for c in rollup.fetch_calls(db, start, end, where, args):
        values = rollup.key_values(c, tz)
        key = tuple(values[RAW_KEY.get(d, d)] for d in dims)
        M.add(out.setdefault(key, {}), M.call_sums(c, spec.sl_seconds))
    return out


def _in_rows(db, spec, per, tz, sql, args, stamp_at, group_at, count):
    """Sum raw rows of a small table (callbacks, messages) per key."""
    start, end = per.bounds(tz)
    out = {}
    for row in db.execute(sql, [start, end, *args]):
        values = P.buckets(row[stamp_at], tz)
        values["group"] = row[group_at] or ""
        key = tuple(values[d] for d in spec.dimensions)
        M.add(out.setdefault(key, {}), count(row))
    return out


def callbacks_sums(db, spec: Spec, per: P.Period, tz) -> dict:
    where, args = "", []
    if "group" in spec.filters:
        where, args = " AND c.grp = ?", [spec.filters["group"]]
    out = _in_rows(db, spec, per, tz, "SELECT c.grp, c.created_at FROM callbacks c WHERE c.created_at >= ? "
                   "AND c.created_at < ?" + where, args, 1, 0, lambda r: {"callbacks_ordered": 1})
    placed = _in_rows(db, spec, per, tz, "SELECT c.grp, a.at, a.result FROM callback_attempts a "
                      "JOIN callbacks c ON c.id = a.callback_id WHERE a.at >= ? AND a.at < ?" + where, args,
                      1, 0, lambda r: {"callbacks_placed": 1, "callbacks_done": int(r[2] == "answered")})
    for key, sums in placed.items():
        M.add(out.setdefault(key, {}), sums)
    return out


def messages_sums(db, spec: Spec, per: P.Period, tz) -> dict:
    where, args = "", []
    if "group" in spec.filters:
        where, args = " AND grp = ?", [spec.filters["group"]]
    return _in_rows(db, spec, per, tz, "SELECT grp, created_at, handled_at FROM messages "
                    "WHERE created_at >= ? AND created_at < ?" + where, args, 1, 0,
                    lambda r: {"messages": 1, "messages_handled": int(bool(r[2]))})


def _state_key(state: str, reason: str) -> list[str]:
    measure = M.STATE_MEASURE[state]
    return [measure, f"state_pause_reasons:{reason}"] if measure == "state_pause" else [measure]


def states_sums(db, spec: Spec, per: P.Period, tz, now: datetime | None = None) -> dict:
    dims = spec.dimensions
    cols = [SQL_COLUMN[d] for d in dims]
    where, args = ["day >= ?", "day <= ?"], list(per.iso())
    if "operator" in spec.filters:
        where.append("operator = ?")
        args.append(spec.filters["operator"])
    out = {}
    sql = (f"SELECT {', '.join(cols + ['state', 'reason', 'SUM(seconds)'])} FROM report_states "
           f"WHERE {' AND '.join(where)} GROUP BY {', '.join(cols + ['state', 'reason'])}")
    for row in db.execute(sql, args):
        key, state, reason, seconds = tuple(row[:len(cols)]), *row[len(cols):]
        for name in _state_key(state, reason):
            M.add(out.setdefault(key, {}), {name: seconds})
    # states still open are not in the rollup yet: count them up to now
    open_where, open_args = "WHERE l.ended_at IS NULL", []
    if "operator" in spec.filters:
        open_where += " AND o.extension = ?"
        open_args.append(spec.filters["operator"])
    first, last = per.iso()
    for row in db.execute(rollup.STATE_SELECT + open_where, open_args):
        for day, operator, state, reason, seconds in rollup.state_pieces(row, tz, now):
            iso = day.isoformat()
            if not first <= iso <= last:
                continue
            values = {"day": iso, "week": P.week_of(day), "month": iso[:7], "operator": operator}
            key = tuple(values[d] for d in dims)
            for name in _state_key(state, reason):
                M.add(out.setdefault(key, {}), {name: seconds})
    return out


def quality_sums(db, spec: Spec, per: P.Period, tz) -> dict:
    by_dim = next((d for d in spec.dimensions if d in ("operator", "group")), None)
    by_filter = next(iter(spec.filters), None)
    by = by_dim or by_filter or "group"
    start, end = per.bounds(tz)
    out = {}
    for r in quality.averages(db, start + "+00:00", end + "+00:00", "operator" if by == "operator" else "grp"):
        if spec.filters and spec.filters.get(by, r["key"]) != r["key"]:
            continue
        key = (r["key"] or "",) if by_dim else ()
        M.add(out.setdefault(key, {}), {"q_sum": r["score"] * r["count"], "q_n": r["count"]})
    return out


def finish(spec: Spec, sums: dict, reasons: list[str]) -> dict:
    """Measure values of one row from its sums."""
    values = {}
    families = spec.families()
    if "calls" in families:
        values.update(M.finish_calls(sums, spec.sl_seconds))
    for name in ("callbacks_ordered", "callbacks_placed", "callbacks_done", "messages", "messages_handled"):
        values[name] = sums.get(name, 0)
    for name in ("state_ready", "state_talk", "state_wrapup", "state_pause"):
        values[name] = round(sums.get(name, 0), 1)
    for reason in reasons:
        values[f"state_pause_reasons:{reason}"] = round(sums.get(f"state_pause_reasons:{reason}", 0), 1)
    values["quality"] = round(sums["q_sum"] / sums["q_n"], 1) if sums.get("q_n") else None
    values["quality_count"] = sums.get("q_n", 0)
    return values


def _all_buckets(dim: str, per: P.Period) -> list:
    if dim == "hour":
        return list(range(24))
    days = list(per.each_day())
    if dim == "day":
        return [d.isoformat() for d in days]
    seen = []
    for d in days:
        key = P.week_of(d) if dim == "week" else d.isoformat()[:7]
        if key not in seen:
            seen.append(key)
    return seen


def _sort_key(key: tuple):
    return tuple((0, v) if isinstance(v, (int, float)) else (1, str(v)) for v in key)


def run(db, spec: Spec, per: P.Period, now: datetime | None = None, refresh: bool = True,
        raw: bool = False) -> Result:
    """The report *spec* over *per*. ``raw`` answers everything from the raw
    rows (the tests and the bench compare both)."""
    if refresh:
        try:
            rollup.refresh(db, now)
        except sqlite3.OperationalError as exc:   # the write lock stayed busy: answer from what is there
            log.warning("report rollups not caught up: %s", exc)
    tz = P.zone(db)
    rows: dict[tuple, dict] = {}
    sources = {}
    for family in spec.families():
        if family == "calls":
            source = None if raw else _calls_source(spec)
            sources[family] = source or "raw"
            part = calls_sums(db, spec, per, tz, source)
        elif family == "callbacks":
            sources[family], part = "raw", callbacks_sums(db, spec, per, tz)
        elif family == "messages":
            sources[family], part = "raw", messages_sums(db, spec, per, tz)
        elif family == "states":
            sources[family], part = "report_states", states_sums(db, spec, per, tz, now)
        else:
            sources[family], part = "quality", quality_sums(db, spec, per, tz)
        for key, sums in part.items():
            M.add(rows.setdefault(key, {}), sums)
    if len(spec.dimensions) == 1 and spec.dimensions[0] in M.TIME_DIMENSIONS:
        for b in _all_buckets(spec.dimensions[0], per):
            rows.setdefault((b,), {})
    reasons = sorted({k.split(":", 1)[1] for sums in rows.values() for k in sums
                      if k.startswith("state_pause_reasons:")}) \
        if "state_pause_reasons" in spec.measures else []
    columns = [{"key": d, "title": M.DIMENSIONS[d], "kind": "dimension", "dimension": True}
               for d in spec.dimensions]
    value_keys = []
    for m in spec.measures:
        if m == "state_pause_reasons":
            for reason in reasons:
                value_keys.append(f"{m}:{reason}")
                columns.append({"key": f"{m}:{reason}", "title": M.MEASURES[m].title, "reason": reason,
                                "kind": "duration", "dimension": False})
        else:
            value_keys.append(m)
            columns.append({"key": m, "title": M.MEASURES[m].title, "kind": M.MEASURES[m].kind,
                            "dimension": False})
    total_sums: dict = {}
    out_rows = []
    for key in sorted(rows, key=_sort_key):
        M.add(total_sums, rows[key])
        values = finish(spec, rows[key], reasons)
        out_rows.append(list(key) + [values.get(k) for k in value_keys])
    totals = finish(spec, total_sums, reasons)
    total = [None] * len(spec.dimensions) + [totals.get(k) for k in value_keys]
    return Result(spec, per, columns, out_rows, total, sources)


def today(db, now: datetime | None = None) -> date:
    return (now or datetime.now(timezone.utc)).astimezone(P.zone(db)).date()


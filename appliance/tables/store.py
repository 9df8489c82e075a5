"""Data tables for the IVR's look-ups (F4): imported from CSV, all or nothing.

Reading the file (encoding and delimiter detected, sizes, line-by-line
problems) and the two-step import are ``appliance.base.upload``'s, shared
with the clients; here are a table's own rules: the first row names the
columns (latin letters, digits and _); one column is the key (unique,
indexed). ``preview`` reports what an import would do without writing: each
bad line with its number and the reason. ``import_csv`` writes only a file
with no problems, in one transaction.

The panel imports in two steps: ``stage`` keeps the uploaded bytes under a
token and returns the preview; ``confirm`` re-reads exactly those bytes and
imports them (replacing the table, or merging rows into it by key). Rows can
also be added, changed and deleted one at a time, keeping keys unique.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass

from appliance.base import clock, upload
from appliance.base.errors import GROUP_NAME, ConfigError, check_match
from appliance.base.upload import Preview

MAX_COLUMNS = 50
MODES = ("replace", "merge")
COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")


@dataclass
class TableInfo:
    name: str
    key_column: str
    columns: list[str]
    rows: int
    updated_at: str


@dataclass
class Staged:
    token: str
    name: str
    key_column: str
    mode: str
    filename: str
    preview: Preview


def preview(raw: bytes, key_column: str = "") -> Preview:
    """Parse *raw* as it would be imported, writing nothing. An empty
    *key_column* means the first column."""
    result, reader = upload.open_csv(raw)
    if reader is None:
        return result
    bad = [h for h in result.columns if not COLUMN.fullmatch(h)]
    if bad:
        result.add(1, ConfigError("file", "column names must be latin letters, digits and _: {columns}",
                                  columns=", ".join(c[:40] for c in bad[:10])))
    if len(set(result.columns)) != len(result.columns):
        result.add(1, ConfigError("file", "two columns have the same name"))
    if len(result.columns) > MAX_COLUMNS:
        result.add(1, ConfigError("file", "more than {max} columns", max=MAX_COLUMNS))
    key_column = (key_column or "").strip() or result.columns[0]
    result.key_column = key_column
    if key_column not in result.columns:
        result.add(None, ConfigError("file", "there is no key column '{key}'", key=key_column))
        return result
    if bad or len(result.columns) > MAX_COLUMNS:
        return result
    seen: set[str] = set()
    for line, record in upload.records(reader, result):
        key = record[key_column]
        if not key:
            result.add(line, ConfigError("file", "the key is empty"))
        elif key in seen:
            result.add(line, ConfigError("file", "the key '{key}' is repeated", key=key))
        seen.add(key)
        result.rows.append(record)
        if len(result.rows) > upload.MAX_ROWS:
            result.add(None, ConfigError("file", "more than {max} rows", max=upload.MAX_ROWS))
            break
    return result


def _check_name(name: str) -> str:
    return check_match(GROUP_NAME, name, "name", "table name (a-z, 0-9, _ and -)")


def _options(name: str, key_column: str, mode: str) -> dict:
    """An import's options as the import keeps them, or ConfigError."""
    name = _check_name(name)
    if mode not in MODES:
        raise ConfigError("mode", "the import mode is 'replace' or 'merge'")
    return {"name": name, "key_column": key_column, "mode": mode}


def _table_id(db, name: str) -> int:
    row = db.execute("SELECT id FROM data_tables WHERE name = ?", [name]).fetchone()
    if not row:
        raise ConfigError("name", "no data table named '{name}'", name=name)
    return row[0]


def _read(db, raw: bytes, name: str, key_column: str, mode: str) -> Preview:
    """The preview of an import into *name*; to merge, the file needs the table's columns and key."""
    p = preview(raw, key_column)
    info = table(db, name) if p.ok and mode == "merge" else None
    if info and (info.columns != p.columns or info.key_column != p.key_column):
        p.add(None, ConfigError("file", "to merge, the file needs the table's columns ({columns}) and key '{key}'",
                                columns=", ".join(info.columns), key=info.key_column))
    return p


def _write(db, p: Preview, by: str | None, name: str, key_column: str, mode: str) -> None:
    now = clock.stamp()
    with db.atomic():
        row = db.execute("SELECT id FROM data_tables WHERE name = ?", [name]).fetchone()
        if row and mode == "merge":
            tid = row[0]
            db.execute("UPDATE data_tables SET updated_at = ? WHERE id = ?", [now, tid])
            db.conn.executemany(
                "INSERT INTO data_rows (table_id, key, data) VALUES (?, ?, ?) "
                "ON CONFLICT (table_id, key) DO UPDATE SET data = excluded.data",
                [(tid, r[p.key_column], json.dumps(r, ensure_ascii=False)) for r in p.rows])
            return
        db.execute("DELETE FROM data_tables WHERE name = ?", [name])
        tid = db.execute("INSERT INTO data_tables (name, columns, key_column, imported_at, updated_at) "
                         "VALUES (?, ?, ?, ?, ?)",
                         [name, json.dumps(p.columns), p.key_column, now, now]).lastrowid
        db.conn.executemany("INSERT INTO data_rows (table_id, key, data) VALUES (?, ?, ?)",
                            [(tid, r[p.key_column], json.dumps(r, ensure_ascii=False)) for r in p.rows])


IMPORT = upload.Importer("data_uploads", _read, _write, options=("name", "key_column", "mode"))


def import_csv(db, name: str, raw: bytes, key_column: str = "", mode: str = "replace") -> Preview:
    """Replace table *name* with the file's rows (or merge them in by key),
    or change nothing."""
    return IMPORT.run(db, raw, None, **_options(name, key_column, mode))[0]


# -- two-step import: stage, then confirm -------------------------------------

def stage(db, name: str, raw: bytes, key_column: str, mode: str, username: str,
          filename: str = "") -> tuple[str | None, Preview]:
    """Preview an upload; keep it under a new token only if it can be imported.
    Returns (token or None, preview)."""
    return IMPORT.stage(db, raw, username, filename, **_options(name, key_column, mode))


def _named(s: upload.Staged) -> Staged:
    return Staged(s.token, s.options["name"], s.preview.key_column, s.options["mode"], s.filename, s.preview)


def staged(db, token: str, username: str) -> Staged:
    """The upload kept under *token* for *username*, parsed again."""
    return _named(IMPORT.staged(db, token, username))


def confirm(db, token: str, username: str) -> Staged:
    """Import exactly the bytes that were previewed under *token*; all or nothing."""
    return _named(IMPORT.confirm(db, token, username))


def discard(db, token: str, username: str) -> None:
    IMPORT.discard(db, token, username)


# -- tables and rows ------------------------------------------------------------

def tables(db) -> list[TableInfo]:
    return [TableInfo(r[0], r[1], json.loads(r[2]), r[3], r[4] or r[5]) for r in db.execute(
        "SELECT t.name, t.key_column, t.columns, (SELECT COUNT(*) FROM data_rows r WHERE r.table_id = t.id), "
        "t.updated_at, t.imported_at FROM data_tables t ORDER BY t.name")]


def table(db, name: str) -> TableInfo | None:
    return next((t for t in tables(db) if t.name == name), None)


def rows(db, name: str, search: str = "", offset: int = 0, limit: int = 50) -> tuple[int, list[dict]]:
    """(how many rows match, one page of them in file order). *search* matches
    any value containing it."""
    tid = _table_id(db, name)
    where, params = "r.table_id = ?", [tid]
    if search:
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", search) + "%"
        where += " AND EXISTS (SELECT 1 FROM json_each(r.data) j WHERE j.value LIKE ? ESCAPE '\\')"
        params.append(pattern)
    total = db.execute(f"SELECT COUNT(*) FROM data_rows r WHERE {where}", params).fetchone()[0]
    page = db.execute(f"SELECT r.data FROM data_rows r WHERE {where} ORDER BY r.rowid LIMIT ? OFFSET ?",
                      params + [max(1, limit), max(0, offset)]).fetchall()
    return total, [json.loads(r[0]) for r in page]


def put_row(db, name: str, values: dict, original_key: str | None = None) -> dict:
    """Add a row (*original_key* None) or change the row with *original_key*;
    the key stays unique. Returns the row as stored."""
    info = table(db, name)
    if info is None:
        raise ConfigError("name", "no data table named '{name}'", name=name)
    record = {}
    for column in info.columns:
        value = str(values.get(column) or "").strip()
        error = upload.value_error(column, column, value)
        if error:
            raise error
        record[column] = value
    key = record[info.key_column]
    if not key:
        raise ConfigError(info.key_column, "the key is empty")
    tid = _table_id(db, name)
    with db.atomic():
        if original_key is not None and not db.execute(
                "SELECT 1 FROM data_rows WHERE table_id = ? AND key = ?", [tid, original_key]).fetchone():
            raise ConfigError(info.key_column, "no row with the key '{key}'", key=original_key)
        if key != original_key and db.execute(
                "SELECT 1 FROM data_rows WHERE table_id = ? AND key = ?", [tid, key]).fetchone():
            raise ConfigError(info.key_column, "the key '{key}' is repeated", key=key)
        data = json.dumps(record, ensure_ascii=False)
        if original_key is None:
            db.execute("INSERT INTO data_rows (table_id, key, data) VALUES (?, ?, ?)", [tid, key, data])
        else:
            db.execute("UPDATE data_rows SET key = ?, data = ? WHERE table_id = ? AND key = ?",
                       [key, data, tid, original_key])
        db.execute("UPDATE data_tables SET updated_at = ? WHERE id = ?", [clock.stamp(), tid])
    return record


def delete_row(db, name: str, key: str) -> None:
    tid = _table_id(db, name)
    with db.atomic():
        if not db.execute("DELETE FROM data_rows WHERE table_id = ? AND key = ?", [tid, key]).rowcount:
            raise ConfigError("key", "no row with the key '{key}'", key=key)
        db.execute("UPDATE data_tables SET updated_at = ? WHERE id = ?", [clock.stamp(), tid])


def _uses(graph, name: str) -> bool:
    nodes = (graph or {}).get("nodes") if isinstance(graph, dict) else None
    return isinstance(nodes, dict) and any(
        isinstance(n, dict) and n.get("type") == "lookup" and n.get("table") == name for n in nodes.values())


def used_by(db, name: str) -> list[str]:
    """Scenarios whose draft or published version looks *name* up."""
    users = []
    for sid, scenario, draft in db.execute("SELECT id, name, draft FROM scenarios ORDER BY name").fetchall():
        published = db.execute("SELECT graph FROM scenario_versions WHERE scenario_id = ? "
                               "ORDER BY version DESC LIMIT 1", [sid]).fetchone()
        graphs = [draft] + ([published[0]] if published else [])
        if any(_uses(json.loads(g), name) for g in graphs):
            users.append(scenario)
    return users


def delete_table(db, name: str) -> None:
    """Delete a table, refused while a scenario's look-up uses it."""
    tid = _table_id(db, name)
    scenarios = used_by(db, name)
    if scenarios:
        raise ConfigError("name", "the table is used by the look-ups of scenarios: {scenarios}",
                          scenarios=", ".join(scenarios))
    with db.atomic():
        db.execute("DELETE FROM data_rows WHERE table_id = ?", [tid])
        db.execute("DELETE FROM data_tables WHERE id = ?", [tid])


def export_csv(db, name: str) -> bytes:
    """The table as CSV: UTF-8 with a BOM and semicolons, as spreadsheets open
    it; a value a spreadsheet would run as a formula behind a ``'``
    (``upload.export_cell``), which the import takes off again."""
    info = table(db, name)
    if info is None:
        raise ConfigError("name", "no data table named '{name}'", name=name)
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(info.columns)
    tid = _table_id(db, name)
    for (data,) in db.execute("SELECT data FROM data_rows WHERE table_id = ? ORDER BY rowid", [tid]):
        record = json.loads(data)
        writer.writerow([upload.export_cell(record.get(c, "")) for c in info.columns])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def lookup(db, table: str, key: str) -> dict | None:
    row = db.execute("SELECT r.data FROM data_rows r JOIN data_tables t ON t.id = r.table_id "
                     "WHERE t.name = ? AND r.key = ?", [table, key]).fetchone()
    return json.loads(row[0]) if row else None

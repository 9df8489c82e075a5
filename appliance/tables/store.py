"""Data tables for the IVR's look-ups (F4): imported from CSV, all or nothing.

A CSV from a Russian office is as likely cp1251 as UTF-8: the encoding is
detected (BOM, then strict UTF-8, then cp1251), and so is the delimiter
(comma, semicolon or tab). The first row names the columns; one column is the
key (unique, indexed). ``preview`` reports what an import would do without
writing: each bad line with its number and the reason. ``import_csv`` writes
only a file with no problems, in one transaction.

The panel imports in two steps: ``stage`` keeps the uploaded bytes under a
token and returns the preview; ``confirm`` re-reads exactly those bytes and
imports them (replacing the table, or merging rows into it by key). Rows can
also be added, changed and deleted one at a time, keeping keys unique.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from appliance.base import clock
from appliance.base.errors import GROUP_NAME, ConfigError, check_match

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
MAX_COLUMNS = 50
MAX_FIELD = 1000
MAX_PROBLEMS = 500
UPLOAD_TTL = timedelta(hours=1)
MODES = ("replace", "merge")
COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}


@dataclass
class Problem:
    """One reason a file cannot be imported; ``line`` is None for the whole file."""
    line: int | None
    error: ConfigError

    @property
    def text(self) -> str:
        return f"line {self.line}: {self.error.text}" if self.line else self.error.text


@dataclass
class Preview:
    encoding: str
    columns: list[str]
    rows: list[dict]
    problems: list[Problem] = field(default_factory=list)
    delimiter: str = ","
    key_column: str = ""
    sha256: str = ""
    size: int = 0

    @property
    def errors(self) -> list[str]:
        return [p.text for p in self.problems]

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, line: int | None, error: ConfigError) -> None:
        self.problems.append(Problem(line, error))


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
    existing: TableInfo | None


def decode(raw: bytes) -> tuple[str, str]:
    """The text and its encoding; UnicodeDecodeError if it is neither UTF-8 nor cp1251."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "utf-8"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("cp1251"), "cp1251"


def sniff_delimiter(text: str) -> str:
    """The delimiter the header line uses most (comma when it has none)."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def open_csv(raw: bytes, result: Preview):
    """The first steps of every CSV import: size, zero bytes, encoding,
    delimiter and the header line. Problems go into *result*; returns
    (reader, header), or None when the file cannot be read on."""
    if len(raw) > MAX_BYTES:
        result.add(None, ConfigError("file", "the file is larger than {mb} MB", mb=MAX_BYTES // 2**20))
        return None
    if b"\x00" in raw and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        result.add(None, ConfigError("file", "the file is binary (it has zero bytes), not CSV text"))
        return None
    try:
        text, result.encoding = decode(raw)
    except UnicodeDecodeError:
        result.add(None, ConfigError("file", "the file is neither UTF-8 nor Windows-1251 text"))
        return None
    result.delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=result.delimiter, quotechar='"')
    try:
        header = next(reader, None)
    except csv.Error as exc:
        result.add(1, ConfigError("file", "the line cannot be read: {reason}", reason=str(exc)))
        return None
    if not header or not any(h.strip() for h in header):
        result.add(None, ConfigError("file", "the file is empty"))
        return None
    return reader, header


def preview(raw: bytes, key_column: str = "") -> Preview:
    """Parse *raw* as it would be imported, writing nothing. An empty
    *key_column* means the first column."""
    result = Preview("", [], [], sha256=hashlib.sha256(raw).hexdigest(), size=len(raw))
    opened = open_csv(raw, result)
    if opened is None:
        return result
    reader, header = opened
    result.columns = [h.strip() for h in header]
    bad = [h for h in result.columns if not COLUMN.match(h)]
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
    for line, record in records(reader, result):
        key = record[key_column]
        if not key:
            result.add(line, ConfigError("file", "the key is empty"))
        elif key in seen:
            result.add(line, ConfigError("file", "the key '{key}' is repeated", key=key))
        seen.add(key)
        result.rows.append(record)
        if len(result.rows) > MAX_ROWS:
            result.add(None, ConfigError("file", "more than {max} rows", max=MAX_ROWS))
            break
    return result


def records(reader, result: Preview):
    """The file's data lines as (line number, {column: value}): unreadable
    lines, wrong field counts and bad values go into *result* and are
    skipped, empty lines are skipped, and reading stops after MAX_PROBLEMS."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            result.add(reader.line_num, ConfigError("file", "the line cannot be read: {reason}",
                                                    reason=str(exc)))
            return
        line = reader.line_num
        if len(result.problems) >= MAX_PROBLEMS:
            result.add(None, ConfigError("file", "too many problems: only the first {count} are listed",
                                         count=MAX_PROBLEMS))
            return
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(result.columns):
            result.add(line, ConfigError("file", "{count} fields, expected {expected}", count=len(row),
                                         expected=len(result.columns)))
            continue
        record = {c: v.strip() for c, v in zip(result.columns, row)}
        if not _check_values(result, line, record):
            yield line, record


def _check_values(result: Preview, line: int, record: dict) -> bool:
    """Report oversized values and control characters; True if any."""
    found = False
    for column, value in record.items():
        if len(value) > MAX_FIELD:
            result.add(line, ConfigError("file", "the value in column '{column}' is longer than {max} characters",
                                         column=column, max=MAX_FIELD))
            found = True
        elif CONTROL.search(value) or "\n" in value or "\r" in value:
            result.add(line, ConfigError(
                "file", "the value in column '{column}' has control characters (binary data?)", column=column))
            found = True
    return found


def _check_name(name: str) -> str:
    return check_match(GROUP_NAME, name, "name", "table name (a-z, 0-9, _ and -)")


def _table_id(db, name: str) -> int:
    row = db.execute("SELECT id FROM data_tables WHERE name = ?", [name]).fetchone()
    if not row:
        raise ConfigError("name", "no data table named '{name}'", name=name)
    return row[0]


def _merge_problems(db, name: str, p: Preview) -> None:
    info = table(db, name)
    if info and (info.columns != p.columns or info.key_column != p.key_column):
        p.add(None, ConfigError("file", "to merge, the file needs the table's columns ({columns}) and key '{key}'",
                                columns=", ".join(info.columns), key=info.key_column))


def _write(db, name: str, p: Preview, mode: str) -> None:
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


def _refuse(p: Preview) -> None:
    raise ConfigError("file", "the file was not imported: {errors}", errors="; ".join(p.errors[:10]))


def import_csv(db, name: str, raw: bytes, key_column: str = "", mode: str = "replace") -> Preview:
    """Replace table *name* with the file's rows (or merge them in by key),
    or change nothing."""
    name = _check_name(name)
    if mode not in MODES:
        raise ConfigError("mode", "the import mode is 'replace' or 'merge'")
    p = preview(raw, key_column)
    if p.ok and mode == "merge":
        _merge_problems(db, name, p)
    if not p.ok:
        _refuse(p)
    _write(db, name, p, mode)
    return p


# -- two-step import: stage, then confirm -------------------------------------

def stage(db, name: str, raw: bytes, key_column: str, mode: str, username: str,
          filename: str = "") -> tuple[str | None, Preview]:
    """Preview an upload; keep it under a new token only if it can be imported.
    Returns (token or None, preview)."""
    name = _check_name(name)
    if mode not in MODES:
        raise ConfigError("mode", "the import mode is 'replace' or 'merge'")
    p = preview(raw, key_column)
    if p.ok and mode == "merge":
        _merge_problems(db, name, p)
    if not p.ok:
        return None, p
    token = secrets.token_urlsafe(18)
    with db.atomic():
        db.execute("DELETE FROM data_uploads WHERE created_at < ?",
                   [(datetime.now(timezone.utc) - UPLOAD_TTL).isoformat(timespec="seconds")])
        db.execute("INSERT INTO data_uploads (token, username, name, key_column, mode, filename, raw, sha256, "
                   "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [token, username, name, p.key_column, mode, (filename or "")[:200],
                    base64.b64encode(raw).decode("ascii"), p.sha256, clock.stamp()])
    return token, p


def staged(db, token: str, username: str) -> Staged:
    """The upload kept under *token* for *username*, parsed again."""
    cutoff = (datetime.now(timezone.utc) - UPLOAD_TTL).isoformat(timespec="seconds")
    row = db.execute("SELECT name, key_column, mode, filename, raw, sha256 FROM data_uploads "
                     "WHERE token = ? AND username = ? AND created_at >= ?",
                     [token, username, cutoff]).fetchone()
    if not row:
        raise ConfigError("file", "the upload has expired or was already imported; upload the file again")
    name, key_column, mode, filename, raw, sha = row
    p = preview(base64.b64decode(raw), key_column)
    if p.sha256 != sha:
        raise ConfigError("file", "the upload has expired or was already imported; upload the file again")
    return Staged(token, name, key_column, mode, filename or "", p, table(db, name))


def confirm(db, token: str, username: str) -> Staged:
    """Import exactly the bytes that were previewed under *token*; all or nothing."""
    with db.atomic():
        s = staged(db, token, username)
        if s.preview.ok and s.mode == "merge":
            _merge_problems(db, s.name, s.preview)
        if not s.preview.ok:
            _refuse(s.preview)
        _write(db, s.name, s.preview, s.mode)
        db.execute("DELETE FROM data_uploads WHERE token = ?", [token])
    return s


def discard(db, token: str, username: str) -> None:
    db.execute("DELETE FROM data_uploads WHERE token = ? AND username = ?", [token, username])


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
        if len(value) > MAX_FIELD:
            raise ConfigError(column, "the value in column '{column}' is longer than {max} characters",
                              column=column, max=MAX_FIELD)
        if CONTROL.search(value) or "\n" in value or "\r" in value:
            raise ConfigError(column, "the value in column '{column}' has control characters (binary data?)",
                              column=column)
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
    """The table as CSV: UTF-8 with a BOM and semicolons, as spreadsheets open it."""
    info = table(db, name)
    if info is None:
        raise ConfigError("name", "no data table named '{name}'", name=name)
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(info.columns)
    tid = _table_id(db, name)
    for (data,) in db.execute("SELECT data FROM data_rows WHERE table_id = ? ORDER BY rowid", [tid]):
        record = json.loads(data)
        writer.writerow([record.get(c, "") for c in info.columns])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def lookup(db, table: str, key: str) -> dict | None:
    row = db.execute("SELECT r.data FROM data_rows r JOIN data_tables t ON t.id = r.table_id "
                     "WHERE t.name = ? AND r.key = ?", [table, key]).fetchone()
    return json.loads(row[0]) if row else None

"""Data tables for the IVR's look-ups (F4): imported from CSV, all or nothing.

A CSV from a Russian office is as likely cp1251 as UTF-8: the encoding is
detected (BOM, then strict UTF-8, then cp1251). The first row names the
columns; one column is the key (unique, indexed). ``preview`` reports what an
import would do without writing; ``import_csv`` writes only a file with no
errors, replacing the table's rows in one transaction.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .model import ConfigError, GROUP_NAME, check_match

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")


@dataclass
class Preview:
    encoding: str
    columns: list[str]
    rows: list[dict]
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def decode(raw: bytes) -> tuple[str, str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "utf-8"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("cp1251"), "cp1251"


def preview(raw: bytes, key_column: str) -> Preview:
    if len(raw) > MAX_BYTES:
        return Preview("", [], [], [f"the file is larger than {MAX_BYTES // 2**20} MB"])
    text, encoding = decode(raw)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, None)
    result = Preview(encoding, [], [])
    if not header:
        result.errors.append("the file is empty")
        return result
    result.columns = [h.strip() for h in header]
    bad = [h for h in result.columns if not COLUMN.match(h)]
    if bad:
        result.errors.append(f"column names must be latin letters, digits and _: {', '.join(bad)}")
    if len(set(result.columns)) != len(result.columns):
        result.errors.append("two columns have the same name")
    if key_column not in result.columns:
        result.errors.append(f"there is no key column '{key_column}'")
        return result
    seen = set()
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(result.columns):
            result.errors.append(f"line {line}: {len(row)} fields, expected {len(result.columns)}")
            continue
        record = {c: v.strip() for c, v in zip(result.columns, row)}
        key = record[key_column]
        if not key:
            result.errors.append(f"line {line}: the key is empty")
        elif key in seen:
            result.errors.append(f"line {line}: the key '{key}' is repeated")
        seen.add(key)
        result.rows.append(record)
        if len(result.rows) > MAX_ROWS:
            result.errors.append(f"more than {MAX_ROWS} rows")
            break
    return result


def import_csv(db, name: str, raw: bytes, key_column: str) -> Preview:
    """Replace table *name* with the file's rows, or change nothing."""
    name = check_match(GROUP_NAME, name, "name", "table name (a-z, 0-9, _ and -)")
    p = preview(raw, key_column)
    if not p.ok:
        raise ConfigError("file", "the file was not imported: {errors}", errors="; ".join(p.errors[:10]))
    with db.atomic():
        db.execute("DELETE FROM data_tables WHERE name = ?", [name])
        tid = db.execute("INSERT INTO data_tables (name, columns, key_column, imported_at) VALUES (?, ?, ?, ?)",
                         [name, json.dumps(p.columns), key_column,
                          datetime.now(timezone.utc).isoformat(timespec="seconds")]).lastrowid
        db.conn.executemany("INSERT INTO data_rows (table_id, key, data) VALUES (?, ?, ?)",
                            [(tid, r[key_column], json.dumps(r, ensure_ascii=False)) for r in p.rows])
    return p


def lookup(db, table: str, key: str) -> dict | None:
    row = db.execute("SELECT r.data FROM data_rows r JOIN data_tables t ON t.id = r.table_id "
                     "WHERE t.name = ? AND r.key = ?", [table, key]).fetchone()
    return json.loads(row[0]) if row else None

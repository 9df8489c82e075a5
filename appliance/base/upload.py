"""A CSV upload, checked line by line and imported all or nothing: what the
data tables (``appliance.tables``) and the clients (``appliance.clients``)
share. Each feature keeps its own column rules and its own write.

Reading: a CSV from a Russian office is as likely cp1251 as UTF-8, so the
encoding is detected (BOM, then strict UTF-8, then cp1251), and so is the
delimiter (comma, semicolon or tab). ``open_csv`` checks the size, zero bytes
and the header line; ``records`` yields the data lines, each field checked
for length and control characters. Whatever is wrong goes into a
``Preview`` with its line number, and a file with any problem is imported
not at all.

Importing (``Importer``, one per feature) is either at once (``run``: the
``korund`` command) or in the panel's two steps: ``stage`` previews an upload
and keeps its bytes under a token (in the feature's uploads table, for an
hour) only if it can be imported; ``staged`` reads exactly those bytes again;
``confirm`` imports them with the feature's write, in one transaction with
the token's deletion; ``discard`` forgets them.

Formula injection: a spreadsheet runs a cell that begins with ``=``, ``+``,
``-`` or ``@`` (or a tab or carriage return before one) as a formula, so an
exported value such as a client named ``=HYPERLINK(...)`` could act when the
file is opened. ``export_cell`` prefixes such a value with ``'`` (as OWASP
recommends), and ``records`` takes the ``'`` off again on import, so an
exported file imports back unchanged. A value made only of digits, spaces
and ``+ - ( ) . ,`` names no function, cell or file and is left as it is:
phone numbers such as ``+7 495 123-45-67`` and negative amounts stay usable.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from appliance.base import clock
from appliance.base.errors import ConfigError

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
MAX_FIELD = 1000
MAX_PROBLEMS = 500
UPLOAD_TTL = timedelta(hours=1)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Digits, spaces and + - ( ) . , only: a phone number or an amount, never a formula that reaches out.
PLAIN_NUMBER = re.compile(r"[0-9 +\-().,]+")


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
    """What an import would do: the file's encoding, delimiter and columns,
    its rows as the feature would save them, and every problem."""
    encoding: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list = field(default_factory=list)
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


# -- cells: formula injection ----------------------------------------------------------

def _runs_as_formula(text: str) -> bool:
    return text.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(text)


def export_cell(value):
    """*value* as a CSV cell a spreadsheet shows as text: a string that a
    spreadsheet would run as a formula gets a leading ``'``, and so does one
    whose leading ``'`` already stand before such a string (so that
    ``import_cell`` gives back exactly the value). Numbers, and strings that
    are only a phone number or an amount, are kept."""
    if isinstance(value, str) and _runs_as_formula(value.lstrip("'")):
        return "'" + value
    return value


def import_cell(value: str) -> str:
    """A cell of an uploaded CSV as the value it stands for: ``export_cell``
    undone (``'=1`` is ``=1``, as in a spreadsheet; ``'+7495`` stays, being
    no formula)."""
    if value[:1] == "'" and _runs_as_formula(value[1:].lstrip("'")):
        return value[1:]
    return value


# -- reading ------------------------------------------------------------------------

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


def open_csv(raw: bytes):
    """The first steps of every CSV import: size, zero bytes, encoding,
    delimiter and the header line, whose names become the preview's columns.
    Returns (preview, reader); the reader is None when the file cannot be
    read on (the preview says why)."""
    result = Preview(sha256=hashlib.sha256(raw).hexdigest(), size=len(raw))
    if len(raw) > MAX_BYTES:
        result.add(None, ConfigError("file", "the file is larger than {mb} MB", mb=MAX_BYTES // 2**20))
        return result, None
    if b"\x00" in raw and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        result.add(None, ConfigError("file", "the file is binary (it has zero bytes), not CSV text"))
        return result, None
    try:
        text, result.encoding = decode(raw)
    except UnicodeDecodeError:
        result.add(None, ConfigError("file", "the file is neither UTF-8 nor Windows-1251 text"))
        return result, None
    result.delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=result.delimiter, quotechar='"')
    try:
        header = next(reader, None)
    except csv.Error as exc:
        result.add(1, ConfigError("file", "the line cannot be read: {reason}", reason=str(exc)))
        return result, None
    if not header or not any(h.strip() for h in header):
        result.add(None, ConfigError("file", "the file is empty"))
        return result, None
    result.columns = [h.strip() for h in header]
    return result, reader


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
        record = {c: import_cell(v.strip()) for c, v in zip(result.columns, row)}
        errors = [e for e in (value_error("file", c, v) for c, v in record.items()) if e]
        for error in errors:
            result.add(line, error)
        if not errors:
            yield line, record


def has_control(text: str) -> bool:
    """True if *text* has control characters or line breaks (tabs pass)."""
    return bool(CONTROL.search(text)) or "\n" in text or "\r" in text


def value_error(field: str, column: str, value: str) -> ConfigError | None:
    """Why *value* cannot stand in *column* (too long, control characters), or None."""
    if len(value) > MAX_FIELD:
        return ConfigError(field, "the value in column '{column}' is longer than {max} characters",
                           column=column, max=MAX_FIELD)
    if has_control(value):
        return ConfigError(field, "the value in column '{column}' has control characters (binary data?)",
                           column=column)
    return None


def refuse(p: Preview) -> None:
    """ConfigError listing the first problems of a preview that is not ok."""
    if not p.ok:
        raise ConfigError("file", "the file was not imported: {errors}", errors="; ".join(p.errors[:10]))


# -- importing: at once, or staged and confirmed ---------------------------------------

@dataclass
class Staged:
    """An upload kept under *token*: the feature's options for it (as given to
    ``Importer.stage``), its preview, and after ``confirm`` what the write returned."""
    token: str
    filename: str
    options: dict
    preview: Preview
    result: object = None


@dataclass(frozen=True)
class Importer:
    """One feature's CSV import.

    ``read(db, raw, **options)`` returns the file's Preview, the feature's
    own checks included; ``write(db, preview, by, **options)`` imports a
    preview with no problems (inside the caller's transaction) and returns
    what the feature reports. ``uploads`` is the table keeping staged files
    (token, username, filename, raw as base64, sha256, created_at, and a
    column per name in ``options``).
    """
    uploads: str
    read: Callable[..., Preview]
    write: Callable[..., object]
    options: tuple[str, ...] = ()

    def run(self, db, raw: bytes, by: str | None = None, **options) -> tuple[Preview, object]:
        """Import *raw* now, or change nothing (ConfigError). (preview, what the write returned)"""
        with db.atomic():
            p = self.read(db, raw, **options)
            refuse(p)
            return p, self.write(db, p, by, **options)

    def stage(self, db, raw: bytes, username: str, filename: str = "", **options) -> tuple[str | None, Preview]:
        """Preview an upload; keep it under a new token only if it can be imported.
        Returns (token or None, preview)."""
        p = self.read(db, raw, **options)
        if not p.ok:
            return None, p
        token = secrets.token_urlsafe(18)
        columns = ["token", "username", *self.options, "filename", "raw", "sha256", "created_at"]
        values = [token, username, *(options[o] for o in self.options), (filename or "")[:200],
                  base64.b64encode(raw).decode("ascii"), p.sha256, clock.stamp()]
        with db.atomic():
            db.execute(f"DELETE FROM {self.uploads} WHERE created_at < ?", [_cutoff()])
            db.execute(f"INSERT INTO {self.uploads} ({', '.join(columns)}) "
                       f"VALUES ({', '.join('?' * len(columns))})", values)
        return token, p

    def staged(self, db, token: str, username: str) -> Staged:
        """The upload kept under *token* for *username*, read again."""
        columns = ", ".join(["filename", "raw", "sha256", *self.options])
        row = db.execute(f"SELECT {columns} FROM {self.uploads} WHERE token = ? AND username = ? "
                         "AND created_at >= ?", [token, username, _cutoff()]).fetchone()
        if not row:
            raise _expired()
        filename, raw, sha, *kept = row
        options = dict(zip(self.options, kept))
        p = self.read(db, base64.b64decode(raw), **options)
        if p.sha256 != sha:
            raise _expired()
        return Staged(token, filename or "", options, p)

    def confirm(self, db, token: str, username: str) -> Staged:
        """Import exactly the bytes that were previewed under *token*; all or nothing."""
        with db.atomic():
            s = self.staged(db, token, username)
            refuse(s.preview)
            s.result = self.write(db, s.preview, username, **s.options)
            db.execute(f"DELETE FROM {self.uploads} WHERE token = ?", [token])
        return s

    def discard(self, db, token: str, username: str) -> None:
        db.execute(f"DELETE FROM {self.uploads} WHERE token = ? AND username = ?", [token, username])


def _expired() -> ConfigError:
    return ConfigError("file", "the upload has expired or was already imported; upload the file again")


def _cutoff() -> str:
    return clock.stamp(clock.now() - UPLOAD_TTL)

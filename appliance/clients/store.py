"""Clients (the CRM, F8): cards with phones, a personal operator, a VIP flag
and admin-defined custom fields; search, call history, CSV import/export and
the per-group screen-pop URL of an external CRM.

Numbers are kept normalised so a caller's ANI finds its card whatever form
the carrier or a spreadsheet wrote it in: Russian numbers 8XXXXXXXXXX,
+7XXXXXXXXXX and 7XXXXXXXXXX all become 7XXXXXXXXXX; any other number is
kept as its digits. One number belongs to one client.

A client is a dict: id, name, phones (list), company, email,
personal_operator (extension or None), vip (bool), fields (dict),
created_at, updated_at, created_by, updated_by.

CSV import is ``appliance.base.upload``'s, as for the data tables (the same
encoding and delimiter detection, preview with a line-by-line report, the
two-step import, all or nothing); the columns are the client's. Columns: ``name`` and ``phones`` are required; ``id`` (update
that client), ``company``, ``email``, ``personal_operator``, ``vip`` and the
custom fields' names are optional. ``export_csv`` writes every column, so an
exported file imports back unchanged.
"""
from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import string
from datetime import date
from urllib.parse import quote, urlsplit

from appliance.base import clock, upload
from appliance.base.errors import ConfigError
from appliance.base.upload import CONTROL, Preview

KINDS = ("text", "number", "date", "choice")
BUILTIN = ("id", "name", "phones", "company", "email", "personal_operator", "vip")
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
PHONE_CHARS = re.compile(r"^\+?[0-9 ()\-.]+$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
NUMBER = re.compile(r"^-?[0-9]+([.,][0-9]+)?$")
MAX_NAME = 200
MAX_TEXT = upload.MAX_FIELD
MAX_PHONES = 10
MAX_FIELDS = 40
MAX_CHOICES = 50
TRUE = ("1", "yes", "y", "true", "да", "д", "+", "vip")
FALSE = ("", "0", "no", "n", "false", "нет", "н", "-")
POP_PLACEHOLDERS = ("ani", "dnis", "uniqueid", "linkedid", "group", "operator", "client_id")
# What feeds the routing decision: set by supervisors and admins, not by operators.
ROUTING_FIELDS = ("vip", "personal_operator")
MAX_URL = 500


# -- numbers ----------------------------------------------------------------------

def normalise(number) -> str:
    """The stored form of a phone number ('' if it has no digits)."""
    digits = re.sub(r"[^0-9]", "", str(number or ""))
    if len(digits) == 11 and digits[0] in "78":
        return "7" + digits[1:]
    return digits


def check_phone(text: str, field: str = "phones") -> str:
    raw = (text or "").strip()
    if not raw:
        raise ConfigError(field, "the phone number is empty")
    if not PHONE_CHARS.fullmatch(raw):
        raise ConfigError(field, "'{number}' is not a phone number (digits, +, spaces, dashes and brackets)",
                          number=raw[:40])
    number = normalise(raw)
    if not 3 <= len(number) <= 20:
        raise ConfigError(field, "'{number}' is not a phone number (3 to 20 digits)", number=raw[:40])
    return number


def split_phones(value) -> list[str]:
    """A list of numbers from a list or from text separated by commas, semicolons or new lines."""
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = re.split(r"[,;|\n]", str(value or ""))
    return [i.strip() for i in items if i.strip()]


def _variants(number: str) -> list[str]:
    """The forms a stored number may take in the calls table's ANI."""
    forms = {number}
    if len(number) == 11 and number[0] == "7":
        forms |= {"8" + number[1:], "+" + number, number[1:]}
    else:
        forms.add("+" + number)
    return sorted(forms)


# -- custom fields ---------------------------------------------------------------------

def custom_fields(db) -> list[dict]:
    return [{"name": r[0], "title": r[1], "kind": r[2], "choices": json.loads(r[3] or "[]"),
             "required": bool(r[4])}
            for r in db.execute("SELECT name, title, kind, choices, required FROM client_fields "
                                "ORDER BY position, id")]


def _check_field_def(d: dict) -> dict:
    name = str(d.get("name") or "").strip()
    if not FIELD_NAME.fullmatch(name) or name in BUILTIN or name in ("created_at", "updated_at"):
        raise ConfigError("name", "'{value}' is not a valid field name (a-z, 0-9 and _, not a built-in column)",
                          value=name[:40])
    title = str(d.get("title") or "").strip() or name
    if len(title) > 64 or CONTROL.search(title):
        raise ConfigError("title", "the title is longer than 64 characters or has control characters")
    kind = str(d.get("kind") or "text")
    if kind not in KINDS:
        raise ConfigError("kind", "the kind is one of: {kinds}", kinds=", ".join(KINDS))
    choices: list[str] = []
    if kind == "choice":
        raw = d.get("choices")
        choices = [c.strip() for c in (raw if isinstance(raw, list) else str(raw or "").split("\n"))
                   if str(c).strip()]
        if not choices:
            raise ConfigError("choices", "a choice field needs its choices, one per line")
        if len(choices) > MAX_CHOICES or any(len(c) > 100 for c in choices):
            raise ConfigError("choices", "at most {max} choices of up to 100 characters", max=MAX_CHOICES)
        if len(set(choices)) != len(choices):
            raise ConfigError("choices", "a choice is repeated")
    required = d.get("required") in (True, 1, "1", "on", "true")
    return {"name": name, "title": title, "kind": kind, "choices": choices, "required": required}


def save_field(db, d: dict, original: str | None = None) -> dict:
    """Add a custom field (*original* None) or change the field named *original*
    (its name and kind stay)."""
    f = _check_field_def(d)
    with db.atomic():
        if original is None:
            if db.execute("SELECT 1 FROM client_fields WHERE name = ?", [f["name"]]).fetchone():
                raise ConfigError("name", "a field named '{name}' exists already", name=f["name"])
            if db.execute("SELECT COUNT(*) FROM client_fields").fetchone()[0] >= MAX_FIELDS:
                raise ConfigError("name", "at most {max} custom fields", max=MAX_FIELDS)
            pos = db.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM client_fields").fetchone()[0]
            db.execute("INSERT INTO client_fields (name, title, kind, choices, required, position) "
                       "VALUES (?, ?, ?, ?, ?, ?)", [f["name"], f["title"], f["kind"],
                                                     json.dumps(f["choices"], ensure_ascii=False),
                                                     int(f["required"]), pos])
        else:
            row = db.execute("SELECT kind FROM client_fields WHERE name = ?", [original]).fetchone()
            if not row:
                raise ConfigError("name", "no custom field named '{name}'", name=original)
            if f["name"] != original or f["kind"] != row[0]:
                raise ConfigError("kind", "a field's name and kind cannot change; add a new field instead")
            db.execute("UPDATE client_fields SET title = ?, choices = ?, required = ? WHERE name = ?",
                       [f["title"], json.dumps(f["choices"], ensure_ascii=False), int(f["required"]), original])
    return f


def delete_field(db, name: str) -> None:
    """Remove a custom field and its values from every client."""
    with db.atomic():
        if not db.execute("DELETE FROM client_fields WHERE name = ?", [name]).rowcount:
            raise ConfigError("name", "no custom field named '{name}'", name=name)
        db.execute("UPDATE clients SET fields = json_remove(fields, ?) WHERE json_type(fields, ?) IS NOT NULL",
                   ["$." + name, "$." + name])


def check_value(f: dict, value) -> str:
    """A custom field's value as stored ('' for none)."""
    text = "" if value is None else str(value).strip()
    name = f["name"]
    if not text:
        if f["required"]:
            raise ConfigError(name, "'{title}' is required", title=f["title"])
        return ""
    if len(text) > MAX_TEXT or upload.has_control(text):
        raise ConfigError(name, "'{title}' is too long or has control characters", title=f["title"])
    if f["kind"] == "number":
        if not NUMBER.fullmatch(text):
            raise ConfigError(name, "'{title}' must be a number", title=f["title"])
        return text.replace(",", ".")
    if f["kind"] == "date":
        m = re.fullmatch(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$", text)
        try:
            day = date(int(m[3]), int(m[2]), int(m[1])) if m else date.fromisoformat(text)
        except ValueError:
            day = None
        if day is None or len(text) < 8:
            raise ConfigError(name, "'{title}' must be a date (YYYY-MM-DD or DD.MM.YYYY)", title=f["title"])
        return day.isoformat()
    if f["kind"] == "choice" and text not in f["choices"]:
        raise ConfigError(name, "'{title}' must be one of: {choices}", title=f["title"],
                          choices=", ".join(f["choices"]))
    return text


# -- clients ------------------------------------------------------------------------------

def _row(db, r) -> dict:
    cid = r[0]
    phones = [p[0] for p in db.execute("SELECT number FROM client_phones WHERE client_id = ? "
                                       "ORDER BY position, number", [cid])]
    return {"id": cid, "name": r[1], "phones": phones, "company": r[2] or "", "email": r[3] or "",
            "personal_operator": r[4] or None, "vip": bool(r[5]), "fields": json.loads(r[6] or "{}"),
            "created_at": r[7], "updated_at": r[8], "created_by": r[9], "updated_by": r[10]}


COLUMNS = "id, name, company, email, personal_operator, vip, fields, created_at, updated_at, created_by, updated_by"


def get(db, client_id) -> dict | None:
    try:
        client_id = int(client_id)
    except (TypeError, ValueError):
        return None
    r = db.execute(f"SELECT {COLUMNS} FROM clients WHERE id = ?", [client_id]).fetchone()
    return _row(db, r) if r else None


def find_by_number(db, number) -> dict | None:
    n = normalise(number)
    if not n:
        return None
    r = db.execute("SELECT client_id FROM client_phones WHERE number = ?", [n]).fetchone()
    return get(db, r[0]) if r else None


def _flag(value, field: str = "vip") -> bool:
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in TRUE or text == "on":
        return True
    if text in FALSE:
        return False
    raise ConfigError(field, "'{value}' is not yes or no", value=text[:20])


def validate(db, data: dict, fields: list[dict] | None = None, current: dict | None = None) -> dict:
    """The client as it would be stored, or ConfigError naming the field."""
    fields = custom_fields(db) if fields is None else fields
    d = {**(current or {}), **{k: v for k, v in data.items() if k != "id"}}
    if current and isinstance(data.get("fields"), dict):  # custom fields left out keep their values
        d["fields"] = {**current["fields"], **data["fields"]}
    name = str(d.get("name") or "").strip()
    if not name:
        raise ConfigError("name", "the client's name is empty")
    if len(name) > MAX_NAME or CONTROL.search(name) or "\n" in name:
        raise ConfigError("name", "the name is longer than {max} characters or has control characters", max=MAX_NAME)
    phones: list[str] = []
    for p in split_phones(d.get("phones")):
        n = check_phone(p)
        if n in phones:
            raise ConfigError("phones", "the number {number} is given twice", number=n)
        phones.append(n)
    if len(phones) > MAX_PHONES:
        raise ConfigError("phones", "at most {max} numbers", max=MAX_PHONES)
    company = str(d.get("company") or "").strip()
    if len(company) > MAX_NAME or CONTROL.search(company) or "\n" in company:
        raise ConfigError("company", "the company is longer than {max} characters or has control characters",
                          max=MAX_NAME)
    email = str(d.get("email") or "").strip()
    if email and (len(email) > 200 or not EMAIL.fullmatch(email)):
        raise ConfigError("email", "'{value}' is not an e-mail address", value=email[:60])
    ext = str(d.get("personal_operator") or "").strip()
    if ext and not db.execute("SELECT 1 FROM operators WHERE extension = ?", [ext]).fetchone():
        raise ConfigError("personal_operator", "there is no operator with extension '{value}'", value=ext[:20])
    values = d.get("fields") or {}
    if not isinstance(values, dict):
        raise ConfigError("fields", "custom fields must be an object of name: value")
    known = {f["name"] for f in fields}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError("fields", "unknown custom fields: {names}", names=", ".join(str(u)[:40] for u in unknown[:5]))
    checked = {}
    for f in fields:
        v = check_value(f, values.get(f["name"]))
        if v:
            checked[f["name"]] = v
    return {"name": name, "phones": phones, "company": company, "email": email,
            "personal_operator": ext or None, "vip": _flag(d.get("vip")), "fields": checked}


def _owner(db, number: str) -> tuple[int, str] | None:
    r = db.execute("SELECT c.id, c.name FROM client_phones p JOIN clients c ON c.id = p.client_id "
                   "WHERE p.number = ?", [number]).fetchone()
    return (r[0], r[1]) if r else None


def _store(db, cid: int | None, c: dict, by: str | None, now: str) -> int:
    search = " ".join([c["name"], c["company"], c["email"]]).lower()
    values = [c["name"], c["company"], c["email"], c["personal_operator"], int(c["vip"]),
              json.dumps(c["fields"], ensure_ascii=False, sort_keys=True), search]
    if cid is None:
        cid = db.execute("INSERT INTO clients (name, company, email, personal_operator, vip, fields, search, "
                         "created_at, updated_at, created_by, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         values + [now, now, by, by]).lastrowid
    else:
        db.execute("UPDATE clients SET name = ?, company = ?, email = ?, personal_operator = ?, vip = ?, "
                   "fields = ?, search = ?, updated_at = ?, updated_by = ? WHERE id = ?",
                   values + [now, by, cid])
        db.execute("DELETE FROM client_phones WHERE client_id = ?", [cid])
    db.conn.executemany("INSERT INTO client_phones (number, client_id, position) VALUES (?, ?, ?)",
                        [(n, cid, i) for i, n in enumerate(c["phones"])])
    return cid


def save(db, data: dict, by: str | None = None, routing: bool = True) -> int:
    """Create a client (no ``id`` in *data*) or update one (keys left out stay);
    returns its id. Refuses a number that belongs to another client. With
    *routing* False (an operator) a change of the VIP mark or the personal
    operator is refused."""
    if not isinstance(data, dict):
        raise ConfigError("client", "expected an object")
    cid = data.get("id")
    current = None
    if cid not in (None, ""):
        current = get(db, cid)
        if current is None:
            raise ConfigError("id", "no client with id {id}", id=str(cid)[:20])
        cid = current["id"]
    else:
        cid = None
    c = validate(db, data, current=current)
    if not routing:
        for key in ROUTING_FIELDS:
            if c[key] != ((current or {}).get(key) or (False if key == "vip" else None)):
                raise ConfigError(key, "only a supervisor or an admin sets a client's VIP mark and personal "
                                       "operator")
    try:
        with db.atomic():
            for n in c["phones"]:
                owner = _owner(db, n)
                if owner and owner[0] != cid:
                    raise ConfigError("phones", "the number {number} already belongs to the client {name}",
                                      number=n, name=owner[1])
            return _store(db, cid, c, by, clock.stamp())
    except sqlite3.IntegrityError:  # another save took the number meanwhile
        raise ConfigError("phones", "a number was just given to another client; try again") from None


def delete(db, client_id: int) -> None:
    with db.atomic():
        db.execute("DELETE FROM client_phones WHERE client_id = ?", [client_id])
        if not db.execute("DELETE FROM clients WHERE id = ?", [client_id]).rowcount:
            raise ConfigError("id", "no client with id {id}", id=str(client_id))


def _where(q: str) -> tuple[str, list]:
    q = (q or "").strip()[:100]
    if not q:
        return "1 = 1", []
    conds, params = ["c.search LIKE ? ESCAPE '\\'"], ["%" + re.sub(r"([\\%_])", r"\\\1", q.lower()) + "%"]
    digits = normalise(q) if PHONE_CHARS.fullmatch(q) else ""
    if len(digits) >= 3:
        conds.append("EXISTS (SELECT 1 FROM client_phones p WHERE p.client_id = c.id AND p.number LIKE ?)")
        params.append("%" + digits + "%")
        if len(digits) == 10:  # a national number without its 8 / +7
            conds.append("EXISTS (SELECT 1 FROM client_phones p WHERE p.client_id = c.id AND p.number = ?)")
            params.append("7" + digits)
        elif digits[0] == "8" and len(digits) < 11:  # the start of 8XXXXXXXXXX
            conds.append("EXISTS (SELECT 1 FROM client_phones p WHERE p.client_id = c.id AND p.number LIKE ?)")
            params.append("7" + digits[1:] + "%")
    return "(" + " OR ".join(conds) + ")", params


def count(db, q: str = "") -> int:
    where, params = _where(q)
    return db.execute(f"SELECT COUNT(*) FROM clients c WHERE {where}", params).fetchone()[0]


def search(db, q: str = "", limit: int = 50, offset: int = 0) -> list[dict]:
    """Clients whose name, company or e-mail contains *q* (any case) or whose
    number contains its digits; VIPs first, then by name."""
    where, params = _where(q)
    rows = db.execute(f"SELECT {', '.join('c.' + c.strip() for c in COLUMNS.split(','))} FROM clients c "
                      f"WHERE {where} ORDER BY c.vip DESC, c.search, c.id LIMIT ? OFFSET ?",
                      params + [max(1, min(int(limit), 1000)), max(0, int(offset))]).fetchall()
    return [_row(db, r) for r in rows]


# A call the operator (?) took part in: answered it, or was offered it.
TOOK_PART = ("(operator = ? OR EXISTS (SELECT 1 FROM call_legs l WHERE l.linkedid = calls.uniqueid "
             "AND l.kind IN ('offer', 'operator') AND l.party = ?) OR EXISTS (SELECT 1 FROM offers o "
             "WHERE o.linkedid = calls.uniqueid AND o.extension = ?))")


def calls_of(db, client, limit: int = 100, extension: str | None = None) -> list[dict]:
    """The client's calls (by any of their numbers), newest first; with
    *extension* only those that operator took part in ('' for none)."""
    c = client if isinstance(client, dict) else get(db, client)
    if not c or not c["phones"] or extension == "":
        return []
    forms = sorted({v for n in c["phones"] for v in _variants(n)})
    cols = ("uniqueid", "direction", "ani", "dnis", "grp", "operator", "started_at", "answered_at",
            "ended_at", "outcome")
    marks = ", ".join("?" * len(forms))
    own, args = ("", []) if extension is None else (f" AND {TOOK_PART}", [extension] * 3)
    return [dict(zip(cols, r)) for r in db.execute(
        f"SELECT {', '.join(cols)} FROM calls WHERE ani IN ({marks}){own} ORDER BY started_at DESC, id DESC "
        "LIMIT ?", forms + args + [limit])]


def has_number(client: dict | None, number) -> bool:
    """Is *number* (any form of it) one of the client's numbers?"""
    n = normalise(number)
    return bool(client and n and n in client["phones"])


# -- CSV import / export ---------------------------------------------------------------------

def _columns(fields: list[dict]) -> list[str]:
    return list(BUILTIN) + [f["name"] for f in fields]


def preview(db, raw: bytes) -> Preview:
    """Parse *raw* as an import of clients, writing nothing: each row becomes
    the client it would save (with ``id`` when it updates one)."""
    p, reader = upload.open_csv(raw)
    p.key_column = "phones"
    if reader is None:
        return p
    fields = custom_fields(db)
    allowed = _columns(fields)
    unknown = [c for c in p.columns if c not in allowed]
    if unknown:
        p.add(1, ConfigError("file", "unknown columns: {columns} (known: {known})",
                             columns=", ".join(c[:40] for c in unknown[:10]), known=", ".join(allowed)))
    if len(set(p.columns)) != len(p.columns):
        p.add(1, ConfigError("file", "two columns have the same name"))
    missing = [c for c in ("name", "phones") if c not in p.columns]
    if missing:
        p.add(1, ConfigError("file", "the file needs the columns: {columns}", columns=", ".join(missing)))
    if not p.ok:
        return p
    seen: dict[str, int] = {}
    ids_in_file: set[int] = set()
    parsed: list[tuple[int, dict]] = []
    for line, record in upload.records(reader, p):
        data = {k: record[k] for k in ("name", "phones", "company", "email", "personal_operator", "vip")
                if k in record}
        data["fields"] = {f["name"]: record[f["name"]] for f in fields if f["name"] in record}
        current = None
        if record.get("id"):
            current = get(db, record["id"])
            if current is None:
                p.add(line, ConfigError("file", "no client with id {id}", id=record["id"][:20]))
                continue
            if current["id"] in ids_in_file:
                p.add(line, ConfigError("file", "the client id {id} is repeated", id=current["id"]))
                continue
            ids_in_file.add(current["id"])
            # Custom fields not in the file keep their values.
            data["fields"] = {**current["fields"], **data["fields"]}
        try:
            client = validate(db, data, fields, current)
        except ConfigError as exc:
            p.add(line, exc)
            continue
        repeated = [n for n in client["phones"] if n in seen]
        if repeated:
            p.add(line, ConfigError("file", "the number {number} is also on line {line}",
                                    number=repeated[0], line=seen[repeated[0]]))
            continue
        for n in client["phones"]:
            seen[n] = line
        client["id"] = current["id"] if current else None
        parsed.append((line, client))
        if len(parsed) > upload.MAX_ROWS:
            p.add(None, ConfigError("file", "more than {max} rows", max=upload.MAX_ROWS))
            break
    for line, client in parsed:
        for n in client["phones"]:
            owner = _owner(db, n)
            if owner and owner[0] != client["id"] and owner[0] not in ids_in_file:
                p.add(line, ConfigError("file", "the number {number} already belongs to the client {name}",
                                        number=n, name=owner[1]))
                break
    p.problems.sort(key=lambda pr: pr.line or 0)
    p.rows = [c for _, c in parsed]
    return p


def _write(db, p: Preview, by: str | None) -> tuple[int, int]:
    now, added, updated = clock.stamp(), 0, 0
    with db.atomic():
        ids = [c["id"] for c in p.rows if c["id"]]
        for cid in ids:  # numbers may move between clients of the same file
            db.execute("DELETE FROM client_phones WHERE client_id = ?", [cid])
        for c in p.rows:
            _store(db, c["id"], c, by, now)
            if c["id"]:
                updated += 1
            else:
                added += 1
    return added, updated


IMPORT = upload.Importer("client_uploads", preview, _write)


def import_csv(db, raw: bytes, by: str | None = None) -> Preview:
    """Import every row of the file, or nothing."""
    return IMPORT.run(db, raw, by)[0]


def stage(db, raw: bytes, username: str, filename: str = "") -> tuple[str | None, Preview]:
    """Preview an upload; keep it under a token only if it can be imported."""
    return IMPORT.stage(db, raw, username, filename)


def staged(db, token: str, username: str) -> tuple[str, Preview]:
    """(file name, preview parsed again) of the upload kept under *token*."""
    s = IMPORT.staged(db, token, username)
    return s.filename, s.preview


def confirm(db, token: str, username: str) -> tuple[str, Preview, int, int]:
    """Import exactly the previewed bytes; all or nothing. (file, preview, added, updated)"""
    s = IMPORT.confirm(db, token, username)
    return (s.filename, s.preview, *s.result)


def discard(db, token: str, username: str) -> None:
    IMPORT.discard(db, token, username)


def export_csv(db) -> bytes:
    """Every client as CSV: UTF-8 with a BOM, semicolons; imports back
    unchanged. A value a spreadsheet would run as a formula is exported
    behind a ``'`` (``upload.export_cell``)."""
    fields = custom_fields(db)
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(_columns(fields))
    for (cid,) in db.execute("SELECT id FROM clients ORDER BY id").fetchall():
        c = get(db, cid)
        writer.writerow([upload.export_cell(v) for v in
                         [c["id"], c["name"], ", ".join(c["phones"]), c["company"], c["email"],
                          c["personal_operator"] or "", "1" if c["vip"] else "0"]
                         + [c["fields"].get(f["name"], "") for f in fields]])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


# -- external CRM: screen-pop URL per group ---------------------------------------------------------

def check_pop_template(template: str) -> str:
    """A screen-pop URL template: http(s) only, placeholders from POP_PLACEHOLDERS."""
    t = (template or "").strip()
    if not t:
        return ""
    if len(t) > MAX_URL or re.search(r"[\s\x00-\x1f\x7f]", t):
        raise ConfigError("screen_pop_url", "the URL is longer than {max} characters or has spaces", max=MAX_URL)
    try:
        parts = list(string.Formatter().parse(t))
    except ValueError:
        raise ConfigError("screen_pop_url", "unbalanced braces in the URL; placeholders look like {{ani}}")
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name in POP_PLACEHOLDERS and (spec or conversion):
            raise ConfigError("screen_pop_url", "placeholders look like {{ani}}, without ':' or '!'")
        if name not in POP_PLACEHOLDERS:
            raise ConfigError("screen_pop_url", "unknown placeholder {{{name}}}; known: {known}",
                              name=(name or "")[:30], known=", ".join("{" + p + "}" for p in POP_PLACEHOLDERS))
    sample = t.format(**{p: "x" for p in POP_PLACEHOLDERS})
    url = urlsplit(sample)
    if url.scheme not in ("http", "https") or not url.netloc or "{" in urlsplit(t).netloc:
        raise ConfigError("screen_pop_url", "the URL must start with http:// or https:// and name a host")
    return t


def _group_id(db, group: str) -> int:
    r = db.execute("SELECT id FROM groups WHERE name = ?", [group]).fetchone()
    if not r:
        raise ConfigError("group", "no group named '{name}'", name=str(group)[:40])
    return r[0]


def set_screen_pop(db, group: str, template: str) -> str:
    """Set (or with '' remove) a group's screen-pop URL template."""
    gid, t = _group_id(db, group), check_pop_template(template)
    with db.atomic():
        db.execute("DELETE FROM crm_screen_pop WHERE group_id = ?", [gid])
        if t:
            db.execute("INSERT INTO crm_screen_pop (group_id, url_template) VALUES (?, ?)", [gid, t])
    return t


def screen_pop_templates(db) -> dict[str, str]:
    """Every group's name → its template ('' when none)."""
    return {r[0]: r[1] or "" for r in db.execute(
        "SELECT g.name, s.url_template FROM groups g LEFT JOIN crm_screen_pop s ON s.group_id = g.id "
        "ORDER BY g.name")}


def screen_pop_url(db, group: str, call: dict) -> str | None:
    """The external CRM's page for *call* in *group*, values URL-encoded; None
    when the group has no template. *call* may carry ani, dnis, uniqueid,
    linkedid, operator and client_id (missing ones expand to '')."""
    r = db.execute("SELECT s.url_template FROM crm_screen_pop s JOIN groups g ON g.id = s.group_id "
                   "WHERE g.name = ?", [group]).fetchone()
    if not r:
        return None
    values = {p: quote(str(call.get(p) if call.get(p) is not None else ""), safe="") for p in POP_PLACEHOLDERS}
    values["group"] = quote(str(group), safe="")
    return r[0].format(**values)

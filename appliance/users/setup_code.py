"""The one-time setup code that creating the first administrator needs.

While an instance has no administrator, whoever can read the appliance's
console, serial port or front-panel display, or run ``korund setup-code`` as
root, can get a code; a LAN visitor cannot. Each of those places gets its
own code (``source``), so none has to read another's: the store keeps only
each code's hash, and the console's plain copy lives in a file only root
reads. Any live code creates the first administrator once; then every code
is discarded."""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from appliance.base import clock

# No 0/O, 1/I: read off a display and typed by hand. 12 characters of 32
# kinds: 60 bits, far beyond what the address throttle lets anyone try.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LENGTH = 12
CONSOLE_FILE = "setup-code"


def _hash(code: str) -> str:
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def normalise(code: str | None) -> str:
    """As typed -> as made: upper case, without spaces or dashes."""
    return re.sub(r"[^A-Z0-9]", "", (code or "").upper())


def _readable(raw: str) -> str:
    return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def needed(db) -> bool:
    """Whether the instance still waits for its first administrator."""
    return not db.execute("SELECT 1 FROM users WHERE role = 'admin' AND active = 1").fetchone()


def issue(db, source: str) -> str | None:
    """A new code for *source* (replacing its previous one), as shown to a
    person (XXXX-XXXX-XXXX); None once an administrator exists."""
    if not needed(db):
        discard_all(db)
        return None
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    db.execute("INSERT INTO setup_codes (source, code_hash, created_at) VALUES (?, ?, ?) "
               "ON CONFLICT (source) DO UPDATE SET code_hash = excluded.code_hash, "
               "created_at = excluded.created_at", [source, _hash(raw), clock.stamp()])
    return _readable(raw)


def is_live(db, source: str, code: str) -> bool:
    row = db.execute("SELECT code_hash FROM setup_codes WHERE source = ?", [source]).fetchone()
    return bool(row) and hmac.compare_digest(row[0], _hash(code))


def matches(db, code: str | None) -> bool:
    """Whether *code* is one of the live codes; compared in constant time
    with every one of them."""
    if len(normalise(code)) != LENGTH:
        return False
    wanted = _hash(code or "")
    found = False
    for (stored,) in db.execute("SELECT code_hash FROM setup_codes").fetchall():
        found |= hmac.compare_digest(stored, wanted)
    return found


def discard_all(db) -> None:
    db.execute("DELETE FROM setup_codes")


def console_code(db, base: Path) -> str | None:
    """The console's code: the same on every call while it is live (its
    plain copy in *base*/setup-code, readable by root only), a new one
    otherwise; None once an administrator exists (the copy is removed)."""
    path = Path(base) / CONSOLE_FILE
    if not needed(db):
        discard_all(db)
        path.unlink(missing_ok=True)
        return None
    try:
        kept = path.read_text().strip()
    except OSError:
        kept = ""
    if kept and is_live(db, "console", kept):
        return kept
    code = issue(db, "console")
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(code + "\n")
    os.replace(tmp, path)
    return code


class PanelCode:
    """The front-panel display's code, kept in the displaying process's
    memory only; a new one if its stored hash is gone."""

    SOURCE = "frontpanel"

    def __init__(self):
        self.code: str | None = None

    def current(self, db) -> str | None:
        if not needed(db):
            self.code = None
            return None
        if self.code is None or not is_live(db, self.SOURCE, self.code):
            self.code = issue(db, self.SOURCE)
        return self.code

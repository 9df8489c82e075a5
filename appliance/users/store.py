"""Panel users: roles, hashed passwords, lock-out, API tokens."""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from appliance.base import clock
from appliance.base.errors import ConfigError
from appliance.users import passwords

ROLES = ("admin", "supervisor", "operator", "technician")
LANGUAGES = ("ru", "en")
USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,31}$")
MIN_PASSWORD = 10
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


@dataclass
class User:
    id: int
    username: str
    role: str
    language: str
    operator_id: int | None
    active: bool


def _user(row) -> User:
    return User(row[0], row[1], row[2], row[3], row[4], bool(row[5]))


COLS = "id, username, role, language, operator_id, active"


def check_password(password: str, username: str = "") -> str:
    if len(password or "") < MIN_PASSWORD:
        raise ConfigError("password", "at least {n} characters", n=MIN_PASSWORD)
    if username and username.lower() in password.lower():
        raise ConfigError("password", "must not contain the user name")
    if len(set(password)) < 5:
        raise ConfigError("password", "too simple")
    return password


def any_admin(db) -> bool:
    return bool(db.execute("SELECT 1 FROM users WHERE role = 'admin' AND active = 1").fetchone())


def create(db, username: str, password: str, role: str, language: str = "ru",
           operator_id: int | None = None) -> User:
    username = (username or "").strip().lower()
    if not USERNAME.match(username):
        raise ConfigError("username", "2-32 characters: a-z, digits, '.', '_', '-', starting with a letter")
    if role not in ROLES:
        raise ConfigError("role", "one of {choices}", choices=", ".join(ROLES))
    if language not in LANGUAGES:
        raise ConfigError("language", "one of {choices}", choices=", ".join(LANGUAGES))
    check_password(password, username)
    if role == "operator" and operator_id is None:
        raise ConfigError("operator_id", "an operator user must be linked to an operator")
    if operator_id is not None and not db.execute("SELECT 1 FROM operators WHERE id = ?", [operator_id]).fetchone():
        raise ConfigError("operator_id", "no such operator")
    if db.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
        raise ConfigError("username", "'{username}' is already taken", username=username)
    uid = db.execute(
        "INSERT INTO users (username, password_hash, role, language, operator_id, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [username, passwords.make(password), role, language, operator_id,
         clock.now().isoformat(timespec="seconds")]).lastrowid
    return get(db, uid)


def get(db, user_id: int) -> User | None:
    row = db.execute(f"SELECT {COLS} FROM users WHERE id = ?", [user_id]).fetchone()
    return _user(row) if row else None


def all_users(db) -> list[User]:
    return [_user(r) for r in db.execute(f"SELECT {COLS} FROM users ORDER BY username")]


class LoginError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # "invalid" or "locked"


def authenticate(db, username: str, password: str, now: datetime | None = None) -> User:
    """The user for these credentials; counts failures and locks the account
    after MAX_FAILED_LOGINS in a row."""
    now = now or clock.now()
    row = db.execute("SELECT id, password_hash, failed_logins, locked_until, active FROM users "
                     "WHERE username = ?", [(username or "").strip().lower()]).fetchone()
    if not row or not row[4]:
        # Same work as a real check, so timing does not reveal user names.
        passwords.spend_a_check(password or "")
        raise LoginError("invalid")
    uid, pw_hash, failed, locked_until = row[0], row[1], row[2], row[3]
    if locked_until and datetime.fromisoformat(locked_until) > now:
        raise LoginError("locked")
    if not passwords.matches(pw_hash, password or ""):
        failed += 1
        lock = (now + LOCKOUT).isoformat(timespec="seconds") if failed >= MAX_FAILED_LOGINS else None
        db.execute("UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?",
                   [0 if lock else failed, lock, uid])
        raise LoginError("locked" if lock else "invalid")
    db.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?", [uid])
    return get(db, uid)


def update(db, user_id: int, *, role: str | None = None, language: str | None = None,
           active: bool | None = None, password: str | None = None,
           operator_id: int | None | str = "keep") -> User:
    user = get(db, user_id)
    if not user:
        raise ConfigError("id", "no such user")
    if role is not None and role not in ROLES:
        raise ConfigError("role", "one of {choices}", choices=", ".join(ROLES))
    if language is not None and language not in LANGUAGES:
        raise ConfigError("language", "one of {choices}", choices=", ".join(LANGUAGES))
    new_role = role or user.role
    new_active = user.active if active is None else active
    if user.role == "admin" and (new_role != "admin" or not new_active):
        if db.execute("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1 AND id != ?",
                      [user_id]).fetchone()[0] == 0:
            raise ConfigError("role", "the last active admin cannot be demoted or disabled")
    new_op = user.operator_id if operator_id == "keep" else operator_id
    if new_role == "operator" and new_op is None:
        raise ConfigError("operator_id", "an operator user must be linked to an operator")
    with db.atomic():
        db.execute("UPDATE users SET role = ?, language = ?, active = ?, operator_id = ? WHERE id = ?",
                   [new_role, language or user.language, int(new_active), new_op, user_id])
        if password is not None:
            check_password(password, user.username)
            db.execute("UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL "
                       "WHERE id = ?", [passwords.make(password), user_id])
    return get(db, user_id)


def delete(db, user_id: int) -> None:
    update(db, user_id, active=False)  # refuses for the last admin
    db.execute("DELETE FROM users WHERE id = ?", [user_id])


# --- API tokens ----------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db, user_id: int, name: str) -> str:
    """A new token for *user_id*; only its hash is stored, so show it once."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 64:
        raise ConfigError("name", "1-64 characters")
    token = "krd_" + secrets.token_urlsafe(32)
    db.execute("INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
               [user_id, name, _token_hash(token), clock.now().isoformat(timespec="seconds")])
    return token


def user_for_token(db, token: str) -> User | None:
    row = db.execute("SELECT user_id, id FROM api_tokens WHERE token_hash = ?",
                     [_token_hash(token or "")]).fetchone()
    if not row:
        return None
    db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?",
               [clock.now().isoformat(timespec="seconds"), row[1]])
    user = get(db, row[0])
    return user if user and user.active else None


def tokens(db, user_id: int) -> list[dict]:
    return [dict(zip(("id", "name", "created_at", "last_used_at"), r)) for r in db.execute(
        "SELECT id, name, created_at, last_used_at FROM api_tokens WHERE user_id = ? ORDER BY id",
        [user_id])]


def revoke_token(db, user_id: int, token_id: int) -> None:
    db.execute("DELETE FROM api_tokens WHERE id = ? AND user_id = ?", [token_id, user_id])

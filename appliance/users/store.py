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
# API tokens live this many days, chosen when made (default TOKEN_DAYS).
TOKEN_DAY_CHOICES = (7, 30, 90, 365)
TOKEN_DAYS = 90


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
    if not USERNAME.fullmatch(username):
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


def locked(db, now: datetime | None = None) -> dict[int, str]:
    """user id -> the end of its running lock, for the accounts locked now."""
    return dict(db.execute("SELECT id, locked_until FROM users WHERE locked_until > ?", [clock.stamp(now)]))


def all_users(db) -> list[User]:
    return [_user(r) for r in db.execute(f"SELECT {COLS} FROM users ORDER BY username")]


class LoginError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # "invalid" or "locked"


def authenticate(db, username: str, password: str, now: datetime | None = None) -> User:
    """The user for these credentials. Every refused attempt on an existing
    account is counted in one atomic statement, so parallel guesses each
    count; the account locks for LOCKOUT at MAX_FAILED_LOGINS failures in a
    row, and a failure never shortens or lifts a lock. Raises LoginError
    ("invalid" or "locked"), or passwords.Busy when too many checks wait."""
    now = now or clock.now()
    row = db.execute("SELECT id, password_hash, locked_until, active FROM users WHERE username = ?",
                     [(username or "").strip().lower()]).fetchone()
    if not row or not row[3]:
        # One check's work, as for a real account, so timing does not tell
        # which user names exist.
        passwords.spend_a_check(password or "")
        raise LoginError("invalid")
    uid, pw_hash, locked_until = row[0], row[1], row[2]
    if _locked(locked_until, now):
        _count_failure(db, uid, now)
        raise LoginError("locked")
    if not passwords.matches(pw_hash, password or ""):
        raise LoginError("locked" if _locked(_count_failure(db, uid, now), now) else "invalid")
    # Right password: clear the count, unless parallel failures locked the
    # account while the password was being checked.
    cleared = db.execute("UPDATE users SET failed_logins = 0, locked_until = NULL "
                         "WHERE id = ? AND (locked_until IS NULL OR locked_until <= ?)",
                         [uid, clock.stamp(now)]).rowcount
    if not cleared:
        raise LoginError("locked")
    return get(db, uid)


def _locked(locked_until: str | None, now: datetime) -> bool:
    return bool(locked_until) and datetime.fromisoformat(locked_until) > now


def _count_failure(db, uid: int, now: datetime) -> str | None:
    """Add one failure (a fresh count if an earlier lock has run out); lock
    at the limit; keep a running lock as it is. The lock's end afterwards."""
    at, until = clock.stamp(now), clock.stamp(now + LOCKOUT)
    with db.atomic():
        rows = db.execute(
            "UPDATE users SET "
            "failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until <= :at THEN 1 "
            "                     ELSE failed_logins + 1 END, "
            "locked_until = CASE "
            "  WHEN locked_until IS NOT NULL AND locked_until > :at THEN locked_until "
            "  WHEN (CASE WHEN locked_until IS NOT NULL AND locked_until <= :at THEN 1 "
            "             ELSE failed_logins + 1 END) >= :max THEN :until "
            "  ELSE NULL END "
            "WHERE id = :id RETURNING locked_until",
            {"at": at, "until": until, "max": MAX_FAILED_LOGINS, "id": uid}).fetchall()
    return rows[0][0] if rows else None


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
    if user.role == "admin" and (new_role != "admin" or not new_active) and db.execute(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1 AND id != ?", [user_id]).fetchone()[0] == 0:
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
            # A new password ends everything the old one opened: the
            # user's sessions and API tokens.
            db.execute("DELETE FROM api_tokens WHERE user_id = ?", [user_id])
            db.execute("DELETE FROM sessions WHERE user_id = ?", [user_id])
        if not new_active:
            db.execute("DELETE FROM sessions WHERE user_id = ?", [user_id])
    return get(db, user_id)


def delete(db, user_id: int) -> None:
    update(db, user_id, active=False)  # refuses for the last admin
    db.execute("DELETE FROM users WHERE id = ?", [user_id])


# --- API tokens ----------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db, user_id: int, name: str, days: int = TOKEN_DAYS) -> str:
    """A new token for *user_id*, valid for *days*; only its hash is stored,
    so show it once."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 64:
        raise ConfigError("name", "1-64 characters")
    if days not in TOKEN_DAY_CHOICES:
        raise ConfigError("days", "one of {choices}", choices=", ".join(map(str, TOKEN_DAY_CHOICES)))
    token = "krd_" + secrets.token_urlsafe(32)
    now = clock.now()
    db.execute("INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) "
               "VALUES (?, ?, ?, ?, ?)",
               [user_id, name, _token_hash(token), clock.stamp(now), clock.stamp(now + timedelta(days=days))])
    return token


def user_for_token(db, token: str, now: datetime | None = None) -> User | None:
    """The active user whose unexpired token this is; None otherwise."""
    at = clock.stamp(now)
    row = db.execute("SELECT user_id, id FROM api_tokens WHERE token_hash = ? AND expires_at > ?",
                     [_token_hash(token or ""), at]).fetchone()
    if not row:
        return None
    db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [at, row[1]])
    user = get(db, row[0])
    return user if user and user.active else None


def tokens(db, user_id: int) -> list[dict]:
    cols = ("id", "name", "created_at", "last_used_at", "expires_at")
    return [dict(zip(cols, r)) for r in db.execute(
        f"SELECT {', '.join(cols)} FROM api_tokens WHERE user_id = ? ORDER BY id", [user_id])]


def revoke_token(db, user_id: int, token_id: int) -> None:
    db.execute("DELETE FROM api_tokens WHERE id = ? AND user_id = ?", [token_id, user_id])

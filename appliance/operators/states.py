"""Operator states (the ACD): logged out, ready, ringing, on a call, wrap-up,
paused with a reason.

The database is the truth. Asterisk follows it like this: every enabled
member of a group is a *static* member in the rendered queues.conf, and an
operator who is logged out or paused is *paused* in every queue over AMI
(``QueuePause``, the reason passed along). We chose rendered members plus
pauses over dynamic members (``QueueAdd``/``QueueRemove``) because group
membership and penalties are configuration — rendered, diffed and rolled
back by apply like the rest — while a state change only flips one flag and
never touches a file. Asterisk forgets pauses when it restarts and gives new
members of a reloaded queue none, so ``sync`` pushes every operator's state
again; the events service runs it when it (re)connects to AMI, after each
reload, and every ``SYNC_SECONDS`` as a safety net. ``ringing``,
``on_call`` and ``wrapup`` follow app_queue's events (appliance.operators.queue_events)
and need no push: app_queue itself does not offer a busy member a call and
keeps its own wrap-up time (the group's ``wrapuptime``).

An operator without a row has never logged in or out: they count as
``ready``, so a fresh installation (and the demo) takes calls at once; the
first login, logout or pause writes the row.

Every change closes the operator's open ``operator_state_log`` row and opens
a new one, so the reports can sum the time spent in each state and reason.
"""
from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta, timezone

from appliance.base.errors import ConfigError

log = logging.getLogger("korund.operators")

STATES = ("logged_out", "ready", "ringing", "on_call", "wrapup", "paused")
AVAILABLE = ("ready", "ringing", "on_call", "wrapup")   # unpaused in the queues
NO_ANSWER = "no answer"        # the built-in reason of F10
SYNC_SECONDS = 30


def now_iso(clock=None) -> str:
    t = clock() if clock else datetime.now(timezone.utc)
    return t.isoformat(timespec="milliseconds")


@contextlib.contextmanager
def immediate(db):
    """A write transaction taken at its start (BEGIN IMMEDIATE). Several
    processes change states at once (events, AGI, web, CLI); a deferred
    transaction that read first could not write once another had committed
    (SQLite answers "database is locked" at once in WAL mode)."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    db.conn.execute("COMMIT")


# --- pause reasons ------------------------------------------------------------

def reasons(db) -> list[dict]:
    return [{"code": r[0], "name": r[1], "builtin": bool(r[2])} for r in db.execute(
        "SELECT code, name, builtin FROM pause_reasons ORDER BY code")]


def add_reason(db, code, name: str) -> None:
    name = (name or "").strip()
    try:
        code = int(str(code).strip())
    except (TypeError, ValueError):
        raise ConfigError("code", "'{value}' is not a whole number", value=code) from None
    if not 1 <= code <= 99:
        raise ConfigError("code", "must be between {low} and {high}", low=1, high=99)
    if not 1 <= len(name) <= 40 or any(ord(c) < 32 for c in name):
        raise ConfigError("name", "a reason needs a name of 1-40 characters")
    if db.execute("SELECT 1 FROM pause_reasons WHERE code = ?", [code]).fetchone():
        raise ConfigError("code", "reason number {code} is already taken", code=code)
    if db.execute("SELECT 1 FROM pause_reasons WHERE name = ?", [name]).fetchone():
        raise ConfigError("name", "a reason named '{name}' already exists", name=name)
    db.execute("INSERT INTO pause_reasons (code, name) VALUES (?, ?)", [code, name])


def delete_reason(db, code) -> None:
    row = db.execute("SELECT builtin FROM pause_reasons WHERE code = ?", [code]).fetchone()
    if not row:
        raise ConfigError("code", "no pause reason number {code}", code=code)
    if row[0]:
        raise ConfigError("code", "the built-in reason cannot be deleted")
    db.execute("DELETE FROM pause_reasons WHERE code = ?", [code])


def reason_name(db, reason) -> str:
    """A reason given by name or by its number (as dialled after *53)."""
    text = str(reason if reason is not None else "").strip()
    row = db.execute("SELECT name FROM pause_reasons WHERE name = ? OR CAST(code AS TEXT) = ?",
                     [text, text]).fetchone()
    if not row:
        raise ConfigError("reason", "no pause reason '{reason}'", reason=text)
    return row[0]


# --- reading ------------------------------------------------------------------

def _operator(db, extension: str) -> tuple[int, str]:
    row = db.execute("SELECT id, name FROM operators WHERE extension = ?",
                     [str(extension or "")]).fetchone()
    if not row:
        raise ConfigError("extension", "no operator with extension {extension}", extension=extension)
    return row[0], row[1]


_SELECT = ("SELECT o.extension, o.name, COALESCE(s.state, 'ready'), s.reason, s.since, o.enabled "
           "FROM operators o LEFT JOIN operator_states s ON s.operator_id = o.id")


def _row(r) -> dict:
    return {"extension": r[0], "name": r[1], "state": r[2], "reason": r[3], "since": r[4]}


def state(db, extension: str) -> dict:
    """{"extension", "name", "state", "reason", "since"} of one operator."""
    _operator(db, extension)
    return _row(db.execute(_SELECT + " WHERE o.extension = ?", [str(extension)]).fetchone())


def states(db) -> list[dict]:
    return [_row(r) for r in db.execute(_SELECT + " ORDER BY o.extension")]


def ready_operators(db, group: str) -> list[str]:
    """Extensions of the group's enabled members who are ready now."""
    return [r[0] for r in db.execute(
        "SELECT o.extension FROM groups g JOIN group_members m ON m.group_id = g.id "
        "JOIN operators o ON o.id = m.operator_id "
        "LEFT JOIN operator_states s ON s.operator_id = o.id "
        "WHERE g.name = ? AND o.enabled AND COALESCE(s.state, 'ready') = 'ready' "
        "ORDER BY m.penalty, o.extension", [group])]


# --- changing -----------------------------------------------------------------

def set_state(db, operator_id: int, new: str, reason: str | None = None, by: str | None = None,
              call_id: str | None = None, until: str | None = None, missed: int | None = None,
              at: str | None = None) -> None:
    """Write a state and its log row (no AMI: callers that change the
    queues' view push it themselves)."""
    at = at or now_iso()
    with immediate(db):
        cur = db.execute("SELECT state, reason FROM operator_states WHERE operator_id = ?",
                         [operator_id]).fetchone()
        if cur and (cur[0], cur[1]) == (new, reason):
            db.execute("UPDATE operator_states SET call_id = ?, until = ?, missed = COALESCE(?, missed) "
                       "WHERE operator_id = ?", [call_id, until, missed, operator_id])
            return
        db.execute(
            "INSERT INTO operator_states (operator_id, state, reason, since, call_id, until, missed) "
            "VALUES (?, ?, ?, ?, ?, ?, COALESCE(?, 0)) ON CONFLICT(operator_id) DO UPDATE SET "
            "state = excluded.state, reason = excluded.reason, since = excluded.since, "
            "call_id = excluded.call_id, until = excluded.until, "
            "missed = COALESCE(?, operator_states.missed)",
            [operator_id, new, reason, at, call_id, until, missed, missed])
        db.execute("UPDATE operator_state_log SET ended_at = ? WHERE operator_id = ? AND ended_at IS NULL",
                   [at, operator_id])
        db.execute("INSERT INTO operator_state_log (operator_id, state, reason, started_at, by) "
                   "VALUES (?, ?, ?, ?, ?)", [operator_id, new, reason, at, by])


def push(ami, extension: str, new: str, reason: str | None = None, interface: str | None = None) -> bool:
    """Make Asterisk's queues follow one operator's state; False if AMI said no
    (the next sync retries). *interface*: the queue member's ('PJSIP/<ext>'
    unless the operator's phone is an analog port, appliance.operators.devices)."""
    if ami is None:
        return False
    paused = new not in AVAILABLE
    action = {"Action": "QueuePause", "Interface": interface or f"PJSIP/{extension}",
              "Paused": "true" if paused else "false"}
    if paused:
        action["Reason"] = (reason or new).replace("\r", " ").replace("\n", " ")
    try:
        resp = ami.send_action(action)
    except Exception as exc:  # a dropped connection: the next sync retries
        log.info("QueuePause %s failed: %s", extension, exc)
        return False
    return resp.get_header("Response") == "Success"


def _change(db, ami, extension, new, reason=None, by=None) -> dict:
    op_id, _ = _operator(db, extension)
    set_state(db, op_id, new, reason, by, missed=0)
    push(ami, str(extension), new, reason, interface=member_interface(db, extension))
    return state(db, extension)


def member_interface(db, extension) -> str:
    """The operator's queue member interface (appliance.operators.devices.interface)."""
    row = db.execute("SELECT device FROM operators WHERE extension = ?", [str(extension)]).fetchone()
    return (row[0] if row and row[0] else "") or f"PJSIP/{extension}"


def login(db, ami, extension: str, by: str | None = None) -> dict:
    return _change(db, ami, extension, "ready", by=by)


def ready(db, ami, extension: str, by: str | None = None) -> dict:
    return _change(db, ami, extension, "ready", by=by)


def logout(db, ami, extension: str, by: str | None = None) -> dict:
    return _change(db, ami, extension, "logged_out", by=by)


def pause(db, ami, extension: str, reason, by: str | None = None) -> dict:
    return _change(db, ami, extension, "paused", reason_name(db, reason), by=by)


def change(db, ami, extension: str, new: str, reason=None, by: str | None = None) -> dict:
    """The API's and CLI's entry: login/ready/logout/pause by state name."""
    if new == "paused":
        return pause(db, ami, extension, reason, by)
    if new in ("ready", "logged_out"):
        return _change(db, ami, extension, new, by=by)
    raise ConfigError("state", "'{state}' is not one of: ready, paused, logged_out", state=new)


def sync(db, ami) -> int:
    """Push every operator's state to Asterisk; how many pushes succeeded."""
    return sum(push(ami, s["extension"], s["state"], s["reason"], interface=member_interface(db, s["extension"]))
               for s in states(db))


def finish_wrapups(db, clock=None) -> list[str]:
    """Operators whose wrap-up time is over (or who were left ringing for a
    caller gone from the queue) become ready; their extensions."""
    at = now_iso(clock)
    done = db.execute(
        "SELECT s.operator_id, o.extension FROM operator_states s JOIN operators o ON o.id = s.operator_id "
        "WHERE s.state IN ('wrapup', 'ringing') AND s.until IS NOT NULL AND s.until <= ?", [at]).fetchall()
    for op_id, _ in done:
        set_state(db, op_id, "ready", at=at, by="wrapup")
    return [ext for _, ext in done]


def wrapup_until(seconds: int, clock=None) -> str:
    t = clock() if clock else datetime.now(timezone.utc)
    return (t + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")

"""The callback dialer (F3): places callback orders at their time.

Every few seconds the ``dialer`` service picks the orders that are due (open,
their slot or next attempt time reached, no attempt running), finds a ready
operator of the order's group (``appliance.operators.states.ready_operators``) who is
not already busy with another callback, claims the order and originates over
AMI: first the operator's phone rings (the order id rides in the channel
variable ``dialplan_names.VAR_CALLBACK_ORDER`` so the desktop can pop the
card), and when the operator answers, the dialplan context
``dialplan_names.CTX_CALLBACK`` dials the client's number (digits only) out
through the trunk.

Claiming is one conditional UPDATE (``locked_by IS NULL``), so two dialers,
or a dialer and its own restart, never place the same order twice. Every
attempt is a row of ``callback_attempts``; its result comes back from AMI:
the originate's response (the operator did not answer or is unreachable) or
the ``KorundCallbackEnd`` user event of the callback context (what the client
side did, also kept in AstDB). An attempt whose channel is gone without a
result (the dialer was down while it ended) takes the result from AstDB, or
is closed as ``lost``.

Results and what they do to the order:

- ``answered``: the order is done;
- ``no_answer``, ``busy``, ``failed``: a counted try; after the
  group's (or the global) limit the order is ``failed``, otherwise it is
  retried after the retry interval;
- ``operator_no_answer``, ``operator_unreachable``: not the client's fault,
  not counted; another (or the same) ready operator gets it shortly;
- ``operator_hung_up``: the operator hung up before the client answered; not
  counted, retried after the interval;
- ``lost``: the call ended while the dialer was down and left no result; as
  the dialplan stores the client leg's DIALSTATUS in AstDB
  (``dialplan_names.DB_CALLBACK_RESULTS``) once the operator answered, a lost
  attempt is one whose operator never answered (or Asterisk itself died):
  not counted, retried after the interval.

Before each attempt the order's number passes the outbound policy
(``appliance.outbound``) again: an order taken under a looser policy whose
number is refused now fails at once, without ringing anyone, with the
reason kept on the order (``callbacks.refused``) and an audit entry.

Limits are settings: ``dialer.max_attempts``, ``dialer.retry_seconds``,
``dialer.client_ring`` (seconds the client's phone rings) and
``dialer.operator_ring``; a group's own value is the same key with
``.<group>`` appended (for example ``dialer.max_attempts.sales``).

The time comes from a clock function passed in, so tests can move it.
"""
from __future__ import annotations

import contextlib
import json
import logging
import queue
import secrets
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

from appliance.base import ami, dialplan_names as dn, store
from appliance.base.errors import ConfigError
from appliance.operators import states as operator_states
from appliance.outbound import policy as outbound, routes

log = logging.getLogger("korund.dialer")

POLL_SECONDS = 3
OPERATOR_RETRY_SECONDS = 15      # an order the operator did not take waits this long
LOST_AFTER_SECONDS = 10          # a running attempt's channel missing this long is lost
WORKER = "dialer"

# setting: (default, minimum, maximum)
LIMITS = {
    "max_attempts": (3, 1, 20),
    "retry_seconds": (600, 5, 86400),
    "client_ring": (40, 5, 120),
    "operator_ring": (20, 5, 120),
}

RESULTS = ("answered", "no_answer", "busy", "failed", "lost", "operator_no_answer",
           "operator_unreachable", "operator_hung_up")
COUNTED = ("no_answer", "busy", "failed")
NOT_COUNTED_RETRY = {"operator_no_answer": "operator", "operator_unreachable": "operator",
                     "operator_hung_up": "interval", "lost": "interval"}

# DIALSTATUS of the client leg -> result
DIAL_RESULTS = {"ANSWER": "answered", "NOANSWER": "no_answer", "BUSY": "busy", "CANCEL": "operator_hung_up",
                "CONGESTION": "failed", "CHANUNAVAIL": "failed", "": "operator_hung_up", "NONE": "operator_hung_up"}
# OriginateResponse Reason (the operator's leg) -> result
ORIGINATE_RESULTS = {"3": "operator_no_answer", "5": "operator_no_answer", "1": "operator_no_answer"}

USER_EVENT = "KorundCallbackEnd"


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def system_clock() -> datetime:
    return datetime.now(UTC)


@contextlib.contextmanager
def write_transaction(db):
    """A transaction that takes the write lock at its start (BEGIN
    IMMEDIATE), so its reads and writes see one state and it waits for the
    busy timeout rather than failing when another service wrote meanwhile."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.rollback()
        raise
    else:
        db.conn.commit()


# --- settings ------------------------------------------------------------------

def setting_key(name: str, group: str | None = None) -> str:
    return f"dialer.{name}" + (f".{group}" if group else "")


def limit(db, name: str, group: str | None = None) -> int:
    """A limit for *group*: its own value, else the global one, else the default."""
    default, low, high = LIMITS[name]
    for key in ([setting_key(name, group)] if group else []) + [setting_key(name)]:
        raw = store.get_setting(db, key)
        if raw is not None and raw.strip().isdigit() and low <= int(raw) <= high:
            return int(raw)
    return default


def limits(db, group: str | None = None) -> dict[str, int]:
    return {name: limit(db, name, group) for name in LIMITS}


def group_overrides(db) -> dict[str, dict[str, int]]:
    """{group: {limit: value}} for the groups with values of their own."""
    out: dict[str, dict[str, int]] = {}
    for key, value in db.execute("SELECT key, value FROM settings WHERE key LIKE 'dialer.%.%'"):
        _, name, group = key.split(".", 2)
        if name in LIMITS and value.isdigit():
            out.setdefault(group, {})[name] = int(value)
    return out


def set_limits(db, values: dict, group: str | None = None) -> dict[str, int | None]:
    """Validate every value first, then store all of them. For a group, an
    empty value removes the group's own value (the global one applies)."""
    checked: dict[str, int | None] = {}
    for name, raw in values.items():
        if name not in LIMITS:
            raise ConfigError(name, "not a setting that can be changed here")
        raw = str(raw if raw is not None else "").strip()
        if raw == "" and group:
            checked[name] = None
            continue
        _, low, high = LIMITS[name]
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise ConfigError(name, "'{value}' must be a whole number from {low} to {high}",
                              value=raw, low=low, high=high)
        checked[name] = int(raw)
    with db.atomic():
        for name, value in checked.items():
            if value is None:
                db.execute("DELETE FROM settings WHERE key = ?", [setting_key(name, group)])
            else:
                store.set_setting(db, setting_key(name, group), value)
    return checked


# --- orders and attempts ---------------------------------------------------------

def due_orders(db, now: datetime, limit_rows: int = 50) -> list[dict]:
    """Open, unclaimed orders whose time has come, the longest waiting first."""
    rows = db.execute(
        "SELECT id, grp, number, COALESCE(next_at, slot_from) AS due, ani FROM callbacks "
        "WHERE status = 'new' AND locked_by IS NULL AND COALESCE(next_at, slot_from) <= ? "
        "ORDER BY due, id LIMIT ?", [utc(now), limit_rows]).fetchall()
    return [{"id": r[0], "grp": r[1], "number": r[2], "due": r[3], "ani": r[4] or ""} for r in rows]


def refuse(db, order: dict, decision, now: datetime, worker: str = WORKER) -> bool:
    """An order whose number the outbound policy refuses now (it was taken
    under a looser policy) fails without any call, with the reason kept on
    the order and an audit entry; False if it was no longer open and free."""
    why = json.dumps({"reason": decision.reason, "message": decision.message, "params": decision.params},
                     ensure_ascii=False)
    with write_transaction(db):
        cur = db.execute("UPDATE callbacks SET status = 'failed', refused = ?, changed_at = ?, changed_by = ? "
                         "WHERE id = ? AND status = 'new' AND locked_by IS NULL",
                         [why, utc(now), worker, order["id"]])
        if cur.rowcount != 1:
            return False
        outbound.record_refusal(db, decision, order.get("ani", ""), worker, f"callback order {order['id']}")
    log.warning("order %s: not dialled, %s", order["id"], decision.text)
    return True


def busy_operators(db) -> set[str]:
    """Operators with a callback attempt still running."""
    return {r[0] for r in db.execute("SELECT operator FROM callback_attempts WHERE result IS NULL")}


def passed_over(db, order_id: int) -> list[str]:
    """Operators who let this order's latest tries go (did not answer, were
    unreachable or hung up), latest first: the next try prefers others."""
    out: list[str] = []
    for operator, result in db.execute("SELECT operator, result FROM callback_attempts WHERE callback_id = ? "
                                       "ORDER BY id DESC LIMIT 10", [order_id]):
        if result in NOT_COUNTED_RETRY and operator not in out:
            out.append(operator)
    return out


def pick(free: list[str], avoid: list[str]) -> str:
    """The first free operator not in *avoid*, else the one avoided longest ago."""
    fresh = [op for op in free if op not in avoid]
    if fresh:
        return fresh[0]
    return max(free, key=avoid.index)


def claim(db, order_id: int, operator: str, now: datetime, worker: str = WORKER) -> dict | None:
    """Lock the order and record an attempt; None if someone else got it."""
    uniqueid = f"korund-cb-{order_id}-{secrets.token_hex(6)}"
    with write_transaction(db):
        cur = db.execute("UPDATE callbacks SET locked_by = ?, locked_at = ? "
                         "WHERE id = ? AND status = 'new' AND locked_by IS NULL",
                         [worker, utc(now), order_id])
        if cur.rowcount != 1:
            return None
        attempt_id = db.execute(
            "INSERT INTO callback_attempts (callback_id, at, operator, result, uniqueid) VALUES (?, ?, ?, NULL, ?)",
            [order_id, utc(now), operator, uniqueid]).lastrowid
    return {"id": attempt_id, "callback_id": order_id, "operator": operator, "uniqueid": uniqueid}


def finish(db, attempt_id: int, result: str, now: datetime) -> dict | None:
    """Store an attempt's result and move its order on; an attempt that
    already has a result is left as it is (returns None)."""
    if result not in RESULTS:
        raise ValueError(f"unknown result {result!r}")
    with write_transaction(db):
        row = db.execute("SELECT callback_id FROM callback_attempts WHERE id = ? AND result IS NULL",
                         [attempt_id]).fetchone()
        if row is None:
            return None
        order_id = row[0]
        db.execute("UPDATE callback_attempts SET result = ?, ended_at = ? WHERE id = ?",
                   [result, utc(now), attempt_id])
        grp, tries = db.execute("SELECT grp, tries FROM callbacks WHERE id = ?", [order_id]).fetchone()
        lim = limits(db, grp)
        status, next_at = "new", None
        if result == "answered":
            status = "done"
        elif result in COUNTED:
            tries += 1
            if tries >= lim["max_attempts"]:
                status = "failed"
            else:
                next_at = now + timedelta(seconds=lim["retry_seconds"])
        elif NOT_COUNTED_RETRY[result] == "operator":
            next_at = now + timedelta(seconds=OPERATOR_RETRY_SECONDS)
        else:
            next_at = now + timedelta(seconds=lim["retry_seconds"])
        # A supervisor may have closed the order meanwhile: only an open one moves.
        db.execute("UPDATE callbacks SET tries = ?, next_at = ?, locked_by = NULL, locked_at = NULL WHERE id = ?",
                   [tries, utc(next_at) if next_at else None, order_id])
        if status != "new":
            db.execute("UPDATE callbacks SET status = ?, changed_at = ?, changed_by = ? "
                       "WHERE id = ? AND status = 'new'", [status, utc(now), WORKER, order_id])
    return {"callback_id": order_id, "result": result, "status": status, "tries": tries}


def attempts(db, order_id: int) -> list[dict]:
    return [dict(zip(("id", "at", "operator", "result", "uniqueid", "ended_at"), r)) for r in db.execute(
        "SELECT id, at, operator, result, uniqueid, ended_at FROM callback_attempts "
        "WHERE callback_id = ? ORDER BY id", [order_id])]


def dialing_state(db, order_ids) -> dict[int, dict]:
    """{order id: {tries, next_at, running, attempts: [...]}} for the panel."""
    ids = [int(i) for i in order_ids]
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    out = {r[0]: {"tries": r[1], "next_at": r[2], "running": r[3] is not None, "attempts": []}
           for r in db.execute(f"SELECT id, tries, next_at, locked_by FROM callbacks WHERE id IN ({marks})", ids)}
    for r in db.execute(f"SELECT callback_id, at, operator, result FROM callback_attempts "
                        f"WHERE callback_id IN ({marks}) ORDER BY id", ids):
        out[r[0]]["attempts"].append({"at": r[1], "operator": r[2], "result": r[3]})
    return out


def check_retry(db, order_id, by: str) -> None:
    """Whether the outbound policy lets the order be dialled again: its
    refusal is audited (by *by*) and raised as outbound.Refused. Called
    before the transaction that retries, so the audit entry stays."""
    row = db.execute("SELECT number, ani FROM callbacks WHERE id = ?", [order_id]).fetchone()
    if row is None:
        raise LookupError(order_id)
    outbound.enforce(db, row[0], "callback-attempt", row[1] or "", by, f"callback order {order_id}")


def retry(db, order_id, now: datetime) -> None:
    """A supervisor's "try again": an open or failed order, not being dialed,
    is due now with its tries counted from zero -- unless the outbound
    policy refuses its number now (outbound.Refused)."""
    with write_transaction(db):
        row = db.execute("SELECT status, locked_by, number, ani FROM callbacks WHERE id = ?",
                         [order_id]).fetchone()
        if row is None:
            raise LookupError(order_id)
        if row[0] not in ("new", "failed"):
            raise ConfigError("status", "the order is already {status}", status=row[0])
        if row[1] is not None:
            raise ConfigError("status", "the order is being dialed right now")
        decision = outbound.check(db, row[2], "callback-attempt", row[3] or "")
        if not decision.allowed:
            raise outbound.Refused(decision)
        db.execute("UPDATE callbacks SET status = 'new', tries = 0, next_at = ?, refused = NULL WHERE id = ?",
                   [utc(now), order_id])


def is_overdue(order: dict, now: datetime) -> bool:
    """An open (or failed) order whose slot has ended."""
    return (order.get("status") in ("new", "failed") and bool(order.get("slot_until"))
            and order["slot_until"] < utc(now))


# --- the service -------------------------------------------------------------------

def originate_action(order: dict, attempt: dict, ring: int, client_ring: int, device: str = "") -> dict:
    """The operator's leg of an attempt: *device* is the operator's phone
    (operator_states.member_interface: an FXS port DAHDI/<n>), PJSIP/<ext> by default."""
    digits = "".join(ch for ch in order["number"] if ch.isdigit())
    variables = {dn.VAR_CALLBACK_ORDER: order["id"], dn.VAR_CALLBACK_ATTEMPT: attempt["id"],
                 dn.VAR_CALLBACK_NUMBER: digits, dn.VAR_CALLBACK_RING: client_ring, dn.VAR_GROUP: order["grp"]}
    return {"Action": "Originate", "Channel": device or f"PJSIP/{attempt['operator']}",
            "Context": dn.CTX_CALLBACK, "Exten": "s", "Priority": "1", "Async": "true",
            "Timeout": str(ring * 1000), "ChannelId": attempt["uniqueid"],
            "CallerID": f'"Callback {order["id"]}" <{digits}>', "ActionID": attempt["uniqueid"],
            "Variable": [f"{k}={v}" for k, v in variables.items()]}


def _device(db, attempt: dict) -> str:
    return operator_states.member_interface(db, attempt["operator"])


# Device states of a phone that is on a call (or ringing, or holding one):
# any call, not only the queues' -- the operator may be talking on a direct
# call or an outbound one while the store still says "ready".
BUSY_DEVICE_STATES = {"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"}


def phone_busy(mgr, device: str) -> bool:
    """Is *device* ('PJSIP/1001', 'DAHDI/18') on a call now, as Asterisk's
    DEVICE_STATE says? An unanswered question counts as free: the
    originate then says whether the phone can be reached."""
    try:
        resp = mgr.send_action({"Action": "Getvar", "Variable": f"DEVICE_STATE({device})"})
        return (resp.get_header("Value") or "").upper() in BUSY_DEVICE_STATES
    except Exception as exc:   # noqa: BLE001 - AMI hiccup: the originate will tell
        log.info("cannot read the device state of %s: %s", device, exc)
        return False


def _ready(db, group: str) -> list[str]:
    return list(operator_states.ready_operators(db, group))


class Dialer:
    """One dialer: ``tick()`` places due orders, ``handle()`` takes AMI events.

    *mgr* is a pyst2 manager (or anything with ``send_action`` and, for the
    lost-call check, ``command``); *ready* gives the ready operators of a
    group; *clock* the current UTC time."""

    def __init__(self, db, mgr, clock=system_clock, ready=_ready, worker: str = WORKER):
        self.db = db
        self.mgr = mgr
        self.clock = clock
        self.ready = ready
        self.worker = worker
        self.missing_since: dict[int, float] = {}

    def tick(self) -> list[dict]:
        """Place what is due now; return the attempts started."""
        now = self.clock()
        started = []
        busy = busy_operators(self.db)
        phones: dict[str, bool] = {}   # operator -> phone busy, asked once per pass

        def on_a_call(op: str) -> bool:
            if op not in phones:
                phones[op] = phone_busy(self.mgr, _device(self.db, {"operator": op}))
            return phones[op]

        for order in due_orders(self.db, now):
            # the policy may have tightened since the order was taken: checked before every attempt
            decision = outbound.check(self.db, order["number"], "callback-attempt", order["ani"])
            if not decision.allowed:
                refuse(self.db, order, decision, now, self.worker)
                continue
            # no operator is rung for a number no route can take (none matches: the order fails;
            # every trunk group full or its channels kept for inbound: it waits for the next pass)
            route = routes.plan(self.db, order["number"], "callback-attempt", caller=order["ani"])
            if route.refused == "no-route":
                refuse(self.db, order, outbound.Decision(False, route.number, "callback-attempt", decision.kind,
                                                         "no-route", {"number": route.number}), now, self.worker)
                continue
            if route.refused:
                continue
            try:
                free = [op for op in self.ready(self.db, order["grp"]) if op not in busy]
            except Exception:
                log.exception("cannot tell the ready operators of %s", order["grp"])
                continue
            # a ready operator whose phone is on another call (not a queue's) waits
            free = [op for op in free if not on_a_call(op)]
            if not free:
                continue
            attempt = claim(self.db, order["id"], pick(free, passed_over(self.db, order["id"])), now,
                            self.worker)
            if attempt is None:
                continue
            busy.add(attempt["operator"])
            lim = limits(self.db, order["grp"])
            device = _device(self.db, attempt)
            try:
                resp = self.mgr.send_action(originate_action(order, attempt, lim["operator_ring"],
                                                             lim["client_ring"], device))
                ok = resp.get_header("Response") == "Success"
            except Exception as exc:   # AMI gone: the attempt did not happen
                log.warning("originate for order %s failed: %s", order["id"], exc)
                ok = False
            if not ok:
                finish(self.db, attempt["id"], "operator_unreachable", now)
                continue
            log.info("order %s: calling operator %s (attempt %s)", order["id"], attempt["operator"], attempt["id"])
            started.append(attempt)
        return started

    def handle(self, headers: dict) -> dict | None:
        """Apply one AMI event (as ``ami.event_headers`` gives it)."""
        event = headers.get("Event")
        if event == "OriginateResponse" and headers.get("Response") != "Success":
            attempt = self._attempt_by_uniqueid(headers.get("ActionID", ""))
            if attempt is not None:
                result = ORIGINATE_RESULTS.get(headers.get("Reason", ""), "operator_unreachable")
                return finish(self.db, attempt, result, self.clock())
        elif event == "UserEvent" and headers.get("UserEvent") == USER_EVENT:
            raw = headers.get("Attempt", "")
            if raw.isdigit():
                result = DIAL_RESULTS.get(headers.get("DialStatus", "").strip(), "failed")
                return finish(self.db, int(raw), result, self.clock())
        return None

    def _attempt_by_uniqueid(self, uniqueid: str) -> int | None:
        row = self.db.execute("SELECT id FROM callback_attempts WHERE uniqueid = ? AND result IS NULL",
                              [uniqueid]).fetchone() if uniqueid else None
        return row[0] if row else None

    def attempts_running(self) -> bool:
        return self.db.execute("SELECT 1 FROM callback_attempts WHERE result IS NULL LIMIT 1").fetchone() is not None

    def close_lost(self, live: set[str], monotonic: float | None = None,
                   stored=lambda attempt_id: None) -> list[int]:
        """Close running attempts whose channel has been gone for a while
        (their end was missed); *live* holds the live channels' unique ids,
        *stored* gives the DIALSTATUS the dialplan kept for an attempt, if any."""
        monotonic = time.monotonic() if monotonic is None else monotonic
        now = self.clock()
        lost = []
        for attempt_id, uniqueid, at in self.db.execute(
                "SELECT id, uniqueid, at FROM callback_attempts WHERE result IS NULL").fetchall():
            if uniqueid in live:
                self.missing_since.pop(attempt_id, None)
                continue
            first = self.missing_since.setdefault(attempt_id, monotonic)
            if monotonic - first >= LOST_AFTER_SECONDS:
                self.missing_since.pop(attempt_id, None)
                status = stored(attempt_id)
                if status is not None:
                    log.info("attempt %s ended while the dialer was away: %s", attempt_id, status)
                    finish(self.db, attempt_id, DIAL_RESULTS.get(status, "failed"), now)
                elif finish(self.db, attempt_id, "lost", now):
                    log.warning("attempt %s: its call ended unseen; counted as lost", attempt_id)
                    lost.append(attempt_id)
        return lost


def stored_result(mgr, attempt_id: int) -> str | None:
    """The client leg's DIALSTATUS the dialplan kept in AstDB, or None."""
    for line in ami.command(mgr, f"database get {dn.DB_CALLBACK_RESULTS} {int(attempt_id)}"):
        if line.startswith("Value:"):
            return line.split(":", 1)[1].strip()
    return None


def forget_result(mgr, attempt_id: int) -> None:
    try:
        ami.command(mgr, f"database del {dn.DB_CALLBACK_RESULTS} {int(attempt_id)}")
    except Exception:   # a leftover key is harmless: the attempt already has its result
        log.warning("could not delete the stored result of attempt %s", attempt_id)


def take_result(mgr, attempt_id: int) -> str | None:
    status = stored_result(mgr, attempt_id)
    if status is not None:
        forget_result(mgr, attempt_id)
    return status


def live_uniqueids(mgr) -> set[str]:
    """Unique ids of the channels Asterisk has now (``core show channels concise``)."""
    return {line.rsplit("!", 1)[-1] for line in ami.command(mgr, "core show channels concise") if "!" in line}


# All the dialer hears from Asterisk: an originate that failed, and the end of
# the client leg (the dialplan's user event).
EVENTS = (ami.EventFilter("OriginateResponse"), ami.EventFilter("UserEvent", "UserEvent", USER_EVENT))


def _handle(dialer: Dialer, headers: dict, tries: int = 5) -> None:
    """Apply an event; a busy database is waited out, not a lost result."""
    for n in range(tries):
        try:
            dialer.handle(headers)
            if headers.get("UserEvent") == USER_EVENT and headers.get("Attempt", "").isdigit():
                forget_result(dialer.mgr, int(headers["Attempt"]))
            return
        except sqlite3.OperationalError:
            if n == tries - 1:
                log.exception("could not store %s", headers.get("Event"))
            else:
                time.sleep(0.5)


def run(instance, stop: threading.Event | None = None, clock=system_clock) -> None:
    """The ``dialer`` service: AMI events into a queue, one thread on the database."""
    stop = stop or threading.Event()
    db = store.open_store(instance.db_path)
    events: queue.Queue = queue.Queue()

    def on_event(event, _manager):
        headers = ami.event_headers(event)
        if headers.get("Event") in ("OriginateResponse", "UserEvent"):
            events.put(headers)

    def session(mgr):
        dialer = Dialer(db, mgr, clock=clock)
        mgr.register_event("*", on_event)
        next_tick = 0.0
        while mgr.connected() and not stop.is_set():
            try:
                headers = events.get(timeout=0.5)
            except queue.Empty:
                headers = None
            if headers is not None:
                _handle(dialer, headers)
                continue
            if time.monotonic() >= next_tick:
                try:
                    # the channel list is asked for only while an attempt runs:
                    # at 240 calls it is hundreds of lines every second
                    if dialer.attempts_running():
                        dialer.close_lost(live_uniqueids(mgr),
                                          stored=lambda attempt_id: take_result(mgr, attempt_id))
                    dialer.tick()
                except sqlite3.Error:
                    log.exception("dialing pass failed; trying again")
                next_tick = time.monotonic() + POLL_SECONDS

    ami.keep_connected(lambda: store.settings(db), stop, session, log, events=EVENTS)

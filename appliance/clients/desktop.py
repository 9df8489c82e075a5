"""The operator's desktop (F8, F9): offers, the call's session, notes,
calls out and transfers.

The ``events`` service calls :func:`on_event` with every AMI event; when a
call is offered to an operator's phone (app_queue's ``AgentCalled``, or a
``DialBegin`` to ``PJSIP/<extension>`` for direct routes and transfers) a
row goes into ``offers``, which the desktop's server-sent-event stream
follows. A call an operator's phone places out (dialled on the phone, or
clicked on the desktop: :func:`call_out`) is an offer too, made by the
``DialBegin`` from the phone's channel to the line, with the number called
in place of the caller's, so the card of that number pops the same way.
Everything about a call is keyed by its *linkedid* (the caller's
channel), which stays the same when the call is transferred, so the next
operator sees the same session: the IVR path, every note and card edit.
"""
from __future__ import annotations

import json
import re
import secrets
import time
from datetime import UTC, datetime

from appliance.base import clock, dialplan_names as dn
from appliance.base.errors import EXTENSION, GROUP_NAME, ConfigError
from appliance.callbacks import store as callbacks
from appliance.clients import store as clients
from appliance.history.legs import readable_path
from appliance.history.store import iso, only
from appliance.operators import devices
from appliance.outbound import policy, routes, store as outbound_store

MAX_NOTE = 10000
TRANSFER_KINDS = ("blind", "attended")
OPEN_STATES = ("ringing", "answered")


def _is_operator(db, extension: str | None) -> bool:
    return bool(extension) and db.execute(
        "SELECT 1 FROM operators WHERE extension = ?", [extension]).fetchone() is not None


# --- the events side ----------------------------------------------------------

# The AMI events on_event acts on (the events service asks Asterisk for these);
# of VarSet only dn.VAR_CALLBACK_ORDER.
AMI_EVENTS = frozenset({"AgentCalled", "DialBegin", "DialEnd", "AgentConnect", "Newchannel", "VarSet",
                    "Newstate", "AttendedTransfer", "Hangup"})

def on_event(db, e: dict) -> None:
    kind = e.get("Event")
    if kind in ("AgentCalled", "DialBegin"):
        _offered(db, e)
        if kind == "DialBegin":
            _dialled_out(db, e)
    elif kind == "DialEnd":
        answered = e.get("DialStatus") == "ANSWER"
        db.execute("UPDATE offers SET state = ? WHERE uniqueid = ? AND state = 'ringing'",
                   ["answered" if answered else "missed", e.get("DestUniqueid")])
        if answered:   # the number an operator's phone called answered
            db.execute("UPDATE offers SET state = 'answered' WHERE uniqueid = ? AND dest_channel = ? "
                       "AND state = 'ringing'", [e.get("Uniqueid"), e.get("Channel")])
    elif kind == "AgentConnect":
        db.execute("UPDATE offers SET state = 'answered' WHERE uniqueid = ? AND state = 'ringing'",
                   [e.get("DestUniqueid")])
    elif kind in ("Newchannel", "VarSet"):
        _callback_leg(db, e)
    elif kind == "Newstate" and e.get("ChannelState") == "6":
        # an originated leg (the callback dialer's) has no DialEnd: answered is Up
        db.execute("UPDATE offers SET state = 'answered' WHERE uniqueid = ? AND state = 'ringing'",
                   [e.get("Uniqueid")])
    elif kind == "AttendedTransfer" and e.get("Result") == "Success":
        _attended_done(db, e)
    elif kind == "Hangup":
        db.execute("UPDATE offers SET state = CASE state WHEN 'ringing' THEN 'missed' ELSE 'ended' END "
                   "WHERE uniqueid = ? AND state IN ('ringing', 'answered')", [e.get("Uniqueid")])


def _offered(db, e: dict) -> None:
    dest = e.get("DestChannel") or ""
    # an IP phone's PJSIP/<ext>-..., or an analog phone's DAHDI/<n>-... (appliance.operators.devices)
    extension = devices.extension_of(db, dest) if dest.startswith(("PJSIP/", "DAHDI/")) else None
    linkedid = e.get("Linkedid") or e.get("DestLinkedid")
    if not extension or not linkedid or not e.get("DestUniqueid") or not _is_operator(db, extension):
        return
    ani = only(dn.ANI_ALLOWED, e.get("CallerIDNum"))
    if not e.get("Channel"):
        # An originate rings the phone, with no caller yet: the desktop's
        # click-to-call (call_out) shows the number it is about to dial as the
        # phone's connected line, and the card of that number pops while the
        # phone rings. An originate without one (a feature code dialled for
        # the phone) is no call to show.
        ani = only(dn.ANI_ALLOWED, e.get("DestConnectedLineNum"))
        if not ani:
            return
    grp = dn.group_of_queue(e.get("Queue"))
    if not grp:
        row = db.execute("SELECT grp FROM calls WHERE uniqueid = ?", [linkedid]).fetchone()
        grp = (row[0] if row else "") or ""
    ts = e.get("Timestamp")
    db.execute(
        "INSERT INTO offers (uniqueid, linkedid, extension, ani, grp, channel, dest_channel, at, state) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'ringing') ON CONFLICT(uniqueid) DO UPDATE SET "
        "grp = CASE WHEN excluded.grp != '' THEN excluded.grp ELSE offers.grp END",
        [e["DestUniqueid"], linkedid, extension, ani, grp,
         e.get("Channel") or "", dest, iso(ts) if ts else clock.stamp(timespec="milliseconds")])


def dialled_number(dial_string: str | None) -> str:
    """The number a Dial() string sends to the line: 'PJSIP/<number>@<trunk>'
    and 'DAHDI/<group>/<prefix letters><number>' (appliance.outbound.routes.Try)
    as DialBegin's DialString gives them ('89161234567@pstn', 'g1/N89161234567');
    digits with an optional leading +, '' if there are none."""
    text = (dial_string or "").split("@", 1)[0].rsplit("/", 1)[-1].removeprefix("sip:")
    number = only(dn.ANI_ALLOWED, text)
    return number[0] + number[1:].replace("+", "") if number else ""


def _dialled_out(db, e: dict) -> None:
    """An operator's phone dials out: the DialBegin from the phone's channel
    to a line (not to another operator's phone: that call is the other
    operator's offer, above). The offer is the phone's own channel; the
    party a transfer moves is the line's. A second try of the same call
    (the routes fail over) moves the offer to the new line's channel."""
    chan, dest = e.get("Channel") or "", e.get("DestChannel") or ""
    if not chan.startswith(("PJSIP/", "DAHDI/")) or not dest or dest.startswith("Local/"):
        return
    extension = devices.extension_of(db, chan)
    if not extension or not _is_operator(db, extension):
        return
    if dest.startswith(("PJSIP/", "DAHDI/")) and _is_operator(db, devices.extension_of(db, dest)):
        return
    uniqueid, linkedid = e.get("Uniqueid"), e.get("Linkedid") or e.get("Uniqueid")
    # the number as the operator dialled it, which the call history has from
    # the call's VarSet already; else as the line was sent it
    row = db.execute("SELECT out_dialled FROM calls WHERE uniqueid = ?", [linkedid]).fetchone()
    number = only(dn.ANI_ALLOWED, row[0] if row else "") or dialled_number(e.get("DialString"))
    if not uniqueid or not number:
        return
    ts = e.get("Timestamp")
    db.execute(
        "INSERT INTO offers (uniqueid, linkedid, extension, ani, grp, channel, dest_channel, at, state) "
        "VALUES (?, ?, ?, ?, '', ?, ?, ?, 'ringing') ON CONFLICT(uniqueid) DO UPDATE SET channel = excluded.channel, "
        "ani = CASE offers.ani WHEN '' THEN excluded.ani ELSE offers.ani END",
        [uniqueid, linkedid, extension, number, dest, chan,
         iso(ts) if ts else clock.stamp(timespec="milliseconds")])


def _callback_leg(db, e: dict) -> None:
    """The callback dialer originates the operator's leg with its attempt's
    uniqueid (and the order in VAR_CALLBACK_ORDER): no DialBegin or
    AgentCalled comes for it, so its Newchannel (or the variable being set)
    is the offer. It joins the session of the call the order came from, so
    that call's IVR path and notes continue."""
    if e.get("Event") == "VarSet" and e.get("Variable") != dn.VAR_CALLBACK_ORDER:
        return
    channel = e.get("Channel") or ""
    # an IP phone's PJSIP/<ext>-..., or an FXS port's DAHDI/<n>-... (appliance.callbacks.service.originate_action)
    extension = devices.extension_of(db, channel) if channel.startswith(("PJSIP/", "DAHDI/")) else None
    uniqueid = e.get("Uniqueid")
    if not extension or not uniqueid or not _is_operator(db, extension):
        return
    row = db.execute("SELECT c.id, c.number, c.grp, c.uniqueid FROM callback_attempts a "
                     "JOIN callbacks c ON c.id = a.callback_id WHERE a.uniqueid = ?", [uniqueid]).fetchone()
    if row is None:
        return
    ts = e.get("Timestamp")
    db.execute(
        "INSERT INTO offers (uniqueid, linkedid, extension, ani, grp, channel, dest_channel, at, state) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'ringing') ON CONFLICT(uniqueid) DO NOTHING",
        [uniqueid, row[3] or uniqueid, extension, only(dn.ANI_ALLOWED, row[1]), row[2] or "", channel, channel,
         iso(ts) if ts else clock.stamp(timespec="milliseconds")])


def _attended_done(db, e: dict) -> None:
    """An attended transfer completed: the caller (transferee) now talks to
    the target, whose offer was placed by a Local channel that is gone; the
    caller's own channel is what a later transfer must move."""
    transferee = e.get("TransfereeChannel") or ""
    linkedid = e.get("TransfereeLinkedid") or ""
    if transferee and linkedid:
        db.execute("UPDATE offers SET channel = ? WHERE linkedid = ? AND channel LIKE 'Local/%' "
                   "AND state IN ('ringing', 'answered')", [transferee, linkedid])


# --- following offers (the SSE stream) ------------------------------------------

def last_offer_id(db, extension: str) -> int:
    row = db.execute("SELECT MAX(id) FROM offers WHERE extension = ?", [extension]).fetchone()
    return row[0] or 0


def offers_after(db, extension: str, after_id: int) -> list[dict]:
    return [{"id": r[0], "linkedid": r[1], "ani": r[2], "group": r[3], "at": r[4], "state": r[5]}
            for r in db.execute("SELECT id, linkedid, ani, grp, at, state FROM offers "
                                "WHERE extension = ? AND id > ? ORDER BY id", [extension, after_id])]


def latest_offer(db, extension: str) -> dict | None:
    """The last call offered to the operator's phone, whatever its state."""
    r = db.execute("SELECT id, linkedid, state FROM offers WHERE extension = ? ORDER BY id DESC LIMIT 1",
                   [extension]).fetchone()
    return {"id": r[0], "linkedid": r[1], "state": r[2]} if r else None


def current_offer(db, extension: str) -> dict | None:
    """The call ringing or in progress on the operator's phone, if any."""
    r = db.execute("SELECT id, linkedid, ani, grp, at, state FROM offers WHERE extension = ? "
                   "AND state IN ('ringing', 'answered') ORDER BY id DESC LIMIT 1", [extension]).fetchone()
    return {"id": r[0], "linkedid": r[1], "ani": r[2], "group": r[3], "at": r[4], "state": r[5]} if r else None


# --- who may see a session ----------------------------------------------------------

def extension_of(db, user) -> str | None:
    if user is None or user.operator_id is None:
        return None
    row = db.execute("SELECT extension FROM operators WHERE id = ?", [user.operator_id]).fetchone()
    return row[0] if row else None


def can_read(db, user, linkedid: str) -> bool:
    if user.role in ("admin", "supervisor"):
        return True
    return user.role == "operator" and was_offered(db, linkedid, extension_of(db, user))


def was_offered(db, linkedid: str, extension: str | None) -> bool:
    return bool(extension) and db.execute(
        "SELECT 1 FROM offers WHERE linkedid = ? AND extension = ?", [linkedid, extension]).fetchone() is not None


# --- the session of a call -------------------------------------------------------------

def session(db, linkedid: str, extension: str | None = None) -> dict | None:
    """Everything the desktop shows about the call *linkedid*; for the
    operator *extension*, of the caller's earlier calls only those offered
    to that operator (supervisors and admins, None, see them all)."""
    call = db.execute("SELECT ani, dnis, grp, started_at, connected_at, ended_at, operator, outcome, direction "
                      "FROM calls WHERE uniqueid = ?", [linkedid]).fetchone()
    rows = db.execute("SELECT extension, at, state, ani, grp, uniqueid FROM offers WHERE linkedid = ? ORDER BY id",
                      [linkedid]).fetchall()
    offers = [{"extension": r[0], "at": r[1], "state": r[2], "ani": r[3], "group": r[4]} for r in rows]
    if call is None and not offers:
        return None
    # a call placed out (an operator's phone began it, or the dialer): its
    # "ani" is the number called, the other party, whose card the desktop shows
    outbound = (bool(rows) and rows[0][5] == linkedid) or (bool(call) and call[8] == "outbound")
    ani = (call[0] if call else "") or (offers[0]["ani"] if offers else "")
    group = (call[2] if call else "") or next((o["group"] for o in reversed(offers) if o["group"]), "")
    steps = [json.loads(r[0]) for r in db.execute(
        "SELECT step FROM call_steps WHERE uniqueid = ? ORDER BY seq", [linkedid])]
    client = clients.find_by_number(db, ani) if ani else None
    crm_url = None
    if group:
        crm_url = clients.screen_pop_url(db, group, {
            "ani": ani, "dnis": (call[1] if call else "") or "", "uniqueid": linkedid, "linkedid": linkedid,
            "operator": offers[-1]["extension"] if offers else "", "client_id": client["id"] if client else None})
    return {
        "linkedid": linkedid, "ani": ani, "dnis": (call[1] if call else "") or "", "group": group,
        "started_at": call[3] if call else (offers[0]["at"] if offers else None),
        "path": readable_path(steps), "offers": offers,
        "notes": notes(db, linkedid), "edits": edits(db, linkedid),
        "client": client, "crm_url": crm_url, "history": history(db, ani, linkedid, extension=extension),
        "crm": True, "callback": callback_of(db, linkedid), "outbound": outbound,
    }


def callback_of(db, linkedid: str) -> dict | None:
    """The callback order the dialer is placing (or last placed) in this
    session, if the call is one: its number, slot and group."""
    r = db.execute("SELECT c.id, c.number, c.grp, c.asap, c.slot_from, c.slot_until, c.status, c.tries, c.uniqueid "
                   "FROM offers o JOIN callback_attempts a ON a.uniqueid = o.uniqueid "
                   "JOIN callbacks c ON c.id = a.callback_id WHERE o.linkedid = ? ORDER BY o.id DESC LIMIT 1",
                   [linkedid]).fetchone()
    if r is None:
        return None
    return {"order": r[0], "number": r[1], "group": r[2], "asap": bool(r[3]), "slot_from": r[4],
            "slot_until": r[5], "status": r[6], "tries": r[7], "from_call": r[8] or None}


def history(db, ani: str, linkedid: str, limit: int = 20, extension: str | None = None) -> list[dict]:
    """The caller's earlier calls with their notes, newest first; with
    *extension* only the calls that operator took part in."""
    if not ani:
        return []
    own, args = ("", []) if extension is None else (f" AND {clients.TOOK_PART}", [extension] * 3)
    rows = db.execute("SELECT uniqueid, started_at, operator, grp, outcome FROM calls "
                      f"WHERE ani = ? AND uniqueid != ?{own} ORDER BY started_at DESC LIMIT ?",
                      [ani, linkedid, *args, limit]).fetchall()
    return [{"linkedid": r[0], "started_at": r[1], "operator": r[2], "group": r[3], "outcome": r[4],
             "notes": notes(db, r[0])} for r in rows]


def notes(db, linkedid: str) -> list[dict]:
    return [{"author": r[0], "extension": r[1], "text": r[2], "updated_at": r[3]} for r in db.execute(
        "SELECT author, extension, text, updated_at FROM session_notes WHERE linkedid = ? AND text != '' "
        "ORDER BY id", [linkedid])]


def edits(db, linkedid: str) -> list[dict]:
    return [{"author": r[0], "at": r[1], "what": r[2], "details": json.loads(r[3])} for r in db.execute(
        "SELECT author, at, what, details FROM session_edits WHERE linkedid = ? ORDER BY id", [linkedid])]


def save_note(db, linkedid: str, author: str, extension: str, text) -> str:
    """Store *author*'s note on the session (one per author, replaced as typed)."""
    if not isinstance(text, str):
        raise ConfigError("text", "the note must be text")
    if len(text) > MAX_NOTE:
        raise ConfigError("text", "the note is longer than {limit} characters", limit=MAX_NOTE)
    at = clock.stamp(timespec="milliseconds")
    db.execute("INSERT INTO session_notes (linkedid, author, extension, text, updated_at) VALUES (?, ?, ?, ?, ?) "
               "ON CONFLICT(linkedid, author) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at",
               [linkedid, author, extension or "", text, at])
    return at


def record_edit(db, linkedid: str, author: str, what: str, details: dict) -> None:
    db.execute("INSERT INTO session_edits (linkedid, author, at, what, details) VALUES (?, ?, ?, ?, ?)",
               [linkedid, author, clock.stamp(timespec="milliseconds"), what, json.dumps(details, ensure_ascii=False)])


def session_clients(db, linkedid: str) -> set[int]:
    """The cards an operator may change in this session: the caller's (by
    the call's number) and any card created during the call."""
    s = session(db, linkedid) or {}
    ids = {s["client"]["id"]} if s.get("client") else set()
    ids |= {e["details"].get("client_id") for e in s.get("edits", []) if e["what"] == "client created"}
    return ids


def save_client(db, linkedid: str, data: dict, author: str) -> dict:
    """Create or change the caller's card through the CRM, and record in the
    session what changed. Only the call's own card may change, and not its
    VIP mark or personal operator (the desktop is the operator's)."""
    if not isinstance(data, dict):
        raise ConfigError("client", "the card must be an object")
    old = clients.get(db, data["id"]) if data.get("id") else None
    if data.get("id") and (old is None or old["id"] not in session_clients(db, linkedid)):
        raise ConfigError("id", "no such client")
    with db.atomic():
        client_id = clients.save(db, data, by=author, routing=False)
        new = clients.get(db, client_id)
        changes = {k: [None if old is None else old.get(k), new.get(k)] for k in new
                   if k not in ("id", "created_at", "updated_at") and (old or {}).get(k) != new.get(k)}
        if changes:
            record_edit(db, linkedid, author, "client created" if old is None else "client changed",
                        {"client_id": client_id, "changes": changes})
    return new


# --- today's figures ------------------------------------------------------------------

def _parse(ts: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(ts) if ts else None
    except ValueError:
        return None


def today_figures(db, extension: str, now: datetime | None = None) -> dict:
    """Calls the operator answered since local midnight, talk time and
    average handle time (seconds)."""
    now = now or callbacks.now_here(db)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    since = midnight.astimezone(UTC).isoformat(timespec="milliseconds")
    talk = []
    for connected, ended in db.execute(
            "SELECT connected_at, ended_at FROM calls WHERE operator = ? AND connected_at >= ?",
            [extension, since]):
        a, b = _parse(connected), _parse(ended)
        talk.append(max(0.0, (b - a).total_seconds()) if a and b else 0.0)
    total = round(sum(talk))
    return {"answered": len(talk), "talk_seconds": total,
            "average_seconds": round(total / len(talk)) if talk else 0}


# --- numbers: what an operator may call or transfer to ---------------------------------

# What the operators' context (korund-operators) dials: 2 to 20 digits, or
# + and 7 to 15 digits (appliance.render.dialplan, one pattern per length).
CALLABLE = re.compile(r"^(\+[0-9]{7,15}|[0-9]{2,20})$")
# What people write between the digits of a number.
SEPARATORS = re.compile(r"[\s().-]")


def typed_number(text, field: str = "number") -> str:
    """The number as dialled from what an operator typed or clicked
    ('8 (916) 123-45-67' -> '89161234567'); ConfigError if it is not one."""
    raw = text.strip() if isinstance(text, str) else ""
    number = SEPARATORS.sub("", raw)
    if not CALLABLE.fullmatch(number):
        raise ConfigError(field, "'{number}' is not a number to call: 2 to 20 digits, or + and 7 to 15 digits",
                          number=raw[:40])
    return number


def _enabled_operator(db, extension: str) -> bool:
    return db.execute("SELECT 1 FROM operators WHERE extension = ? AND enabled = 1", [extension]).fetchone() is not None


def _plan_refusal(db, plan, number: str, extension: str, field: str) -> ConfigError:
    """The routes' refusal as a ConfigError whose message the panel translates."""
    if plan.refused in policy.MESSAGES:
        return ConfigError(field, policy.MESSAGES[plan.refused], number=number)
    if plan.refused in routes.REFUSALS:
        return ConfigError(field, routes.REFUSALS[plan.refused], number=number, route=plan.route,
                           operator=extension, cls=routes.operator_class(db, extension) or "")
    return ConfigError(field, "{number}: {reason}", number=number, reason=plan.message or plan.refused)


def outside_number(db, number: str, extension: str, author: str, what: str, field: str = "number",
                   purposes: tuple[str, ...] = ("operator",)) -> str:
    """*number* as dialled if operator *extension* may have it dialled out
    for each of *purposes*: the outbound policy, then the routes
    (appliance.outbound.routes.plan: for purpose 'operator' the operator's
    class of service, then a route with a trunk group that can take it). A
    refusal is written to the audit log, as the phone's are, and raised as
    a ConfigError on *field* whose message the panel translates."""
    by = f"desktop {author}"
    for purpose in purposes:
        decision = policy.check(db, number, purpose, extension)
        if not decision.allowed:
            with db.atomic():
                policy.record_refusal(db, decision, extension, by, what)
            raise policy.Refused(decision, field)
        plan = routes.plan(db, decision.number, purpose, operator=extension if purpose == "operator" else "")
        if plan.refused:
            with db.atomic():
                outbound_store.record_refusal(db, {"number": plan.number, "purpose": purpose, "reason": plan.refused,
                                                   "message": plan.message}, extension, by, what)
            raise _plan_refusal(db, plan, decision.number, extension, field)
        number = decision.number
    return number


def resolve_target(db, target) -> tuple[str, str]:
    """('operator', extension), ('group', name) or ('number', number as
    dialled) for what the operator typed. Any extension of the appliance is
    an operator's (groups have no extension: their numbers are the DNIS
    the carrier sends); anything else made of digits is an outside number."""
    target = (target or "").strip() if isinstance(target, str) else ""
    if EXTENSION.fullmatch(target) and _is_operator(db, target):
        return "operator", target
    if GROUP_NAME.fullmatch(target) and db.execute("SELECT 1 FROM groups WHERE name = ?", [target]).fetchone():
        return "group", target
    number = SEPARATORS.sub("", target)
    if CALLABLE.fullmatch(number):
        return "number", number
    raise ConfigError("target", "'{value}' is neither an operator's extension, a group nor a number to call",
                      value=target)


# --- calling out from the desktop -------------------------------------------------------

# The operator's own phone rings this long first (then the number is dialled).
CALL_RING_SECONDS = 30
# A caller name for a phone's display: letters, digits, spaces and a few marks
# (no quote, comma or bracket could reach AMI's or SIP's syntax).
DISPLAY_NAME = re.compile(r"[^\w .-]+")


def phone_of(db, extension: str) -> str:
    """Operator *extension*'s phone as Asterisk dials it: 'PJSIP/<ext>' or an
    FXS port 'DAHDI/<n>' (appliance.operators.devices)."""
    row = db.execute("SELECT device, enabled FROM operators WHERE extension = ?", [extension]).fetchone()
    if row is None:
        raise ConfigError("number", "no operator with extension {extension}", extension=extension)
    if not row[1]:
        raise ConfigError("number", "operator {extension} is disabled: their phone cannot place calls",
                          extension=extension)
    return row[0] or f"PJSIP/{extension}"


def _getvar(mgr, name: str) -> str:
    try:
        resp = mgr.send_action({"Action": "Getvar", "Variable": name})
    except Exception:   # noqa: BLE001 - an AMI hiccup: the originate itself will tell
        return ""
    return (resp.get_header("Value") or "") if _ok(resp) else ""


def call_target(db, number, extension: str, author: str) -> tuple[str, str]:
    """('operator', extension) for a colleague's extension, ('number', the
    number as dialled) for an outside number operator *extension* may call;
    ConfigError otherwise (a refused outside number is audited)."""
    phone_of(db, extension)   # a disabled operator's phone places no calls
    number = typed_number(number)
    if EXTENSION.fullmatch(number) and _is_operator(db, number):
        if number == extension:
            raise ConfigError("number", "{number} is your own phone", number=number)
        if not _enabled_operator(db, number):
            raise ConfigError("number", "operator {extension} is disabled", extension=number)
        return "operator", number
    return "number", outside_number(db, number, extension, author, "desktop call")


def call_out(db, mgr, extension: str, checked: tuple[str, str]) -> dict:
    """Click-to-call: operator *extension*'s own phone rings first (an AMI
    Originate of the phone into the operators' context with the number as
    the extension, the number on the phone's display), and once it is
    picked up the number is dialled exactly as if the operator had dialled
    it there -- the outbound policy, the class of service and the routes
    apply again. *checked* is :func:`call_target`'s answer (a number the
    operator may not call never gets here); refused before anything rings:
    a phone on a call or not reachable."""
    what, target = checked
    phone = phone_of(db, extension)
    if current_offer(db, extension) or _getvar(mgr, f"CHANNELS(^{phone}-)").strip():
        raise ConfigError("number", "your phone is on a call: finish it first")
    if _getvar(mgr, f"DEVICE_STATE({phone})").upper() in ("UNAVAILABLE", "INVALID"):
        raise ConfigError("number", "your phone ({phone}) is not reachable: is it plugged in and registered?",
                          phone=phone)
    client = clients.find_by_number(db, target) if what == "number" else None
    name = " ".join(DISPLAY_NAME.sub(" ", client["name"]).split())[:40] if client else ""
    uniqueid = f"korund-dc-{extension}-{secrets.token_hex(6)}"
    # The phone shows the number (and the client's name) as the call's other
    # party: the connected line, set without a protocol message ('i') before
    # the phone is called; the phone's own caller ID stays its own, so the
    # line presents what it presents on any call the operator dials.
    shown = {"CONNECTEDLINE(num,i)": target, "CONNECTEDLINE(name,i)": name or target}
    # The operator may transfer the call once it is connected: Asterisk's
    # attended transfer (the desktop's, AMI Atxfer) works only for a party
    # the bridge gives the transfer feature, as Dial's T would.
    shown["BRIDGE_FEATURES"] = "T"
    resp = mgr.send_action({
        "Action": "Originate", "Channel": phone, "Context": dn.CTX_OPERATORS, "Exten": target, "Priority": "1",
        "Async": "true", "Timeout": str(CALL_RING_SECONDS * 1000), "ChannelId": uniqueid, "ActionID": uniqueid,
        "Variable": [f"{k}={v}" for k, v in shown.items()]})
    if not _ok(resp):
        raise ConfigError("number", "Asterisk refused the call: {reason}",
                          reason=(resp.get_header("Message") if resp else "") or "no answer")
    return {"number": target, "to": what, "phone": phone, "linkedid": uniqueid, "client_id": client["id"] if client else None,
            "ring_seconds": CALL_RING_SECONDS}


# --- transfer and callback -------------------------------------------------------------

def live_offer(db, linkedid: str, extension: str | None = None) -> dict | None:
    sql = ("SELECT channel, dest_channel, extension, state FROM offers WHERE linkedid = ? "
           "AND state IN ('ringing', 'answered')")
    args = [linkedid]
    if extension:
        sql += " AND extension = ?"
        args.append(extension)
    r = db.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
    return {"channel": r[0], "dest_channel": r[1], "extension": r[2], "state": r[3]} if r else None


ATXFER = re.compile(r"^\s*atxfer\s*=>?\s*\S", re.MULTILINE)


def attended_available(etc) -> bool:
    """Asterisk's Atxfer needs an attended-transfer feature code in the
    features.conf Asterisk runs (directory *etc*); without one it refuses."""
    try:
        return bool(ATXFER.search((etc / "features.conf").read_text()))
    except OSError:
        return False


CHANNEL = re.compile(r"^[A-Za-z]+/[A-Za-z0-9_.@-]+-[0-9a-f]+(;[12])?$")


def _ok(resp) -> bool:
    return resp is not None and resp.get_header("Response") == "Success"


def keyed(number: str) -> str:
    """An outside number as keys (Asterisk's Atxfer keys the extension in as
    DTMF, which has no +): +7NSN as 8NSN, +<country>... as 810<country>...
    (the Russian numbering plan's forms; appliance.outbound.policy reads
    them as the same number)."""
    if number.startswith("+7") and len(number) == 12:
        return "8" + number[2:]
    return "810" + number[1:] if number.startswith("+") else number


def check_transfer(db, linkedid: str, target, author: str, extension: str | None) -> tuple[str, str]:
    """What a transfer of *linkedid* to *target* goes to, refused before
    Asterisk is asked: an outside number must be one the transferring
    operator may call (the policy, their class of service) and one the
    routes take for a caller sent out of the call center (purpose 'route',
    what the dialplan dials it with)."""
    what, name = resolve_target(db, target)
    if what == "number":
        name = outside_number(db, name, extension or "", author, f"transfer, call {linkedid}", field="target",
                              purposes=("operator", "route"))
    return what, name


def transfer(db, mgr, linkedid: str, kind: str, target, author: str, extension: str | None) -> dict:
    """Move the call to an operator, a group or an outside number. Blind:
    the caller's channel is sent back to the routing context with the target
    set, or to the transfer context that dials the number out
    (appliance.clients.transfer_dialplan); attended: the operator's channel
    consults the target first (Asterisk's Atxfer)."""
    if kind not in TRANSFER_KINDS:
        raise ConfigError("kind", "one of {choices}", choices=", ".join(TRANSFER_KINDS))
    what, name = check_transfer(db, linkedid, target, author, extension)
    offer = live_offer(db, linkedid, extension)
    if offer is None or offer["state"] != "answered":
        raise ConfigError("target", "the call is not in progress on your phone")
    if not CHANNEL.fullmatch(offer["channel"]) or not CHANNEL.fullmatch(offer["dest_channel"]):
        raise ConfigError("target", "the call's channels are not known")
    if kind == "blind":
        steps = [{"Action": "Setvar", "Channel": offer["channel"], "Variable": dn.VAR_TARGET_OPERATOR,
                  "Value": name if what == "operator" else ""}]
        if what == "group":
            steps.append({"Action": "Setvar", "Channel": offer["channel"], "Variable": "__" + dn.VAR_GROUP,
                          "Value": name})
        if what == "number":
            steps.append({"Action": "Setvar", "Channel": offer["channel"], "Variable": dn.VAR_XFER_NUMBER,
                          "Value": name})
        steps.append({"Action": "Redirect", "Channel": offer["channel"],
                      "Context": dn.CTX_TRANSFER_OUT if what == "number" else dn.CTX_ROUTE,
                      "Exten": "s", "Priority": "1"})
    else:
        exten, context = {"operator": (name, "korund-operators-local"),
                          "group": (f"q-{name}", dn.CTX_ROUTE),
                          "number": (keyed(name), dn.CTX_TRANSFER_OUT)}[what]
        steps = [{"Action": "Atxfer", "Channel": offer["dest_channel"], "Exten": exten, "Context": context}]
    for action in steps:
        resp = mgr.send_action(action)
        if not _ok(resp):
            raise ConfigError("target", "Asterisk refused the transfer: {reason}",
                              reason=(resp.get_header("Message") if resp else "") or "no answer")
    record_edit(db, linkedid, author, "consulting" if kind == "attended" else "transferred",
                {"kind": kind, "to": what, "target": name})
    return {"kind": kind, "to": what, "target": name, "consulting": kind == "attended"}


def finish_attended(db, mgr, linkedid: str, how: str, author: str, extension: str | None) -> dict:
    """End the consultation an attended transfer started: *complete* hangs up
    the operator's own leg, which joins the caller to the target (Asterisk
    completes an attended transfer when the transferer leaves); *cancel*
    drops the target and brings the caller back (AMI CancelAtxfer)."""
    if how not in ("complete", "cancel"):
        raise ConfigError("action", "one of {choices}", choices="complete, cancel")
    offer = live_offer(db, linkedid, extension)
    if offer is None or offer["state"] != "answered" or not CHANNEL.fullmatch(offer["dest_channel"]):
        raise ConfigError("action", "the call is not in progress on your phone")
    action = ({"Action": "Hangup", "Channel": offer["dest_channel"], "Cause": "16"} if how == "complete"
              else {"Action": "CancelAtxfer", "Channel": offer["dest_channel"]})
    resp = mgr.send_action(action)
    if not _ok(resp):
        raise ConfigError("action", "Asterisk refused: {reason}",
                          reason=(resp.get_header("Message") if resp else "") or "no answer")
    row = db.execute("SELECT details FROM session_edits WHERE linkedid = ? AND what = 'consulting' "
                     "ORDER BY id DESC LIMIT 1", [linkedid]).fetchone()
    details = json.loads(row[0]) if row else {"kind": "attended"}
    record_edit(db, linkedid, author, "transferred" if how == "complete" else "transfer cancelled", details)
    return {"done": how, "target": details.get("target")}


def order_callback(db, linkedid: str, number, slot, author: str) -> int:
    """A callback order for the caller from the desktop (F3)."""
    s = session(db, linkedid) or {}
    group = s.get("group") or ""
    if not group:
        row = db.execute("SELECT name FROM groups ORDER BY is_default DESC, id LIMIT 1").fetchone()
        group = row[0] if row else ""
    number = (number or "").strip() if isinstance(number, str) else ""
    slot = (slot or "").strip() if isinstance(slot, str) else ""
    start, until = callbacks.when(slot or None, callbacks.now_here(db))
    # the outbound policy first, outside the transaction: a refusal stays in the audit log
    callbacks.check_number(db, number or s.get("ani") or "", s.get("ani") or "", author, f"desktop, call {linkedid}")
    with db.atomic():
        order = callbacks.add(db, group, number or s.get("ani") or "", s.get("ani") or "", linkedid,
                              start, until, asap=not slot, by=author)
        record_edit(db, linkedid, author, "callback ordered",
                    {"order": order, "number": number or s.get("ani"), "slot": slot or None})
    return order


def wait_for_offers(db, extension: str, after_id: int, timeout: float, interval: float = 0.1) -> list[dict]:
    """New offers for *extension* after *after_id*, polling the indexed table
    every *interval* seconds for up to *timeout*."""
    deadline = time.monotonic() + timeout
    while True:
        found = offers_after(db, extension, after_id)
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(interval)

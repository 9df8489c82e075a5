"""The operator's desktop (F8, F9): offers, the call's session, notes.

The ``events`` service calls :func:`on_event` with every AMI event; when a
call is offered to an operator's phone (app_queue's ``AgentCalled``, or a
``DialBegin`` to ``PJSIP/<extension>`` for direct routes and transfers) a
row goes into ``offers``, which the desktop's server-sent-event stream
follows. Everything about a call is keyed by its *linkedid* (the caller's
channel), which stays the same when the call is transferred, so the next
operator sees the same session: the IVR path, every note and card edit.
"""
from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone

from appliance.base import clock, dialplan_names as dn
from appliance.base.errors import EXTENSION, GROUP_NAME, ConfigError
from appliance.callbacks import store as callbacks
from appliance.clients import store as clients
from appliance.history.legs import readable_path
from appliance.history.store import iso, only
from appliance.operators import devices

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
    elif kind == "DialEnd":
        answered = e.get("DialStatus") == "ANSWER"
        db.execute("UPDATE offers SET state = ? WHERE uniqueid = ? AND state = 'ringing'",
                   ["answered" if answered else "missed", e.get("DestUniqueid")])
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
    grp = dn.group_of_queue(e.get("Queue"))
    if not grp:
        row = db.execute("SELECT grp FROM calls WHERE uniqueid = ?", [linkedid]).fetchone()
        grp = (row[0] if row else "") or ""
    ts = e.get("Timestamp")
    db.execute(
        "INSERT INTO offers (uniqueid, linkedid, extension, ani, grp, channel, dest_channel, at, state) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'ringing') ON CONFLICT(uniqueid) DO UPDATE SET "
        "grp = CASE WHEN excluded.grp != '' THEN excluded.grp ELSE offers.grp END",
        [e["DestUniqueid"], linkedid, extension, only(dn.ANI_ALLOWED, e.get("CallerIDNum")), grp,
         e.get("Channel") or "", dest, iso(ts) if ts else clock.stamp(timespec="milliseconds")])


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
    call = db.execute("SELECT ani, dnis, grp, started_at, connected_at, ended_at, operator, outcome "
                      "FROM calls WHERE uniqueid = ?", [linkedid]).fetchone()
    offers = [{"extension": r[0], "at": r[1], "state": r[2], "ani": r[3], "group": r[4]} for r in db.execute(
        "SELECT extension, at, state, ani, grp FROM offers WHERE linkedid = ? ORDER BY id", [linkedid])]
    if call is None and not offers:
        return None
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
        "crm": True, "callback": callback_of(db, linkedid),
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
    since = midnight.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    talk = []
    for connected, ended in db.execute(
            "SELECT connected_at, ended_at FROM calls WHERE operator = ? AND connected_at >= ?",
            [extension, since]):
        a, b = _parse(connected), _parse(ended)
        talk.append(max(0.0, (b - a).total_seconds()) if a and b else 0.0)
    total = round(sum(talk))
    return {"answered": len(talk), "talk_seconds": total,
            "average_seconds": round(total / len(talk)) if talk else 0}


# --- transfer and callback -------------------------------------------------------------

def resolve_target(db, target) -> tuple[str, str]:
    """('operator', extension) or ('group', name) for what the operator typed."""
    target = (target or "").strip() if isinstance(target, str) else ""
    if EXTENSION.fullmatch(target) and _is_operator(db, target):
        return "operator", target
    if GROUP_NAME.fullmatch(target) and db.execute("SELECT 1 FROM groups WHERE name = ?", [target]).fetchone():
        return "group", target
    raise ConfigError("target", "'{value}' is neither an operator's extension nor a group", value=target)


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


def transfer(db, mgr, linkedid: str, kind: str, target, author: str, extension: str | None) -> dict:
    """Move the call to an operator or a group. Blind: the caller's channel
    is sent back to the routing context with the target set; attended: the
    operator's channel consults the target first (Asterisk's Atxfer)."""
    if kind not in TRANSFER_KINDS:
        raise ConfigError("kind", "one of {choices}", choices=", ".join(TRANSFER_KINDS))
    what, name = resolve_target(db, target)
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
        steps.append({"Action": "Redirect", "Channel": offer["channel"], "Context": dn.CTX_ROUTE,
                      "Exten": "s", "Priority": "1"})
    else:
        exten, context = (name, "korund-operators-local") if what == "operator" else (f"q-{name}", dn.CTX_ROUTE)
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

"""Call history: one row per call (inbound, and outbound for the callback
dialer's calls) with its legs in order (appliance.history.legs), built from AMI
events.

``CallHistory.handle(event)`` takes one AMI event as a dict of headers and
updates the store. Each event is applied on its own, in one transaction (no
state kept between events, all of it is in the database), so a restarted
consumer carries on with calls already in progress. What was missed while
the consumer was down is rebuilt from Asterisk's own logs: ``catch_up_cel``
reads the channel events (CEL) of calls that have ended and writes their
legs under the same keys the live events use; ``catch_up`` completes rows
from the CDR log Asterisk appends to as calls end.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import re
import time
from datetime import datetime, timezone
from pathlib import Path

from appliance.base import dialplan_names as dn, store
from appliance.history import legs, log_rotation
from appliance.operators import devices

log = logging.getLogger("korund.events")

TRACKED_VARS = {
    dn.VAR_ANI: "ani", dn.VAR_DNIS: "dnis", dn.VAR_TRUNK: "trunk",
    dn.VAR_GROUP: "grp", dn.VAR_ROUTE_SOURCE: "route_source",
    dn.VAR_SPAN: "span", dn.VAR_DAHDI_CHANNEL: "dahdi_channel",
    dn.VAR_CALLER_CATEGORY: "caller_category",   # MFC/R2 calls only
}
# What a call out leaves on the caller's leg (appliance.outbound.render), and
# the span and circuit its outgoing leg set: kept on the call's row whatever
# its direction, by the call's linkedid.
OUT_VARS = {
    dn.VAR_OUT_PURPOSE: "out_purpose", dn.VAR_OUT_ROUTE: "out_route", dn.VAR_OUT_TRUNK_GROUP: "out_trunk_group",
    dn.VAR_OUT_DIALLED: "out_dialled", dn.VAR_OUT_SENT_AS: "out_sent", dn.VAR_OUT_CAUSE: "out_cause",
    dn.VAR_OUT_STATUS: "out_status", dn.VAR_OUT_SPAN: "out_span", dn.VAR_OUT_CIRCUIT: "out_circuit",
}
_OUT_ALLOWED = {"out_purpose": "a-z-", "out_route": "a-z0-9_-", "out_trunk_group": "a-z0-9_-",
                "out_dialled": "0-9+", "out_sent": "0-9+", "out_cause": "0-9", "out_status": "A-Z",
                "out_span": "0-9", "out_circuit": "0-9"}
_OUT_INTS = ("out_cause", "out_span", "out_circuit")
# Calls out that are a call of their own (a row, direction 'outbound'): an
# operator's and a technician's test dial. The callback dialer's rows come
# from its attempts; a scenario's or a transfer's number is a leg of the call.
OWN_CALL_PURPOSES = ("operator", "test")
CDR_FIELDS = ["uniqueid", "linkedid", "src", "dst", "channel", "dstchannel",
              "start", "answer", "end", "disposition", "dcontext",
              "korund_dnis", "korund_group", "korund_route"]
# Positions are "INODE:OFFSET" (appliance/history/log_rotation.py): they survive a rotation.
CDR_OFFSET = "events.cdr_offset"   # how far into the CDR log catch_up has read
CEL_FIELDS = ["eventtype", "eventtime", "cidnum", "exten", "context", "channel", "appname", "appdata",
              "uniqueid", "linkedid", "peer", "extra"]
CEL_OFFSET = "events.cel_offset"   # where catch_up_cel reads from: the first line of a call still up
CEL_SEEN = "events.cel_seen"       # how far it has read: calls that ended before were applied


def iso(ts: float | str | None) -> str | None:
    if ts in (None, ""):
        return None
    return datetime.fromtimestamp(float(ts), timezone.utc).isoformat(timespec="milliseconds")


def only(allowed: str, value: str | None) -> str:
    return re.sub(f"[^{allowed}]", "", value or "")


def endpoint_of(channel: str | None) -> str | None:
    """'PJSIP/1001-0000002a' -> '1001'."""
    m = re.fullmatch(r"^[A-Za-z]+/(.+)-[0-9a-f]+$", channel or "")
    return m.group(1) if m else None


def party_of(channel: str | None) -> str | None:
    """Who a channel reaches: its endpoint, or for a Local channel
    ('Local/1002@korund-operators-local-0000;1') the extension it dials."""
    m = re.match(r"^Local/([^@]+)@", channel or "")
    return m.group(1) if m else endpoint_of(channel)


def handled_events() -> frozenset[str]:
    """The AMI events CallHistory.handle acts on (its on_* methods); of
    VarSet only TRACKED_VARS, of Newexten only the AGI's."""
    return frozenset(name[3:] for name in dir(CallHistory) if name.startswith("on_"))


class CallHistory:
    def __init__(self, db, clock=time.time):
        self.db = db
        self.clock = clock

    def _ts(self, event: dict) -> str:
        return iso(event.get("Timestamp") or self.clock())

    def handle(self, event: dict) -> None:
        kind = event.get("Event")
        fn = getattr(self, f"on_{kind}", None) if kind else None
        if kind == "VarSet" and (event.get("Variable") or "").lstrip("_") not in TRACKED_VARS \
                and (event.get("Variable") or "").lstrip("_") not in OUT_VARS:
            return   # the bulk of a call's events: nothing to write, no transaction
        if kind == "Newexten" and event.get("Application") != "AGI":
            return
        if fn:
            with self.db.atomic():   # all of an event's writes, or none (a crash mid-way)
                fn(event)

    # --- whose call is it ------------------------------------------------------

    def _call(self, linkedid: str | None):
        """(direction, ended_at) of the call *linkedid*, or None."""
        if not linkedid:
            return None
        return self.db.execute("SELECT direction, ended_at FROM calls WHERE uniqueid = ?", [linkedid]).fetchone()

    def _operator_of(self, channel: str | None) -> str | None:
        """The extension of an operator's channel: an IP phone's PJSIP/<ext>-...,
        or an analog phone's FXS port DAHDI/<n>-... (appliance.operators.devices)."""
        return devices.extension_of(self.db, channel) or endpoint_of(channel)

    def _is_operator(self, extension: str | None) -> bool:
        return bool(extension) and self.db.execute(
            "SELECT 1 FROM operators WHERE extension = ?", [extension]).fetchone() is not None

    # --- the steps of a call: the live events and the CEL catch-up both write
    # through these, so a call rebuilt from the logs has the legs it would
    # have had live ---------------------------------------------------------------

    def _inbound(self, linkedid: str, channel: str | None, ani: str, dnis: str, ts: str) -> None:
        trunk = endpoint_of(channel)
        self.db.execute(
            "INSERT INTO calls (uniqueid, linkedid, direction, ani, dnis, trunk, started_at) "
            "VALUES (?, ?, 'inbound', ?, ?, ?, ?) ON CONFLICT(uniqueid) DO NOTHING",
            [linkedid, linkedid, ani, dnis, trunk, ts])
        legs.put(self.db, linkedid, "trunk", "trunk", ts, party=trunk or "",
                 detail={"direction": "in", "channel": channel or "", "ani": ani, "dnis": dnis})

    def _ivr_started(self, linkedid: str, ts: str) -> None:
        legs.put(self.db, linkedid, "ivr", "ivr", ts)

    def _queue_joined(self, linkedid: str, uid: str, queue: str, ts: str) -> None:
        legs.put(self.db, linkedid, f"queue:{uid}:{queue}", "queue", ts,
                 party=dn.group_of_queue(queue), detail={"queue": queue})
        self.db.execute("UPDATE call_legs SET ended_at = ? WHERE linkedid = ? AND kind = 'ivr' AND ended_at IS NULL",
                        [ts, linkedid])
        self.db.execute("UPDATE calls SET queued_at = COALESCE(queued_at, ?) WHERE uniqueid = ?", [ts, linkedid])

    def _operator_offered(self, linkedid: str, uid: str, extension: str, ts: str, queue: str = "") -> None:
        legs.put(self.db, linkedid, f"offer:{uid}", "offer", ts, party=extension, detail={"queue": queue})

    def _number_dialled(self, linkedid: str, uid: str, channel: str, number: str, ts: str) -> None:
        """A number outside: the client of a callback, or a scenario's outside target."""
        legs.put(self.db, linkedid, f"dial:{uid}", "trunk", ts, party=endpoint_of(channel) or channel,
                 detail={"direction": "out", "channel": channel, "number": number or self._outbound_number(linkedid)})

    def _transferred(self, linkedid: str, uid: str, kind: str, target: str, by_channel: str | None,
                     ts: str) -> None:
        legs.put(self.db, linkedid, f"transfer:{uid}", "transfer", ts, ended_at=ts,
                 party=only("0-9A-Za-z_+*#-", target), result="done",
                 detail={"kind": kind, "by": endpoint_of(by_channel) or ""})

    def _ended(self, linkedid: str, ts: str, cause: int, cause_text: str, settle: bool = False) -> None:
        """The caller's channel is gone: the call's row and its hangup leg.
        With *settle* (the logs' last word on a call) the outcome is worked
        out again even if the end was already known, since the logs may just
        have told that an operator answered."""
        self.db.execute(
            "UPDATE calls SET ended_at = COALESCE(ended_at, ?), hangup_cause = COALESCE(hangup_cause, ?), "
            "outcome = CASE WHEN connected_at IS NOT NULL THEN 'answered' ELSE 'abandoned' END "
            "WHERE uniqueid = ? AND (ended_at IS NULL OR ?)", [ts, cause, linkedid, int(settle)])
        legs.put(self.db, linkedid, "hangup", "hangup", ts, detail={"cause": cause, "cause_text": cause_text})

    # --- the call and its trunk leg ------------------------------------------------

    def on_Newchannel(self, e: dict) -> None:
        if e.get("Uniqueid") != e.get("Linkedid"):
            return
        if e.get("Context") == dn.CTX_INBOUND:
            self._inbound(e["Uniqueid"], e.get("Channel"), only(dn.ANI_ALLOWED, e.get("CallerIDNum")),
                          only(dn.DNIS_ALLOWED, e.get("Exten")), self._ts(e))
        else:
            self._outbound(e["Uniqueid"], e.get("Channel"), self._ts(e))

    def _outbound(self, uniqueid: str, channel: str | None, ts: str) -> None:
        """The callback dialer's call: it originates the operator's leg with
        the attempt's uniqueid, then dials the client from it."""
        row = self.db.execute(
            "SELECT c.number, c.grp, a.operator FROM callback_attempts a JOIN callbacks c ON c.id = a.callback_id "
            "WHERE a.uniqueid = ?", [uniqueid]).fetchone()
        if row is None:
            return
        operator = devices.extension_of(self.db, channel) or row[2]   # an IP phone's or an FXS port's
        self.db.execute(
            "INSERT INTO calls (uniqueid, linkedid, direction, ani, dnis, grp, operator, started_at) "
            "VALUES (?, ?, 'outbound', ?, '', ?, ?, ?) ON CONFLICT(uniqueid) DO NOTHING",
            [uniqueid, uniqueid, only(dn.ANI_ALLOWED, row[0]), row[1] or None, operator, ts])
        legs.put(self.db, uniqueid, f"offer:{uniqueid}", "offer", ts, party=operator or "",
                 detail={"callback": True})

    def on_VarSet(self, e: dict) -> None:
        name = (e.get("Variable") or "").lstrip("_")
        if name in OUT_VARS:
            self._call_out(e, OUT_VARS[name])
            return
        column = TRACKED_VARS.get(name)
        if column and e.get("Uniqueid") == e.get("Linkedid"):
            self.db.execute(f"UPDATE calls SET {column} = ? WHERE uniqueid = ? AND direction = 'inbound'",
                            [e.get("Value"), e.get("Uniqueid")])

    def _call_out(self, e: dict, column: str) -> None:
        linkedid, ts = e.get("Linkedid") or "", self._ts(e)
        value = only(_OUT_ALLOWED[column], e.get("Value"))[:40]
        if column == "out_purpose" and value in OWN_CALL_PURPOSES and linkedid and not self._call(linkedid):
            operator = self._operator_of(e.get("Channel")) if value == "operator" else None
            self.db.execute(
                "INSERT INTO calls (uniqueid, linkedid, direction, ani, dnis, operator, started_at) "
                "VALUES (?, ?, 'outbound', '', '', ?, ?) ON CONFLICT(uniqueid) DO NOTHING",
                [linkedid, linkedid, operator if self._is_operator(operator) else None, ts])
        if column in _OUT_INTS:
            value = int(value) if value else None
        self.db.execute(f"UPDATE calls SET {column} = ? WHERE uniqueid = ?", [value, linkedid])
        if column == "out_dialled" and value:   # the client of an outbound call is the number dialled
            self.db.execute("UPDATE calls SET ani = ? WHERE uniqueid = ? AND direction = 'outbound' "
                            "AND COALESCE(ani, '') = ''", [value, linkedid])

    def on_Newstate(self, e: dict) -> None:
        if e.get("ChannelState") != "6" or e.get("Uniqueid") != e.get("Linkedid"):
            return
        self.db.execute("UPDATE calls SET answered_at = ? WHERE uniqueid = ? AND answered_at IS NULL",
                        [self._ts(e), e["Uniqueid"]])
        # the callback dialer's operator answered their phone
        legs.end(self.db, e["Uniqueid"], f"offer:{e['Uniqueid']}", self._ts(e), "answered")

    def on_Newexten(self, e: dict) -> None:
        """The IVR starts when the inbound context hands the call to the AGI."""
        if (e.get("Application") == "AGI" and e.get("Context") == dn.CTX_INBOUND
                and e.get("Uniqueid") == e.get("Linkedid") and self._call(e.get("Linkedid"))):
            self._ivr_started(e["Linkedid"], self._ts(e))

    # --- queue, offers, talk -------------------------------------------------------------

    def on_QueueCallerJoin(self, e: dict) -> None:
        linkedid, ts = e.get("Linkedid"), self._ts(e)
        if not self._call(linkedid):
            return
        self._queue_joined(linkedid, e.get("Uniqueid") or "", e.get("Queue") or "", ts)

    def on_QueueCallerAbandon(self, e: dict) -> None:
        legs.end(self.db, e.get("Linkedid") or "", f"queue:{e.get('Uniqueid')}:{e.get('Queue')}",
                 self._ts(e), "abandoned", force_result=True)

    def on_QueueCallerLeave(self, e: dict) -> None:
        legs.end(self.db, e.get("Linkedid") or "", f"queue:{e.get('Uniqueid')}:{e.get('Queue')}",
                 self._ts(e), "left")

    def _offer(self, e: dict, linkedid: str) -> None:
        dest = e.get("DestChannel") or ""
        uid = e.get("DestUniqueid")
        if not uid or dest.startswith("Local/"):
            return
        extension = self._operator_of(dest) if dest.startswith(("PJSIP/", "DAHDI/")) else None
        if self._is_operator(extension):
            self._operator_offered(linkedid, uid, extension, self._ts(e), e.get("Queue") or "")
        else:
            # PJSIP: <number>@<trunk>; DAHDI: <hunting><span>/<PRI letters><number>
            dialled = (e.get("DialString") or "").split("@", 1)[0].rsplit("/", 1)[-1]
            number = only(dn.ANI_ALLOWED, dialled) \
                or only(dn.ANI_ALLOWED, e.get("DestExten"))
            self._number_dialled(linkedid, uid, dest, number, self._ts(e))

    def _outbound_number(self, linkedid: str) -> str:
        row = self.db.execute("SELECT ani FROM calls WHERE uniqueid = ? AND direction = 'outbound'",
                              [linkedid]).fetchone()
        return (row[0] if row else "") or ""

    def on_AgentCalled(self, e: dict) -> None:
        if self._call(e.get("Linkedid")):
            self._offer(e, e["Linkedid"])

    def on_DialBegin(self, e: dict) -> None:
        linkedid = e.get("Linkedid") or e.get("DestLinkedid")
        if self._call(linkedid):
            self._offer(e, linkedid)

    def on_DialEnd(self, e: dict) -> None:
        linkedid = e.get("Linkedid") or e.get("DestLinkedid")
        uid, ts = e.get("DestUniqueid"), self._ts(e)
        if not uid or not self._call(linkedid):
            return
        result = legs.DIAL_RESULTS.get(e.get("DialStatus") or "", (e.get("DialStatus") or "").lower())
        if legs.end(self.db, linkedid, f"offer:{uid}", ts, result, force_result=result == "answered"):
            if result == "answered" and uid != linkedid:   # (the dialer's operator talks once the client answers)
                operator = self._operator_of(e.get("DestChannel")) or ""
                self._talk(linkedid, uid, operator, ts)
                # a call routed straight to an operator (no queue, no AgentConnect)
                self.db.execute("UPDATE calls SET connected_at = ?, operator = ? WHERE uniqueid = ? "
                                "AND connected_at IS NULL AND direction = 'inbound'", [ts, operator, linkedid])
            return
        if result != "answered":
            legs.end(self.db, linkedid, f"dial:{uid}", ts, result)
        elif self.db.execute("UPDATE call_legs SET result = 'answered' WHERE linkedid = ? AND leg_key = ?",
                             [linkedid, f"dial:{uid}"]).rowcount:
            # the client of a callback answered: the call is connected
            self.db.execute("UPDATE calls SET connected_at = COALESCE(connected_at, ?), "
                            "trunk = COALESCE(trunk, ?) WHERE uniqueid = ? AND direction = 'outbound'",
                            [ts, endpoint_of(e.get("DestChannel")), linkedid])
            call = self.db.execute("SELECT operator, direction FROM calls WHERE uniqueid = ?", [linkedid]).fetchone()
            if call and call[0] and call[1] == "outbound":
                self._talk(linkedid, linkedid, call[0], ts)

    def _talk(self, linkedid: str, uid: str, extension: str, ts: str) -> None:
        legs.put(self.db, linkedid, f"talk:{uid}", "operator", ts, party=extension)

    def on_AgentRingNoAnswer(self, e: dict) -> None:
        legs.end(self.db, e.get("Linkedid") or "", f"offer:{e.get('DestUniqueid')}", self._ts(e), "no-answer")

    def on_AgentConnect(self, e: dict) -> None:
        operator = self._operator_of(e.get("DestChannel")) or e.get("MemberName")
        linkedid, ts = e.get("Linkedid"), self._ts(e)
        self.db.execute(
            "UPDATE calls SET connected_at = ?, operator = ?, grp = COALESCE(?, grp) "
            "WHERE uniqueid = ? AND connected_at IS NULL",
            [ts, operator, dn.group_of_queue(e.get("Queue")) or None, linkedid])
        self.db.execute("UPDATE calls SET grp = ? WHERE uniqueid = ? AND grp IS NULL",
                        [dn.group_of_queue(e.get("Queue")) or None, linkedid])
        if not self._call(linkedid):
            return
        uid = e.get("DestUniqueid")
        legs.put(self.db, linkedid, f"offer:{uid}", "offer", ts, ended_at=ts, party=operator or "",
                 result="answered", force_result=True, detail={"queue": e.get("Queue") or ""})
        legs.put(self.db, linkedid, f"queue:{e.get('Uniqueid')}:{e.get('Queue')}", "queue", ts, ended_at=ts,
                 party=dn.group_of_queue(e.get("Queue")), result="answered", force_result=True)
        self._talk(linkedid, uid, operator or "", ts)

    def on_AgentComplete(self, e: dict) -> None:
        linkedid = e.get("Linkedid") or ""
        key = f"talk:{e.get('DestUniqueid')}"
        legs.end(self.db, linkedid, key, self._ts(e))
        reason = e.get("Reason") or ""
        self.db.execute("UPDATE call_legs SET result = ? WHERE linkedid = ? AND leg_key = ? AND result = ''",
                        [reason, linkedid, key])

    # --- holds and transfers ------------------------------------------------------------------

    def on_Hold(self, e: dict) -> None:
        linkedid = e.get("Linkedid")
        if self._call(linkedid):
            ts = self._ts(e)
            key = legs.near_key(self.db, linkedid, f"hold:{e.get('Uniqueid')}:", ts, 0.5) \
                or f"hold:{e.get('Uniqueid')}:{ts}"
            legs.put(self.db, linkedid, key, "hold", ts, party=endpoint_of(e.get("Channel")) or "")

    def on_Unhold(self, e: dict) -> None:
        linkedid = e.get("Linkedid") or ""
        row = self.db.execute("SELECT leg_key FROM call_legs WHERE linkedid = ? AND leg_key LIKE ? "
                              "AND ended_at IS NULL ORDER BY at DESC LIMIT 1",
                              [linkedid, f"hold:{e.get('Uniqueid')}:%"]).fetchone()
        if row:
            legs.end(self.db, linkedid, row[0], self._ts(e))

    def _end_holds(self, linkedid: str, ts: str, uid: str | None = None) -> None:
        """Holds still open end (all of the call's, or those *uid* put on):
        the channel that held is gone, or a transfer joined the caller to
        someone else (Asterisk sends no Unhold then)."""
        self.db.execute("UPDATE call_legs SET ended_at = ? WHERE linkedid = ? AND kind = 'hold' "
                        "AND ended_at IS NULL AND leg_key LIKE ?", [ts, linkedid, f"hold:{uid}:%" if uid else "hold:%"])

    def on_BlindTransfer(self, e: dict) -> None:
        linkedid = e.get("TransfererLinkedid") or e.get("TransfereeLinkedid")
        if e.get("Result") == "Success" and self._call(linkedid):
            self._transferred(linkedid, e.get("TransfererUniqueid") or "", "blind", e.get("Extension") or "",
                              e.get("TransfererChannel"), self._ts(e))

    def on_AttendedTransfer(self, e: dict) -> None:
        linkedid = e.get("OrigTransfererLinkedid") or e.get("TransfereeLinkedid")
        if e.get("Result") == "Success" and self._call(linkedid):
            ts = self._ts(e)
            target = party_of(e.get("TransferTargetChannel")) or e.get("DestExtension") or ""
            self._end_holds(linkedid, ts)
            self._transferred(linkedid, e.get("OrigTransfererUniqueid") or "", "attended", target,
                              e.get("OrigTransfererChannel"), ts)

    # --- the end --------------------------------------------------------------------------------

    def on_HangupRequest(self, e: dict) -> None:
        """A party hung up (a SIP BYE, an on-hook): remember who."""
        linkedid = e.get("Linkedid")
        call = self._call(linkedid)
        if not call or call[1]:
            return
        who = self._who(call[0], e.get("Uniqueid") == linkedid, endpoint_of(e.get("Channel")))
        legs.set_hangup_by(self.db, linkedid, who)

    def _who(self, direction: str, primary: bool, endpoint: str | None) -> str:
        if direction == "outbound":
            return "operator" if primary or self._is_operator(endpoint) else "caller"
        return "caller" if primary else ("operator" if self._is_operator(endpoint) else "system")

    def on_Hangup(self, e: dict) -> None:
        linkedid, uid, ts = e.get("Linkedid"), e.get("Uniqueid"), self._ts(e)
        call = self._call(linkedid)
        if not call:
            return
        if uid != linkedid:
            # an operator's or outside leg ended (and a hold it had put on)
            self._end_holds(linkedid, ts, uid)
            legs.end(self.db, linkedid, f"talk:{uid}", ts)
            legs.end(self.db, linkedid, f"offer:{uid}", ts, "cancelled")
            legs.end(self.db, linkedid, f"dial:{uid}", ts)
            if call[1]:
                legs.finish(self.db, linkedid)
            return
        legs.end(self.db, linkedid, f"talk:{uid}", ts)    # the callback dialer's operator leg,
        legs.end(self.db, linkedid, f"offer:{uid}", ts, "no-answer")   # or the operator never picked up
        self._ended(linkedid, ts, int(e.get("Cause") or 0), e.get("Cause-txt") or "")
        legs.finish(self.db, linkedid)

    # --- catching up from Asterisk's CDR log ----------------------------

    def catch_up(self, cdr_log: Path) -> int:
        """Complete, correct or add rows from the CDR lines Asterisk appended
        since the last call (the position is kept in the store, so a restart
        reads only what is new). Events missed while the consumer was down
        (a whole call, its connection to an operator, its end) are filled in
        here. Asterisk writes a call's CDR lines when its caller hangs up, so
        what is read belongs to finished calls. Returns how many calls were
        written."""
        # the files rotated since the last read first (appliance/history/log_rotation.py)
        chunk = log_rotation.read_from(cdr_log, store.get_setting(self.db, CDR_OFFSET))
        if chunk is None:
            return 0
        complete = chunk.data
        by_call: dict[str, list[dict]] = {}
        for row in csv.reader(io.StringIO(complete.decode("utf-8", errors="replace"))):
            if len(row) in (len(CDR_FIELDS), len(CDR_FIELDS) - 3):
                rec = dict(zip(CDR_FIELDS, row + [""] * (len(CDR_FIELDS) - len(row))))
                by_call.setdefault(rec["linkedid"], []).append(rec)
        written = 0
        with self.db.atomic():
            for linkedid, recs in by_call.items():
                primary = [r for r in recs if r["uniqueid"] == linkedid]
                if primary:
                    written += self._from_cdr(linkedid, primary, recs)
            store.set_setting(self.db, CDR_OFFSET, chunk.position(len(complete)))
        return written

    def _from_cdr(self, linkedid: str, primary: list[dict], recs: list[dict]) -> int:
        known = self.db.execute("SELECT 1 FROM calls WHERE uniqueid = ?", [linkedid]).fetchone()
        if not known and not any(r["dcontext"] in (dn.CTX_INBOUND, dn.CTX_ROUTE) for r in primary):
            return 0  # not an inbound call (e.g. operator to operator)
        first = min(primary, key=lambda r: float(r["start"] or 0))
        end = max(float(r["end"] or 0) for r in recs)
        answered = sorted((r for r in recs if r["disposition"] == "ANSWERED" and
                           endpoint_of(r["dstchannel"]) and r["dstchannel"].startswith("PJSIP/")),
                          key=lambda r: float(r["answer"] or 0))
        operator = endpoint_of(answered[0]["dstchannel"]) if answered else None
        connected = iso(answered[0]["answer"]) if answered else None
        tagged = next((r for r in primary if r["korund_group"]), first)
        if not known:
            self.db.execute(
                "INSERT INTO calls (uniqueid, linkedid, direction, ani, dnis, trunk, started_at) "
                "VALUES (?, ?, 'inbound', ?, ?, ?, ?)",
                [linkedid, linkedid, only(dn.ANI_ALLOWED, first["src"]),
                 only(dn.DNIS_ALLOWED, tagged["korund_dnis"]) or None,
                 endpoint_of(first["channel"]), iso(first["start"])])
        self.db.execute(
            "UPDATE calls SET ended_at = COALESCE(ended_at, ?), "
            "outcome = CASE WHEN ? THEN 'answered' ELSE COALESCE(outcome, 'abandoned') END, "
            "operator = COALESCE(operator, ?), connected_at = COALESCE(connected_at, ?), "
            "answered_at = COALESCE(answered_at, ?), grp = COALESCE(grp, ?), "
            "route_source = COALESCE(route_source, ?), dnis = COALESCE(dnis, ?) WHERE uniqueid = ?",
            [iso(end), bool(answered), operator, connected, iso(first["answer"]),
             tagged["korund_group"] or None, tagged["korund_route"] or None,
             only(dn.DNIS_ALLOWED, tagged["korund_dnis"]) or None, linkedid])
        if not self.db.execute("SELECT 1 FROM call_legs WHERE linkedid = ? AND leg_key = 'hangup'",
                               [linkedid]).fetchone():
            legs.put(self.db, linkedid, "hangup", "hangup", iso(end), detail={"source": "cdr"})
        legs.finish(self.db, linkedid)
        return 1

    # --- catching up the legs from Asterisk's CEL log ---------------------

    def catch_up_cel(self, cel_log: Path, keep_open_hours: float = 6) -> int:
        """Rebuild the legs of calls that ended since the last read from the
        channel events Asterisk logged (appliance/render/core.py): what the
        events service missed while it was down. Only calls whose last
        channel has gone (LINKEDID_END) are applied; the lines of calls
        still up are read again next time (the position stays before them).
        Everything is keyed as the live events key it, so nothing is
        written twice; a call that ended in a part read before (its lines
        are read again while an earlier call is still up) is not applied
        again. Returns how many calls were applied."""
        # the files rotated since the last read first (appliance/history/log_rotation.py)
        chunk = log_rotation.read_from(cel_log, store.get_setting(self.db, CEL_OFFSET))
        if chunk is None:
            return 0
        seen = chunk.place(store.get_setting(self.db, CEL_SEEN))   # a place in chunk.data
        complete = chunk.data
        by_call: dict[str, list[dict]] = {}
        first_pos: dict[str, int] = {}
        end_pos: dict[str, int] = {}
        pos = 0
        for line in complete.splitlines(keepends=True):
            rows = list(csv.reader(io.StringIO(line.decode("utf-8", errors="replace"))))
            if rows and len(rows[0]) == len(CEL_FIELDS):
                rec = dict(zip(CEL_FIELDS, rows[0]))
                rec["epoch"] = cel_time(rec["eventtime"])
                rec["ts"] = iso(rec["epoch"])
                if rec["linkedid"] and rec["ts"]:
                    by_call.setdefault(rec["linkedid"], []).append(rec)
                    first_pos.setdefault(rec["linkedid"], pos)
                    if rec["eventtype"] == "LINKEDID_END":
                        end_pos[rec["linkedid"]] = pos
            pos += len(line)
        newest = max((r["ts"] for recs in by_call.values() for r in recs), default=None)
        written, keep_from = 0, len(complete)
        with self.db.atomic():
            for linkedid, recs in by_call.items():
                if linkedid in end_pos:
                    if end_pos[linkedid] >= seen:   # not applied in an earlier round
                        try:
                            with self.db.atomic():   # a savepoint: one odd call spoils only itself
                                written += self._from_cel(linkedid, recs)
                        except Exception:
                            log.exception("could not rebuild call %s from the CEL log; skipped", linkedid)
                elif newest and (legs.seconds(recs[0]["ts"], newest) or 0) < keep_open_hours * 3600:
                    keep_from = min(keep_from, first_pos[linkedid])
            store.set_setting(self.db, CEL_OFFSET, chunk.position(keep_from))
            store.set_setting(self.db, CEL_SEEN, chunk.position(len(complete)))
        return written

    def _from_cel(self, linkedid: str, recs: list[dict]) -> int:
        primary_start = next((r for r in recs if r["eventtype"] == "CHAN_START" and r["uniqueid"] == linkedid), None)
        if primary_start:
            if primary_start["context"] == dn.CTX_INBOUND:
                self._inbound(linkedid, primary_start["channel"], only(dn.ANI_ALLOWED, primary_start["cidnum"]),
                              only(dn.DNIS_ALLOWED, primary_start["exten"]), primary_start["ts"])
            elif not self._call(linkedid):
                self._outbound(linkedid, primary_start["channel"], primary_start["ts"])
        call = self._call(linkedid)
        if not call:
            return 0
        direction = call[0]
        hangup = next((r for r in recs if r["eventtype"] == "HANGUP" and r["uniqueid"] == linkedid), None)
        end_ts = hangup["ts"] if hangup else recs[-1]["ts"]
        answered_at: dict[str, str] = {}
        for r in recs:
            kind, uid, ts = r["eventtype"], r["uniqueid"], r["ts"]
            app = (r["appname"] or "").lower()
            if uid == linkedid:
                if kind == "APP_START" and app == "agi" and r["context"] == dn.CTX_INBOUND:
                    self._ivr_started(linkedid, ts)
                elif kind == "APP_START" and app == "queue":
                    self._queue_joined(linkedid, uid, (r["appdata"] or "").split(",", 1)[0], ts)
                elif kind == "APP_END" and app == "queue":
                    queue = (r["appdata"] or "").split(",", 1)[0]
                    left = "abandoned" if (legs.seconds(ts, end_ts) or 0) < 1 else "left"
                    legs.end(self.db, linkedid, f"queue:{uid}:{queue}", ts, left)
                elif kind == "ANSWER" and direction == "outbound":
                    legs.end(self.db, linkedid, f"offer:{uid}", ts, "answered")
                elif kind == "HANGUP" and direction == "outbound":   # the operator never picked up
                    legs.end(self.db, linkedid, f"offer:{uid}", ts, "no-answer")
            elif kind == "CHAN_START" and not r["channel"].startswith("Local/"):
                ext = endpoint_of(r["channel"])
                if r["channel"].startswith("PJSIP/") and self._is_operator(ext):
                    self._operator_offered(linkedid, uid, ext, ts)
                else:
                    self._number_dialled(linkedid, uid, r["channel"], only(dn.ANI_ALLOWED, r["exten"]), ts)
            elif kind == "ANSWER":
                answered_at[uid] = ts
                if legs.end(self.db, linkedid, f"offer:{uid}", ts, "answered", force_result=True):
                    self._talk(linkedid, uid, endpoint_of(r["channel"]) or "", ts)
                    self.db.execute("UPDATE call_legs SET result = 'answered' WHERE linkedid = ? "
                                    "AND kind = 'queue' AND (ended_at IS NULL OR ended_at >= ?)", [linkedid, ts])
                    self.db.execute("UPDATE calls SET connected_at = COALESCE(connected_at, ?), "
                                    "operator = COALESCE(operator, ?) WHERE uniqueid = ?",
                                    [ts, endpoint_of(r["channel"]), linkedid])
                elif self.db.execute("SELECT 1 FROM call_legs WHERE linkedid = ? AND leg_key = ?",
                                     [linkedid, f"dial:{uid}"]).fetchone():
                    self.db.execute("UPDATE call_legs SET result = 'answered' WHERE linkedid = ? AND leg_key = ?",
                                    [linkedid, f"dial:{uid}"])
                    if direction == "outbound":
                        self.db.execute("UPDATE calls SET connected_at = COALESCE(connected_at, ?) "
                                        "WHERE uniqueid = ?", [ts, linkedid])
                        self._talk(linkedid, linkedid, endpoint_of(primary_start["channel"]) if primary_start
                                   else "", ts)
            elif kind == "HANGUP":
                cause = _cel_extra(r).get("hangupcause")
                if uid not in answered_at:
                    result = {17: "busy", 26: "cancelled"}.get(cause) or (
                        "cancelled" if (legs.seconds(ts, end_ts) or 0) < 1 else "no-answer")
                    legs.end(self.db, linkedid, f"offer:{uid}", ts, result)
                legs.end(self.db, linkedid, f"talk:{uid}", ts)
                legs.end(self.db, linkedid, f"dial:{uid}", ts, "" if uid in answered_at else "no-answer")
            if kind in ("BLINDTRANSFER", "ATTENDEDTRANSFER"):
                extra = _cel_extra(r)
                target = extra.get("extension") if kind == "BLINDTRANSFER" else \
                    party_of(extra.get("transfer_target_channel_name"))
                self._transferred(linkedid, uid, "blind" if kind == "BLINDTRANSFER" else "attended",
                                  str(target or ""), r["channel"], ts)
        if hangup:
            extra = _cel_extra(hangup)
            seen = self.db.execute("SELECT 1 FROM call_legs WHERE linkedid = ? AND leg_key = 'hangup'",
                                   [linkedid]).fetchone()
            if not seen:   # the end was missed: Asterisk's word on who hung up
                source = extra.get("hangupsource") or ""
                if source and not source.startswith("dialplan/"):
                    who = self._who(direction, source == hangup["channel"], endpoint_of(source))
                else:
                    who = "system"
                self.db.execute("UPDATE calls SET hangup_by = ? WHERE uniqueid = ?", [who, linkedid])
                self._ended(linkedid, hangup["ts"], int(extra.get("hangupcause") or 0), "", settle=True)
            legs.finish(self.db, linkedid)
        return 1


def cel_time(value: str) -> float | None:
    """CEL's eventtime ("seconds.microseconds", or a formatted local time)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(value, fmt).timestamp()
        except (TypeError, ValueError):
            continue
    return None


def _cel_extra(rec: dict) -> dict:
    try:
        extra = json.loads(rec.get("extra") or "{}")
    except ValueError:
        return {}
    return extra if isinstance(extra, dict) else {}

"""Call history: one row per inbound call, built from AMI events.

``CallHistory.handle(event)`` takes one AMI event as a dict of headers and
updates the store. Each event is applied on its own (no state kept between
events, all of it is in the database), so a restarted consumer carries on
with calls already in progress. ``catch_up`` fills what was missed while the
consumer was down from the CDR log Asterisk appends to as calls end.
"""
from __future__ import annotations

import csv
import io
import re
import time
from datetime import datetime, timezone
from pathlib import Path

from . import dialplan_names as dn
from . import store

TRACKED_VARS = {
    dn.VAR_ANI: "ani", dn.VAR_DNIS: "dnis", dn.VAR_TRUNK: "trunk",
    dn.VAR_GROUP: "grp", dn.VAR_ROUTE_SOURCE: "route_source",
}
CDR_FIELDS = ["uniqueid", "linkedid", "src", "dst", "channel", "dstchannel",
              "start", "answer", "end", "disposition", "dcontext",
              "korund_dnis", "korund_group", "korund_route"]
CDR_OFFSET = "events.cdr_offset"   # how far into the CDR log catch_up has read


def iso(ts: float | str | None) -> str | None:
    if ts in (None, ""):
        return None
    return datetime.fromtimestamp(float(ts), timezone.utc).isoformat(timespec="milliseconds")


def only(allowed: str, value: str | None) -> str:
    return re.sub(f"[^{allowed}]", "", value or "")


def endpoint_of(channel: str | None) -> str | None:
    """'PJSIP/1001-0000002a' -> '1001'."""
    m = re.match(r"^[A-Za-z]+/(.+)-[0-9a-f]+$", channel or "")
    return m.group(1) if m else None


class CallHistory:
    def __init__(self, db, clock=time.time):
        self.db = db
        self.clock = clock

    def _ts(self, event: dict) -> str:
        return iso(event.get("Timestamp") or self.clock())

    def handle(self, event: dict) -> None:
        kind = event.get("Event")
        fn = getattr(self, f"on_{kind}", None) if kind else None
        if fn:
            fn(event)

    def on_Newchannel(self, e: dict) -> None:
        if e.get("Context") != dn.CTX_INBOUND or e.get("Uniqueid") != e.get("Linkedid"):
            return
        self.db.execute(
            "INSERT INTO calls (uniqueid, linkedid, direction, ani, dnis, trunk, started_at) "
            "VALUES (?, ?, 'inbound', ?, ?, ?, ?) ON CONFLICT(uniqueid) DO NOTHING",
            [e["Uniqueid"], e["Linkedid"], only(dn.ANI_ALLOWED, e.get("CallerIDNum")),
             only(dn.DNIS_ALLOWED, e.get("Exten")), endpoint_of(e.get("Channel")), self._ts(e)])

    def on_VarSet(self, e: dict) -> None:
        column = TRACKED_VARS.get((e.get("Variable") or "").lstrip("_"))
        if column and e.get("Uniqueid") == e.get("Linkedid"):
            self.db.execute(f"UPDATE calls SET {column} = ? WHERE uniqueid = ?",
                            [e.get("Value"), e.get("Uniqueid")])

    def on_Newstate(self, e: dict) -> None:
        if e.get("ChannelState") == "6" and e.get("Uniqueid") == e.get("Linkedid"):
            self.db.execute("UPDATE calls SET answered_at = ? WHERE uniqueid = ? AND answered_at IS NULL",
                            [self._ts(e), e["Uniqueid"]])

    def on_AgentConnect(self, e: dict) -> None:
        operator = endpoint_of(e.get("DestChannel")) or e.get("MemberName")
        self.db.execute(
            "UPDATE calls SET connected_at = ?, operator = ?, grp = COALESCE(?, grp) "
            "WHERE uniqueid = ? AND connected_at IS NULL",
            [self._ts(e), operator, dn.group_of_queue(e.get("Queue")) or None, e.get("Linkedid")])

    def on_Hangup(self, e: dict) -> None:
        if e.get("Uniqueid") != e.get("Linkedid"):
            return
        self.db.execute(
            "UPDATE calls SET ended_at = ?, hangup_cause = ?, "
            "outcome = CASE WHEN connected_at IS NOT NULL THEN 'answered' ELSE 'abandoned' END "
            "WHERE uniqueid = ? AND ended_at IS NULL",
            [self._ts(e), int(e.get("Cause") or 0), e["Uniqueid"]])

    # --- catching up from Asterisk's CDR log ----------------------------

    def catch_up(self, cdr_log: Path) -> int:
        """Complete, correct or add rows from the CDR lines Asterisk appended
        since the last call (the position is kept in the store, so a restart
        reads only what is new). Events missed while the consumer was down
        (a whole call, its connection to an operator, its end) are filled in
        here. Asterisk writes a call's CDR lines when its caller hangs up, so
        what is read belongs to finished calls. Returns how many calls were
        written."""
        if not cdr_log.exists():
            return 0
        offset = int(store.get_setting(self.db, CDR_OFFSET, "0"))
        if cdr_log.stat().st_size < offset:  # rotated
            offset = 0
        with open(cdr_log, "rb") as f:
            f.seek(offset)
            data = f.read()
        complete = data[:data.rfind(b"\n") + 1]
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
            store.set_setting(self.db, CDR_OFFSET, offset + len(complete))
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
        return 1

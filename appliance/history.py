"""Call history: one row per inbound call, built from AMI events.

``CallHistory.handle(event)`` takes one AMI event as a dict of headers and
updates the store. Each event is applied on its own (no state kept between
events, all of it is in the database), so a restarted consumer carries on
with calls already in progress. ``reconcile`` fills what was missed while the
consumer was down from the CDR log Asterisk appends to as calls end.
"""
from __future__ import annotations

import csv
import re
import time
from datetime import datetime, timezone
from pathlib import Path

from . import dialplan_names as dn

TRACKED_VARS = {
    dn.VAR_ANI: "ani", dn.VAR_DNIS: "dnis", dn.VAR_TRUNK: "trunk",
    dn.VAR_GROUP: "grp", dn.VAR_ROUTE_SOURCE: "route_source",
}
CDR_FIELDS = ["uniqueid", "linkedid", "src", "dst", "channel", "dstchannel",
              "start", "answer", "end", "disposition", "dcontext"]


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
            [self._ts(e), operator, e.get("Queue"), e.get("Linkedid")])

    def on_Hangup(self, e: dict) -> None:
        if e.get("Uniqueid") != e.get("Linkedid"):
            return
        self.db.execute(
            "UPDATE calls SET ended_at = ?, hangup_cause = ?, "
            "outcome = CASE WHEN connected_at IS NOT NULL THEN 'answered' ELSE 'abandoned' END "
            "WHERE uniqueid = ? AND ended_at IS NULL",
            [self._ts(e), int(e.get("Cause") or 0), e["Uniqueid"]])

    # --- catching up after downtime ------------------------------------

    def reconcile(self, cdr_log: Path, live_uniqueids: set[str]) -> int:
        """Complete or add rows for calls that ended while nobody listened.

        Returns how many rows were written.
        """
        if not cdr_log.exists():
            return 0
        by_call: dict[str, list[dict]] = {}
        with open(cdr_log, newline="", encoding="utf-8", errors="replace") as f:
            for row in csv.reader(f):
                if len(row) != len(CDR_FIELDS):
                    continue
                rec = dict(zip(CDR_FIELDS, row))
                by_call.setdefault(rec["linkedid"], []).append(rec)
        open_rows = {r[0] for r in self.db.execute("SELECT uniqueid FROM calls WHERE ended_at IS NULL")}
        written = 0
        with self.db.atomic():
            for linkedid, recs in by_call.items():
                if linkedid in live_uniqueids:
                    continue
                primary = [r for r in recs if r["uniqueid"] == linkedid]
                if not primary:
                    continue
                known = self.db.execute("SELECT 1 FROM calls WHERE uniqueid = ?", [linkedid]).fetchone()
                if known and linkedid not in open_rows:
                    continue
                if not known and not any(r["dcontext"] in (dn.CTX_INBOUND, dn.CTX_ROUTE)
                                         for r in primary):
                    continue
                written += self._from_cdr(linkedid, primary, recs, known is not None)
        return written

    def _from_cdr(self, linkedid: str, primary: list[dict], recs: list[dict], known: bool) -> int:
        first = min(primary, key=lambda r: float(r["start"] or 0))
        end = max(float(r["end"] or 0) for r in recs)
        answered = [r for r in recs if r["disposition"] == "ANSWERED" and
                    (r["dstchannel"] or "").startswith("PJSIP/") and endpoint_of(r["dstchannel"])]
        operator = endpoint_of(answered[0]["dstchannel"]) if answered else None
        connected = iso(answered[0]["answer"]) if answered else None
        outcome = "answered" if answered else "abandoned"
        if not known:
            self.db.execute(
                "INSERT INTO calls (uniqueid, linkedid, direction, ani, dnis, trunk, started_at) "
                "VALUES (?, ?, 'inbound', ?, ?, ?, ?)",
                [linkedid, linkedid, only(dn.ANI_ALLOWED, first["src"]), None,
                 endpoint_of(first["channel"]), iso(first["start"])])
        self.db.execute(
            "UPDATE calls SET ended_at = ?, outcome = ?, operator = COALESCE(operator, ?), "
            "connected_at = COALESCE(connected_at, ?), answered_at = COALESCE(answered_at, ?) "
            "WHERE uniqueid = ? AND ended_at IS NULL",
            [iso(end), outcome, operator, connected, iso(first["answer"]), linkedid])
        return 1

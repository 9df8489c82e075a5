"""The legs of one call, in order (F14: "full history of each call").

A call (``calls`` row, keyed by its linkedid) has legs in ``call_legs``:
trunk, ivr, queue, offer, operator (talk), hold, transfer and hangup are
written by the events service (:mod:`appliance.history.store`) from AMI events or,
after downtime, from Asterisk's CEL log. Every leg has a key that is stable
for what it describes (``offer:<uniqueid of the operator's channel>``,
``queue:<caller channel>:<queue>``, ...), so the same event applied twice or
a catch-up after a restart writes the same row again instead of a new one:
:func:`put` inserts once and afterwards only fills what is still empty.

Recordings and notes are read with the call from their own tables
(``recordings``, ``session_notes``): they are written after the call as
often as during it, and reading them where they live keeps them current.

:func:`finish` computes the columns the reports read (queued_at,
wait_seconds, talk_seconds, hold_seconds, transfers, hangup_by, ivr_only)
from the legs. It depends only on what is stored, so running it again after
a late event or a catch-up gives the same or a more complete answer.
"""
from __future__ import annotations

import json
from datetime import datetime

from appliance.base.errors import ConfigError
from appliance.outbound import causes
from appliance.reports import rollup

KINDS = ("trunk", "ivr", "queue", "offer", "operator", "hold", "transfer", "recording", "note", "hangup")
HANGUP_BY = ("caller", "operator", "system")
# How a ringing offer ended (DialEnd's DialStatus -> result)
DIAL_RESULTS = {"ANSWER": "answered", "NOANSWER": "no-answer", "BUSY": "busy", "CANCEL": "cancelled",
                "CONGESTION": "unavailable", "CHANUNAVAIL": "unavailable"}


def seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())


def put(db, linkedid: str, key: str, kind: str, at: str, *, ended_at: str | None = None,
        party: str | None = None, result: str | None = None, detail: dict | None = None,
        force_result: bool = False) -> None:
    """Write the leg *key* of call *linkedid*: insert it once; a second write
    fills in what is still empty (end, party, result, detail fields) and keeps
    the earliest start. With *force_result* the result is replaced (an offer
    that rang out and was later answered after all cannot happen, but a queue
    leg first seen as 'left' is 'answered' once AgentConnect says so)."""
    row = db.execute("SELECT at, ended_at, party, result, detail FROM call_legs "
                     "WHERE linkedid = ? AND leg_key = ?", [linkedid, key]).fetchone()
    if row is None:
        db.execute("INSERT INTO call_legs (linkedid, leg_key, kind, at, ended_at, party, result, detail) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (linkedid, leg_key) DO NOTHING",
                   [linkedid, key, kind, at, ended_at, party or "", result or "",
                    json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)])
        return
    merged = json.loads(row[4] or "{}")
    for k, v in (detail or {}).items():
        if merged.get(k) in (None, ""):
            merged[k] = v
    new_result = (result or row[3]) if force_result else (row[3] or result or "")
    db.execute("UPDATE call_legs SET at = ?, ended_at = ?, party = ?, result = ?, detail = ? "
               "WHERE linkedid = ? AND leg_key = ?",
               [min(row[0], at) if at else row[0], row[1] or ended_at, row[2] or party or "", new_result,
                json.dumps(merged, ensure_ascii=False, sort_keys=True), linkedid, key])


def end(db, linkedid: str, key: str, ended_at: str, result: str | None = None,
        force_result: bool = False) -> bool:
    """End an existing leg (the first end wins); False when there is no such leg."""
    row = db.execute("SELECT result FROM call_legs WHERE linkedid = ? AND leg_key = ?",
                     [linkedid, key]).fetchone()
    if row is None:
        return False
    new_result = (result or row[0]) if force_result else (row[0] or result or "")
    db.execute("UPDATE call_legs SET ended_at = COALESCE(ended_at, ?), result = ? "
               "WHERE linkedid = ? AND leg_key = ?", [ended_at, new_result, linkedid, key])
    return True


def near_key(db, linkedid: str, prefix: str, at: str, window: float = 3.0) -> str | None:
    """The key of a leg starting with *prefix* that began within *window*
    seconds of *at*: the same thing seen from another source (an AMI event
    and the CEL line of the same moment carry slightly different times)."""
    for key, start in db.execute("SELECT leg_key, at FROM call_legs WHERE linkedid = ? AND leg_key LIKE ?",
                                 [linkedid, prefix.replace("%", "") + "%"]).fetchall():
        if abs((datetime.fromisoformat(start) - datetime.fromisoformat(at)).total_seconds()) <= window:
            return key
    return None


def set_hangup_by(db, linkedid: str, who: str) -> None:
    """Who asked to hang up last before the call ended (an operator who
    completes an attended transfer hangs up first; the caller's own hang-up
    later is the one that ends the call). Frozen once the call has ended."""
    db.execute("UPDATE calls SET hangup_by = ? WHERE uniqueid = ? AND ended_at IS NULL", [who, linkedid])


def _transfers_from_desktop(db, linkedid: str) -> None:
    """Blind transfers made from the desktop move the caller's channel with
    AMI Redirect, which Asterisk reports as no transfer event: the desktop's
    own record of it is the leg."""
    for edit_id, at, details in db.execute(
            "SELECT id, at, details FROM session_edits WHERE linkedid = ? AND what = 'transferred' ORDER BY id",
            [linkedid]).fetchall():
        d = json.loads(details or "{}")
        if d.get("kind", "blind") != "blind":
            # An attended transfer is Asterisk's AttendedTransfer event, which
            # sometimes cannot name the target (its channel 'N/A' when the
            # consultation's Local channel was already gone): the desktop
            # knows whom the operator consulted.
            if d.get("target"):
                db.execute("UPDATE call_legs SET party = ? WHERE linkedid = ? AND kind = 'transfer' "
                           "AND party = '' AND detail LIKE '%\"kind\": \"attended\"%'",
                           [str(d["target"]), linkedid])
            continue
        # The edit is written once Asterisk took the Redirect: the transfer
        # itself is when the transferring operator's talk ended.
        talk = db.execute("SELECT ended_at, party FROM call_legs WHERE linkedid = ? AND kind = 'operator' "
                          "AND ended_at IS NOT NULL AND ended_at <= ? ORDER BY ended_at DESC LIMIT 1",
                          [linkedid, at]).fetchone()
        when = talk[0] if talk and (seconds(talk[0], at) or 0) < 10 else at
        put(db, linkedid, f"transfer:desk:{edit_id}", "transfer", when, ended_at=when,
            party=str(d.get("target", "")), result="done",
            detail={"kind": "blind", "to": d.get("to", ""), "by": talk[1] if talk else "", "source": "desktop"})


def finish(db, linkedid: str) -> None:
    """Compute the reports' columns of an ended call from its legs."""
    call = db.execute("SELECT started_at, ended_at, direction, hangup_by FROM calls WHERE uniqueid = ?",
                      [linkedid]).fetchone()
    if call is None or not call[1]:
        return
    started, ended, direction, hangup_by = call
    _transfers_from_desktop(db, linkedid)
    if db.execute("SELECT 1 FROM call_steps WHERE uniqueid = ? LIMIT 1", [linkedid]).fetchone():
        ivr = db.execute("SELECT 1 FROM call_legs WHERE linkedid = ? AND kind = 'ivr'", [linkedid]).fetchone()
        if not ivr:
            put(db, linkedid, "ivr", "ivr", started)
    # What was still open when the call ended ended with it.
    db.execute("UPDATE call_legs SET result = 'cancelled' WHERE linkedid = ? AND kind = 'offer' "
               "AND result = ''", [linkedid])
    db.execute("UPDATE call_legs SET ended_at = ? WHERE linkedid = ? AND ended_at IS NULL AND kind != 'hangup'",
               [ended, linkedid])
    legs = [dict(zip(("kind", "at", "ended_at", "result"), r)) for r in db.execute(
        "SELECT kind, at, ended_at, result FROM call_legs WHERE linkedid = ? ORDER BY at, id", [linkedid])]
    queues = [l for l in legs if l["kind"] == "queue"]
    talks = [l for l in legs if l["kind"] == "operator"]
    queued_at = queues[0]["at"] if queues else None
    wait = None
    if queued_at:
        answered = next((t["at"] for t in talks if t["at"] >= queued_at), None)
        wait = seconds(queued_at, answered or queues[-1]["ended_at"] or ended)
    talk = sum(seconds(t["at"], t["ended_at"] or ended) or 0 for t in talks) if talks else None
    hold = sum(seconds(h["at"], h["ended_at"] or ended) or 0 for h in legs if h["kind"] == "hold")
    transfers = sum(1 for l in legs if l["kind"] == "transfer")
    ivr_only = 0
    if direction == "inbound" and not queues and not talks and not any(l["kind"] == "offer" for l in legs):
        ivr_only = 1
    db.execute("UPDATE calls SET queued_at = ?, wait_seconds = ?, talk_seconds = ?, hold_seconds = ?, "
               "transfers = ?, hangup_by = ?, ivr_only = ? WHERE uniqueid = ?",
               [queued_at, wait, talk, hold, transfers, hangup_by or "system", ivr_only, linkedid])
    db.execute("UPDATE call_legs SET result = ? WHERE linkedid = ? AND leg_key = 'hangup'",
               [hangup_by or "system", linkedid])
    # The reports' sums of that day are redone, also for a call completed
    # late (e.g. from the CDR/CEL logs after the events service was down).
    rollup.touch(db, started)


# --- reading ------------------------------------------------------------------

def _optional(db, sql: str, args: list) -> list:
    """Rows of a table another module owns, or none when it is not there
    (a build without that module)."""
    try:
        return db.execute(sql, args).fetchall()
    except Exception as exc:   # sqlite3.OperationalError: no such table
        if "no such table" in str(exc) or "no such column" in str(exc):
            return []
        raise


def legs(db, linkedid: str) -> list[dict]:
    """The legs of the call in order, with the IVR path, recordings and
    notes; ``offset`` is seconds from the call's start."""
    call = db.execute("SELECT started_at, span, dahdi_channel FROM calls WHERE uniqueid = ?",
                      [linkedid]).fetchone()
    start = call[0] if call else None
    out = []
    for key, kind, at, ended_at, party, result, detail in db.execute(
            "SELECT leg_key, kind, at, ended_at, party, result, detail FROM call_legs "
            "WHERE linkedid = ? ORDER BY at, id", [linkedid]).fetchall():
        out.append({"key": key, "kind": kind, "at": at, "ended_at": ended_at, "party": party,
                    "result": result, "detail": json.loads(detail or "{}")})
    for leg in out:
        if leg["kind"] == "ivr":
            leg["detail"]["path"] = readable_path([json.loads(r[0]) for r in db.execute(
                "SELECT step FROM call_steps WHERE uniqueid = ? ORDER BY seq", [linkedid])])
        elif leg["kind"] == "trunk" and leg["key"] == "trunk" and call and call[1]:
            leg["detail"].update({"span": call[1], "dahdi_channel": call[2] or ""})
    for r in _optional(db, "SELECT id, started_at, ended_at, operator, status, duration FROM recordings "
                           "WHERE linkedid = ? AND status != 'deleted' ORDER BY id", [linkedid]):
        out.append({"key": f"recording:{r[0]}", "kind": "recording", "at": r[1] or start or "", "ended_at": r[2],
                    "party": r[3] or "", "result": r[4] or "",
                    "detail": {"recording_id": r[0], "duration": r[5]}})
    for r in db.execute("SELECT id, author, extension, text, updated_at FROM session_notes "
                        "WHERE linkedid = ? AND text != '' ORDER BY id", [linkedid]).fetchall():
        out.append({"key": f"note:{r[0]}", "kind": "note", "at": r[4], "ended_at": None, "party": r[2] or r[1],
                    "result": "", "detail": {"author": r[1], "text": r[3]}})
    order = {k: i for i, k in enumerate(KINDS)}
    out.sort(key=lambda l: (l["kind"] in ("note",), l["kind"] == "hangup", l["at"] or "", order[l["kind"]]))
    for leg in out:
        leg["offset"] = seconds(start, leg["at"]) if start and leg["at"] else None
        leg["duration"] = seconds(leg["at"], leg["ended_at"])
    return out


# --- the history as people search it ---------------------------------------------

FILTERS = ("start", "end", "direction", "outcome", "group", "operator", "ani", "dnis", "line")
DIRECTIONS = ("inbound", "outbound")
OUTCOMES = ("answered", "abandoned")
PER_PAGE = 50
MAX_PER_PAGE = 1000
COLUMNS = ("id", "uniqueid", "direction", "ani", "dnis", "trunk", "span", "dahdi_channel", "grp", "operator",
           "started_at", "connected_at", "ended_at", "outcome", "hangup_cause", "hangup_by", "queued_at",
           "wait_seconds", "talk_seconds", "hold_seconds", "transfers", "ivr_only", "route_source",
           "out_purpose", "out_route", "out_trunk_group", "out_span", "out_circuit", "out_dialled", "out_sent",
           "out_cause", "out_status")


def _date(field: str, value: str, end_of_day: bool = False, tz=None) -> str:
    """'2026-11-26' (a day on the call center's clock *tz*, UTC without one)
    or a full ISO time -> an ISO time in UTC to compare with."""
    from datetime import timezone
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(field, "a date as YYYY-MM-DD (or an ISO time)") from None
    if len(value) <= 10 and end_of_day:
        when = when.replace(hour=23, minute=59, second=59, microsecond=999000)
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz or timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def _where(db, filters: dict, extension: str | None, tz=None) -> tuple[str, list]:
    """SQL conditions for *filters* (a dict of FILTERS, empty values ignored);
    bad values raise ConfigError naming the filter. With *extension*, only
    calls that operator took part in."""
    clauses, args = [], []
    f = {k: (v.strip() if isinstance(v, str) else v) for k, v in (filters or {}).items() if v not in (None, "")}
    for k, v in f.items():
        if k not in FILTERS:
            raise ConfigError(k, "unknown filter; use one of {choices}", choices=", ".join(FILTERS))
        if not isinstance(v, str) or len(v) > 64:
            raise ConfigError(k, "must be text of at most 64 characters")
    if "start" in f:
        clauses.append("c.started_at >= ?")
        args.append(_date("start", f["start"], tz=tz))
    if "end" in f:
        clauses.append("c.started_at <= ?")
        args.append(_date("end", f["end"], end_of_day=True, tz=tz))
    if "direction" in f:
        if f["direction"] not in DIRECTIONS:
            raise ConfigError("direction", "one of {choices}", choices=", ".join(DIRECTIONS))
        clauses.append("c.direction = ?")
        args.append(f["direction"])
    if "outcome" in f:
        if f["outcome"] not in OUTCOMES + ("in-progress",):
            raise ConfigError("outcome", "one of {choices}", choices=", ".join(OUTCOMES + ("in-progress",)))
        if f["outcome"] == "in-progress":
            clauses.append("c.ended_at IS NULL")
        else:
            clauses.append("c.outcome = ?")
            args.append(f["outcome"])
    if "group" in f:
        clauses.append("c.grp = ?")
        args.append(f["group"])
    if "operator" in f:
        clauses.append("(c.operator = ? OR EXISTS (SELECT 1 FROM call_legs l WHERE l.linkedid = c.uniqueid "
                       "AND l.kind IN ('offer', 'operator') AND l.party = ?))")
        args += [f["operator"], f["operator"]]
    for key, column, allowed in (("ani", "ani", "0-9+"), ("dnis", "dnis", "0-9+*#")):
        if key in f:
            digits = "".join(ch for ch in f[key] if ch in "0123456789+*#")
            if not digits or digits != f[key]:
                raise ConfigError(key, "digits only (and {allowed})", allowed=allowed.replace("0-9", ""))
            clauses.append(f"c.{column} LIKE ? ESCAPE '\\'")
            args.append(f"%{digits}%")
    if "line" in f:
        clauses.append("(c.trunk = ? OR c.span = ? OR c.dahdi_channel = ? OR "
                       "(c.span || '/' || COALESCE(c.dahdi_channel, '')) = ?)")
        args += [f["line"]] * 4
    if extension == "":
        clauses.append("0 = 1")   # an operator user without an extension took part in nothing
    elif extension is not None:
        clauses.append("(c.operator = ? OR EXISTS (SELECT 1 FROM call_legs l WHERE l.linkedid = c.uniqueid "
                       "AND l.kind IN ('offer', 'operator') AND l.party = ?) OR EXISTS (SELECT 1 FROM offers o "
                       "WHERE o.linkedid = c.uniqueid AND o.extension = ?))")
        args += [extension] * 3
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def select(db, filters: dict | None = None, offset: int = 0, limit: int = PER_PAGE,
           extension: str | None = None, tz=None) -> tuple[list[dict], int]:
    """(calls newest first from *offset*, at most *limit*; how many match).
    With *extension* only the calls that operator took part in ("" = none)."""
    if not isinstance(offset, int) or offset < 0:
        raise ConfigError("offset", "a whole number from 0")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PER_PAGE:
        raise ConfigError("limit", "a whole number from 1 to {limit}", limit=MAX_PER_PAGE)
    where, args = _where(db, filters or {}, extension, tz)
    total = db.execute(f"SELECT COUNT(*) FROM calls c{where}", args).fetchone()[0]
    rows = db.execute(f"SELECT {', '.join('c.' + c for c in COLUMNS)} FROM calls c{where} "
                      "ORDER BY c.started_at DESC, c.id DESC LIMIT ? OFFSET ?",
                      args + [limit, offset]).fetchall()
    return [dict(zip(COLUMNS, r)) for r in rows], total


def search(db, filters: dict | None = None, page: int = 1, per_page: int = PER_PAGE,
           extension: str | None = None, tz=None) -> dict:
    """One page of calls, newest first: {calls, total, page, per_page, pages}."""
    if not isinstance(page, int) or page < 1:
        raise ConfigError("page", "a whole number from 1")
    if not isinstance(per_page, int) or not 1 <= per_page <= MAX_PER_PAGE:
        raise ConfigError("per_page", "a whole number from 1 to {limit}", limit=MAX_PER_PAGE)
    calls, total = select(db, filters, (page - 1) * per_page, per_page, extension, tz)
    return {"calls": calls, "total": total, "page": page, "per_page": per_page,
            "pages": max(1, -(-total // per_page))}


def find(db, ref) -> dict | None:
    """The call with history id *ref* (a number) or uniqueid."""
    ref = str(ref or "").strip()
    if not ref or len(ref) > 64:
        return None
    row = db.execute(f"SELECT {', '.join(COLUMNS)} FROM calls WHERE "
                     + ("id = ?" if ref.isdigit() else "uniqueid = ?"), [int(ref) if ref.isdigit() else ref]
                     ).fetchone()
    return dict(zip(COLUMNS, row)) if row else None


def record(db, ref) -> dict | None:
    """The call and its legs in order (what the call's page and the API show)."""
    call = find(db, ref)
    if call is None:
        return None
    out = {}
    if call.get("out_status"):   # a call out: what became of it, in words (appliance.outbound.causes)
        out = {"out_outcome": causes.outcome(call["out_cause"], call["out_status"]),
               "out_cause_text": causes.text(call["out_cause"])}
    return {**call, **out, "legs": legs(db, call["uniqueid"])}


def took_part(db, call: dict, extension: str | None) -> bool:
    """Did the operator *extension* take part in the call (offered or talked)?"""
    if not extension:
        return False
    return call.get("operator") == extension or db.execute(
        "SELECT 1 FROM call_legs WHERE linkedid = ? AND kind IN ('offer', 'operator') AND party = ? "
        "UNION SELECT 1 FROM offers WHERE linkedid = ? AND extension = ?",
        [call["uniqueid"], extension, call["uniqueid"], extension]).fetchone() is not None


def readable_path(steps: list[dict]) -> list[dict]:
    """call_steps entries as lines for people: the nodes passed, the values
    entered or looked up (``set``), scenario jumps and errors."""
    out = []
    for s in steps:
        if "set" in s:
            out.append({"kind": "value", "node": s.get("node", ""), "name": s["set"], "value": s.get("value", "")})
        elif "scenario" in s:
            out.append({"kind": "scenario", "name": s["scenario"]})
        elif "error" in s:
            out.append({"kind": "error", "text": s["error"]})
        elif "node" in s:
            out.append({"kind": "node", "node": s["node"], "type": s.get("type", "")})
    return out

"""Operator states from app_queue's AMI events (run by the events service).

AgentCalled -> ringing (for that caller), AgentConnect -> on_call,
AgentComplete -> wrapup (when the group has a wrap-up time) or ready,
AgentRingNoAnswer -> ready again, and F10: when the group asks for it, an
operator who let ``noanswer_after`` offers in a row ring out is paused with
the built-in reason "no answer" (in the database and, over AMI, in every
queue) — app_queue meanwhile offers the call to the next member.
QueueCallerLeave/QueueCallerAbandon free the members still ringing for a
caller who left (another member answered, or the caller gave up).

Only operators who are ready (or ringing/on a call) move: a paused or
logged-out operator's state is never overwritten by a call event.
"""
from __future__ import annotations

import logging

from appliance.base import dialplan_names as dn
from appliance.history.store import endpoint_of
from appliance.operators import devices, states as operator_states

# The AMI events handle() acts on (the events service asks Asterisk for these).
AMI_EVENTS = frozenset({"QueueCallerAbandon", "QueueCallerLeave", "AgentCalled", "AgentConnect",
                    "AgentComplete", "AgentRingNoAnswer"})

log = logging.getLogger("korund.operators")

# A member that refused at once (busy, unreachable) is not a missed offer:
# only ringing for at least this share of the group's ring timeout counts.
RING_OUT_SHARE = 0.8
# How long after its caller left the queue a member still ringing is freed.
LEAVE_GRACE_SECONDS = 2


def _member(db, e: dict):
    ext = (devices.extension_of(db, e.get("DestChannel")) or devices.extension_of_interface(db, e.get("Interface"))
           or endpoint_of(e.get("DestChannel")) or (e.get("Interface") or "").partition("/")[2])
    row = db.execute(
        "SELECT o.id, o.extension, COALESCE(s.state, 'ready'), s.call_id, COALESCE(s.missed, 0) "
        "FROM operators o LEFT JOIN operator_states s ON s.operator_id = o.id WHERE o.extension = ?",
        [ext]).fetchone()
    return row


def _group(db, queue: str | None):
    return db.execute("SELECT ring_timeout, wrapup, noanswer_pause, noanswer_after FROM groups "
                      "WHERE name = ?", [dn.group_of_queue(queue)]).fetchone()


def handle(db, ami, e: dict) -> None:
    kind = e.get("Event")
    caller = e.get("Uniqueid")
    if kind == "QueueCallerAbandon":
        for (op_id,) in db.execute("SELECT operator_id FROM operator_states WHERE state = 'ringing' "
                                   "AND call_id = ?", [caller]).fetchall():
            operator_states.set_state(db, op_id, "ready", by="queue")
        return
    if kind == "QueueCallerLeave":
        # The caller left because a member answered (its AgentConnect follows
        # in a moment) or for good: members still ringing for it are freed
        # shortly after by operator_states.finish_wrapups, unless they connected.
        db.execute("UPDATE operator_states SET until = ? WHERE state = 'ringing' AND call_id = ?",
                   [operator_states.wrapup_until(LEAVE_GRACE_SECONDS), caller])
        return
    if kind not in ("AgentCalled", "AgentConnect", "AgentComplete", "AgentRingNoAnswer"):
        return
    m = _member(db, e)
    if not m:
        return
    op_id, ext, current, call_id, missed = m
    if kind == "AgentCalled":
        if current == "ready":
            operator_states.set_state(db, op_id, "ringing", call_id=caller, by="queue")
    elif kind == "AgentConnect":
        if current in ("ready", "ringing", "wrapup"):
            operator_states.set_state(db, op_id, "on_call", call_id=caller, missed=0, by="queue")
    elif kind == "AgentComplete":
        if current == "on_call":
            g = _group(db, e.get("Queue"))
            if g and g[1] > 0:
                operator_states.set_state(db, op_id, "wrapup", until=operator_states.wrapup_until(g[1]), by="queue")
            else:
                operator_states.set_state(db, op_id, "ready", by="queue")
    elif kind == "AgentRingNoAnswer":
        g = _group(db, e.get("Queue"))
        try:
            ring_ms = int(e.get("RingTime") or 0)
        except ValueError:
            ring_ms = 0
        rang_out = bool(g) and ring_ms >= g[0] * 1000 * RING_OUT_SHARE
        if rang_out:
            missed += 1
        if current not in ("ringing", "ready"):
            return
        if rang_out and g[2] and missed >= g[3]:
            log.info("operator %s missed %d offer(s) in %s: paused", ext, missed, e.get("Queue"))
            operator_states.set_state(db, op_id, "paused", operator_states.NO_ANSWER, by="no answer", missed=0)
            operator_states.push(ami, ext, "paused", operator_states.NO_ANSWER, interface=operator_states.member_interface(db, ext))
        else:
            operator_states.set_state(db, op_id, "ready", missed=missed, by="queue")

"""The ``events`` service: an AMI consumer that keeps the call history.

It logs in, applies each AMI event as it comes, and every few seconds reads
the new lines of Asterisk's CDR log to complete what the events did not say
(calls that ended while it was down); when Asterisk goes away it logs in
again. After each reload and every operator_states.SYNC_SECONDS it also checks that
app_queue does not hold a reachable operator's phone as unavailable
(appliance.operators.member_states); every few seconds it returns MFC/R2 circuits
left half-released after a call to idle (appliance.lines.r2_circuits). It
also feeds Asterisk's security events to the SIP guard, which bans addresses
that keep failing SIP authentication (appliance.operators.sip_guard).
"""
from __future__ import annotations

import logging
import re
import threading
import time

from appliance.base import ami, dialplan_names as dn, store
from appliance.base.instance import Instance
from appliance.clients import desktop, webhooks
from appliance.history import store as history_store
from appliance.history.store import CallHistory
from appliance.lines import r2_circuits
from appliance.operators import member_states, queue_events, sip_guard, states as operator_states

log = logging.getLogger("korund.events")

# How often the CDR log is read for what the events did not say.
CATCH_UP_SECONDS = 5
# How long after a reload the queue members' states are checked
# (app_queue and chan_pjsip settle on them within a second or two).
AFTER_RELOAD_SECONDS = 3


# FullyBooted and Reload: operator states and queue members are synced after them.
LIFECYCLE_EVENTS = frozenset({"FullyBooted", "Reload"})


def wanted_events() -> list[ami.EventFilter]:
    """What this service asks Asterisk for: the events its handlers act on,
    VarSet only for the variables they read and Newexten only into the AGI
    (those two are most of a call's events)."""
    names = (history_store.handled_events() | queue_events.AMI_EVENTS | desktop.AMI_EVENTS | webhooks.AMI_EVENTS
             | sip_guard.FAILURES | LIFECYCLE_EVENTS) - {"VarSet", "Newexten"}
    variables = sorted(set(history_store.TRACKED_VARS) | set(history_store.OUT_VARS) | {dn.VAR_CALLBACK_ORDER})
    return [ami.EventFilter(name) for name in sorted(names)] + [
        # inherited variables are named with one or two leading underscores
        ami.EventFilter("VarSet", "Variable", "^_{0,2}(" + "|".join(map(re.escape, variables)) + ")$", "regex"),
        ami.EventFilter("Newexten", "Application", "AGI"),
    ]


def run(instance: Instance, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    db = store.open_store(instance.db_path)
    history = CallHistory(db)
    lock = threading.Lock()
    reloaded = threading.Event()   # set on FullyBooted/Reload: check the members soon
    webhooks.start_sender(lambda: store.open_store(instance.db_path), stop=stop)  # posts to the external CRM
    # bans addresses that keep failing SIP authentication; its own connection
    guard = sip_guard.Guard(store.open_store(instance.db_path), instance.etc)

    def on_event(event, manager):
        headers = ami.event_headers(event)
        handlers = (
            history.handle,
            lambda h: queue_events.handle(db, manager, h),  # operator states follow app_queue
            lambda h: operator_states.sync(db, manager) if h.get("Event") in ("FullyBooted", "Reload") else None,
            lambda h: reloaded.set() if h.get("Event") in ("FullyBooted", "Reload") else None,
            lambda h: desktop.on_event(db, h),  # screen pop: calls offered to operators' phones
            lambda h: webhooks.on_event(db, h),  # external CRM: call offered / ended (queued)
        )
        guard.on_event(headers)   # counts in memory only; never raises for a bad event
        with lock:
            for handle in handlers:
                # Each on its own: one failing must neither skip the others nor
                # kill pyst2's dispatch thread.
                try:
                    handle(headers)
                except Exception:
                    log.exception("could not handle %s in %s", headers.get("Event"),
                                  getattr(handle, "__qualname__", handle))

    def record_mend(chan, cas):   # an R2 circuit forced idle: in the hardware alarm log
        with lock:
            r2_circuits.record_alarm(db, chan, cas)

    def session(mgr):
        mgr.register_event("*", on_event)
        next_catch_up = 0.0
        next_sync = 0.0
        next_members = 0.0
        members = member_states.Refresher(pjsip_conf=instance.etc / "pjsip.conf")
        circuits, next_circuits = r2_circuits.Watchdog(on_forced=record_mend), 0.0
        guard.applied = None   # Asterisk may have restarted: put the bans in force again
        while mgr.connected() and not stop.is_set():
            if time.monotonic() >= next_catch_up:
                with lock:
                    # channel events first: they rebuild a missed call's legs,
                    # then the CDR adds its group, route and DNIS
                    history.catch_up_cel(instance.cel_log)
                    n = history.catch_up(instance.cdr_log)
                if n:
                    log.info("checked %d ended call(s) against the CDR log", n)
                next_catch_up = time.monotonic() + CATCH_UP_SECONDS
            with lock:
                operator_states.finish_wrapups(db)
                if time.monotonic() >= next_sync:
                    operator_states.sync(db, mgr)  # on (re)connect, then as a safety net
                    next_sync = time.monotonic() + operator_states.SYNC_SECONDS
            if reloaded.is_set():
                reloaded.clear()
                next_members = min(next_members, time.monotonic() + AFTER_RELOAD_SECONDS)
            if time.monotonic() >= next_members:
                # outside the lock: AMI commands only, nothing of the history
                members.refresh(mgr)
                next_members = time.monotonic() + operator_states.SYNC_SECONDS
            try:
                guard.tick(mgr)   # AMI commands and its own store connection, outside the lock
            except Exception:
                log.exception("the SIP guard failed")
            if time.monotonic() >= next_circuits:
                circuits.check(mgr)   # AMI commands only, like the members
                next_circuits = time.monotonic() + r2_circuits.CHECK_EVERY
            stop.wait(0.5)

    ami.keep_connected(lambda: store.settings(db), stop, session, log, events=wanted_events())

"""The ``events`` service: an AMI consumer that keeps the call history.

It logs in, catches up on calls that ended while it was away, then applies
each AMI event as it comes; when Asterisk goes away it logs in again.
"""
from __future__ import annotations

import logging
import threading
import time

from . import ami, store
from .history import CallHistory
from .instance import Instance

log = logging.getLogger("korund.events")


def live_uniqueids(mgr) -> set[str]:
    """Unique IDs of the channels up now (from 'core show channels concise')."""
    ids = set()
    for line in ami.command(mgr, "core show channels concise"):
        fields = line.split("!")
        if len(fields) >= 14:
            ids.add(fields[13])
    return ids


def run(instance: Instance, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    db = store.open_store(instance.db_path)
    history = CallHistory(db)
    lock = threading.Lock()

    def on_event(event, manager):
        headers = ami.event_headers(event)
        try:
            with lock:
                history.handle(headers)
        except Exception:  # keep pyst2's dispatch thread alive whatever one event does
            log.exception("could not record %s", headers.get("Event"))

    while not stop.is_set():
        settings = store.settings(db)
        try:
            mgr = ami.connect(settings, timeout=5)
        except ami.AmiError as exc:
            log.info("%s; retrying", exc)
            stop.wait(1)
            continue
        log.info("connected to AMI")
        try:
            mgr.register_event("*", on_event)
            with lock:
                n = history.reconcile(instance.cdr_log, live_uniqueids(mgr))
            if n:
                log.info("recovered %d call(s) that ended while events was down", n)
            while mgr.connected() and not stop.is_set():
                stop.wait(0.5)
        except Exception:
            log.exception("AMI session failed")
        finally:
            ami.close(mgr)
        if not stop.is_set():
            log.info("AMI connection lost; reconnecting")
            time.sleep(0.5)

"""A thin layer over pyst2's AMI client for the parts Korund uses."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from asterisk.manager import Manager, ManagerAuthException, ManagerException, ManagerSocketException

from appliance.base import store, supervisor
from appliance.base.instance import local_address

log = logging.getLogger("korund.ami")


class AmiError(RuntimeError):
    pass


@dataclass(frozen=True)
class EventFilter:
    """One kind of event a session asks Asterisk for: events named *name*,
    and with *header* only those whose header equals *value* (or matches it,
    method "regex"). Asterisk applies these before it writes to the socket,
    so a consumer parses only what it uses: at 240 calls the unfiltered
    stream is hundreds of events a second, almost all of them VarSet and
    Newexten that no service reads."""
    name: str
    header: str = ""
    value: str = ""
    method: str = "exact"

    def criteria(self) -> str:
        parts = ["action(include)", f"name({self.name})"]
        if self.header:
            parts += [f"header({self.header})", f"method({self.method})"]
        return ",".join(parts)


# What connect(events=...) takes besides filters: every event the user's read
# classes allow (the telephony tests' event log), or none (one-shot actions).
ALL_EVENTS = "all"
NO_EVENTS = None


def connect_if_running(inst, db, timeout: float = 5.0) -> Manager | None:
    """A logged-in client when the instance's Asterisk runs under supervisord
    and answers, else None (then callers only write files)."""
    if supervisor.status(inst).get("asterisk", {}).get("state") != "RUNNING":
        return None
    try:
        return connect(store.settings(db), timeout=timeout)
    except AmiError:
        return None


def keep_connected(settings, stop, session, log, retry: float = 1.0,
                   events: Iterable[EventFilter] | str | None = ALL_EVENTS) -> None:
    """Run *session(mgr)* on a logged-in client until *stop* is set, logging
    in again whenever Asterisk goes away: the loop of every AMI service.
    *settings* is called before each attempt (the AMI secret may change);
    a failing session is logged and followed by a new one. *events* is what
    the session receives (see connect)."""
    while not stop.is_set():
        try:
            mgr = connect(settings(), timeout=5, events=events)
        except AmiError as exc:
            log.info("%s; retrying", exc)
            stop.wait(retry)
            continue
        log.info("connected to AMI")
        try:
            session(mgr)
        except Exception:
            log.exception("AMI session failed")
        finally:
            close(mgr)
        if not stop.is_set():
            log.info("AMI connection lost; reconnecting")
            stop.wait(0.5)


def connect(settings: dict[str, str], timeout: float = 10.0,
            events: Iterable[EventFilter] | str | None = NO_EVENTS) -> Manager:
    """Log in to the instance's AMI (on its loopback address, setting
    local.address), retrying until *timeout* seconds pass.

    *events*: NO_EVENTS (a session for actions only: Asterisk sends it no
    events at all), ALL_EVENTS, or EventFilters naming the only events
    the session gets."""
    host = local_address(settings)
    deadline = time.monotonic() + timeout
    if events is not NO_EVENTS and events != ALL_EVENTS:
        events = tuple(events)
    while True:
        mgr = Manager()
        try:
            mgr.connect(host, int(settings["ami.port"]))
            _login(mgr, settings["ami.user"], settings["ami.secret"], events)
            return mgr
        except _FilterRefused as exc:
            # An Asterisk without advanced filters: the consumer still gets
            # what it needs, with everything else besides (only slower).
            log.warning("AMI refused an event filter (%s); this session receives every event", exc)
            close(mgr)
            events = ALL_EVENTS
            continue
        except (ManagerSocketException, ManagerException, OSError) as exc:
            close(mgr)
            if time.monotonic() > deadline:
                raise AmiError(f"cannot log in to AMI at {host}:{settings['ami.port']}: {exc}") from exc
            time.sleep(0.3)


def _login(mgr: Manager, user: str, secret: str, events) -> None:
    resp = mgr.send_action({"Action": "Login", "Username": user, "Secret": secret,
                            "Events": "off" if events is NO_EVENTS else "on"})
    if resp.get_header("Response") == "Error":
        raise ManagerAuthException(resp.get_header("Message"))
    if events is NO_EVENTS or events == ALL_EVENTS:
        return
    for wanted in events:
        resp = mgr.send_action({"Action": "Filter", "Operation": "Add",
                                "MatchCriteria": wanted.criteria(), "Filter": wanted.value})
        if resp.get_header("Response") != "Success":
            raise _FilterRefused(f"{wanted.criteria()}: {resp.get_header('Message')}")


class _FilterRefused(Exception):
    pass


def close(mgr: Manager | None) -> None:
    """Log off and close; a connection Asterisk already dropped is fine."""
    if mgr is None:
        return
    try:
        mgr.close()
    except (ManagerException, ManagerSocketException, OSError, ValueError):
        pass


def command(mgr: Manager, cli: str) -> list[str]:
    """Run a CLI command; return its output lines.

    pyst2 keeps only the last ``Output:`` header, so read the raw lines.
    A line break would end the AMI message early and desynchronise every
    later response, so it is refused.
    """
    if "\r" in cli or "\n" in cli:
        raise AmiError(f"refusing a CLI command with a line break: {cli!r}")
    resp = mgr.command(cli)
    lines = []
    for raw in resp.response:
        line = raw.rstrip("\r\n")
        if line.startswith("Output: "):
            lines.append(line[len("Output: "):])
        elif line == "Output:":
            lines.append("")
    return lines


def getvar(mgr: Manager, name: str, channel: str | None = None) -> str | None:
    resp = mgr.getvar(name, channel) if channel else mgr.send_action({"Action": "Getvar", "Variable": name})
    if resp.get_header("Response") != "Success":
        return None
    return resp.get_header("Value")


def event_headers(event) -> dict[str, str]:
    """All headers of a pyst2 event.

    Asterisk passes a caller ID's line breaks into AMI events unescaped; pyst2
    then stops reading headers at the first line without a colon and leaves
    the rest (Context, Uniqueid, ...) in ``event.data``. Recover them: a line
    without a colon continues the previous header's value.
    """
    headers = dict(event.headers)
    last = next(reversed(headers), None)
    for line in (event.data or "").splitlines():
        key, sep, value = line.partition(": ")
        if sep and key and " " not in key:
            headers[key] = value
            last = key
        elif last is not None:
            headers[last] = headers[last] + "\n" + line
    return headers

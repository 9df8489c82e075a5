"""A technician's test dial (the Lines page): one number dialled out through
one outbound route or one span, and each step of it as Asterisk reports it:
the channel seized, the number as sent, progress, the answer or the cause.

The call is an AMI Originate of ``Local/<id>@korund-test-dial`` (``render``
writes that context): its dialplan hands the number and the route or span to
``korund-outbound`` the way every dialplan dials out (purpose ``test``, so
the outbound policy and the route's own rules apply), and the originate's
own half hangs up ANSWER_SECONDS after the far end answers. Every channel of
the call carries the originated channel's id as its Linkedid, so a
short-lived AMI session asks Asterisk for those channels' events only and
keeps them with their times from the start; ``steps`` turns them into the
list the page shows. The test dials live in the panel's process
(``Registry``): a reloaded page finds its test dial again, a restarted panel
starts with none.
"""
from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from appliance.base import ami, audit, dialplan_names as dn, store, supervisor
from appliance.base.errors import ConfigError
from appliance.lines import store as spans
from appliance.outbound import causes, patterns, policy, routes

log = logging.getLogger("korund.test_dial")

CONTEXT = "korund-test-dial"
PURPOSE = "test"
# Channel variables the originate sets on its Local channel (the dialplan
# reads them only through FILTER, and refuses a number the filter shortened).
VAR_NUMBER = "KORUND_TEST_NUMBER"
VAR_ROUTE = "KORUND_TEST_ROUTE"
VAR_SPAN = "KORUND_TEST_SPAN"
# Variables only the context sets, from the filtered values.
CLEAN_NUMBER = "KORUND_TNUMBER"
CLEAN_ROUTE = "KORUND_TROUTE"
CLEAN_SPAN = "KORUND_TSPAN"
EVENT = "KorundTestDial"              # UserEvent once korund-outbound returns: DialStatus, Cause, Refused
ID_DIGITS = 10                        # a test dial's id, the Local channel's extension
CHANNEL_ID = "korund-test-"           # + id: the originated channel's uniqueid, every channel's Linkedid
RING_SECONDS = 30
ANSWER_SECONDS = 3                    # the far end answered: held so long, then hung up
# Seizing a circuit, sending MFC/R2 digits and the route's script take their
# time before the ringing starts; after this the session gives up listening.
LISTEN_SECONDS = RING_SECONDS + ANSWER_SECONDS + 60
RUNNING_AT_ONCE = 4
KEEP = 20                             # finished test dials kept for the page

NUMBER = re.compile(r"\+?[0-9]{1,20}")
ROUTE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# '-' first: FILTER reads "_-" at the end of a class as a broken range and drops the '-'
ROUTE_ALLOWED = "-A-Za-z0-9_"


# --- what may be dialled, and where --------------------------------------------------

@dataclass(frozen=True)
class Target:
    number: str
    route: str = ""
    span: int | None = None

    def describe(self) -> dict:
        return {"number": self.number, "route": self.route, "span": self.span}


def enabled_routes(db) -> list[routes.Route]:
    """The outbound routes a test dial may take: those in service."""
    return [r for r in routes.routes(db) if r.enabled]


def route_names(db) -> list[str]:
    return [r.name for r in enabled_routes(db)]


def trunk_spans(db) -> list[spans.Span]:
    """The spans a test dial may seize: enabled, and trunks to the PSTN (not a
    loop test's carrier end)."""
    return [s for s in spans.load_all(db) if s.enabled and s.role == "trunk"]


def check(db, number, route=None, span=None) -> Target:
    """The target of a test dial, or ConfigError naming the field: the number
    digits (a leading + at most), exactly one of an existing route or an
    enabled trunk span. The outbound policy is asked separately (``start``)."""
    number = str(number or "").strip()
    if not NUMBER.fullmatch(number):
        raise ConfigError("number", "'{number}' is not a phone number: digits only, a leading + at most",
                          number=number[:40])
    route = str(route or "").strip()
    span_text = str(span if span is not None else "").strip()
    if bool(route) == bool(span_text):
        raise ConfigError("target", "choose either an outbound route or a span")
    if route:
        found = next((r for r in enabled_routes(db) if r.name == route), None) if ROUTE_NAME.fullmatch(route) else None
        if found is None:
            raise ConfigError("target", "there is no outbound route '{route}' in service", route=route[:64])
        if not any(patterns.parse(p).matches(number) for p in found.patterns):
            raise ConfigError("number", "{number} matches none of the route {route}'s patterns ({patterns})",
                              number=number, route=route, patterns=", ".join(found.patterns))
        return Target(number, route=route)
    if not span_text.isdigit() or int(span_text) not in {s.span for s in trunk_spans(db)}:
        raise ConfigError("target", "span {span} is not an enabled trunk span", span=span_text[:8])
    return Target(number, span=int(span_text))


# --- the dialplan ---------------------------------------------------------------------

def render() -> str:
    """The context the test dial's Local channel runs in. The number, route
    and span come from the originate: each is filtered and must be as long
    after the filter as before, and exactly the one target the panel chose
    reaches korund-outbound. After the subroutine, one UserEvent tells what
    it did (REFUSED: nothing was dialled, and why)."""
    id_pattern = "_" + "X" * ID_DIGITS
    number, route, span = (f"${{{CLEAN_NUMBER}}}", f"${{{CLEAN_ROUTE}}}", f"${{{CLEAN_SPAN}}}")
    return f"""
[{CONTEXT}]
exten => {id_pattern},1,Set({CLEAN_NUMBER}=${{FILTER(0-9+,${{{VAR_NUMBER}}})}})
 same => n,Set({CLEAN_ROUTE}=${{FILTER({ROUTE_ALLOWED},${{{VAR_ROUTE}}})}})
 same => n,Set({CLEAN_SPAN}=${{FILTER(0-9,${{{VAR_SPAN}}})}})
 same => n,GotoIf($["{number}" = ""]?bad)
 same => n,GotoIf($[${{LEN({number})}} != ${{LEN(${{{VAR_NUMBER}}})}}]?bad)
 same => n,GotoIf($[${{LEN({route})}} != ${{LEN(${{{VAR_ROUTE}}})}}]?bad)
 same => n,GotoIf($[${{LEN({span})}} != ${{LEN(${{{VAR_SPAN}}})}}]?bad)
 same => n,GotoIf($["{route}{span}" = ""]?bad)
 same => n,GotoIf($["{route}" != "" & "{span}" != ""]?bad)
 same => n,Set({dn.VAR_OUT_NUMBER}={number})
 same => n,Set({dn.VAR_OUT_PURPOSE}={PURPOSE})
 same => n,ExecIf($["{route}" != ""]?Set({dn.VAR_OUT_ONLY_ROUTE}={route}))
 same => n,ExecIf($["{span}" != ""]?Set({dn.VAR_OUT_ONLY_SPAN}={span}))
 same => n,Gosub({dn.CTX_OUTBOUND},s,1({RING_SECONDS},))
 same => n,UserEvent({EVENT},DialStatus: ${{FILTER(A-Z,${{DIALSTATUS}})}},Cause: ${{FILTER(0-9,${{{dn.VAR_OUT_CAUSE}}})}},Refused: ${{FILTER(a-z0-9-,${{{dn.VAR_OUT_REFUSED}}})}})
 same => n,Hangup()
 same => n(bad),UserEvent({EVENT},DialStatus: INVALID)
 same => n,Hangup(28)
"""


# --- the steps, from the events ---------------------------------------------------------

# What each step says: English templates the panel translates (web.lines marks them).
TEXTS = {
    "seizure": "Seized {channel}",
    "seizure-trunk": "Seized the SIP trunk {trunk} ({channel})",
    "seizure-circuit": "Seized span {span}, circuit {circuit} ({channel})",
    "route": "Route {route}, trunk group {group}",
    "digits": "Digits sent: {sent}",
    "ringing": "Ringing",
    "progress": "Progress: early media",
    "proceeding": "Proceeding: the network took the number",
    "answer": "Answered",
    "cause": "{outcome}: cause {cause}, {cause_text}",
    "no-cause": "{outcome} ({status})",
    "not-dialled": "Trunk group {group}: no channel could be seized ({status})",
    "refused": "Refused before dialling: {reason}",
    "invalid": "The dialplan refused the test dial's values",
    "failed": "Asterisk could not start the test dial: {reason}",
    "ended": "Test dial ended",
}
# causes.OUTCOMES in words (translated where shown).
OUTCOME_TEXTS = {"answered": "Cleared after the answer", "busy": "Busy", "no-answer": "No answer",
                 "congestion": "Congestion", "number-invalid": "Number invalid", "rejected": "Rejected",
                 "failed": "Failed"}
# Why nothing was dialled (dn.VAR_OUT_REFUSED): the outbound policy's reasons, and the routes'.
REFUSED_TEXTS = {"no-route": "no outbound route matches the number through the chosen route or span",
                 "no-trunk": "no trunk group of the route can take a call now",
                 "purpose": "the call had no known purpose"}
# OriginateResponse's Reason (Asterisk's AST_CONTROL_* numbers of the Local channel's end).
ORIGINATE_REASONS = {"0": "no such extension or the channel failed", "1": "hung up", "3": "no answer",
                     "5": "busy", "8": "congestion"}
PROGRESS = {"RINGING": "ringing", "PROGRESS": "progress", "PROCEEDING": "proceeding"}
# The originated channel's uniqueid (its other half's ends in -2).
ORIGINATED = re.compile(re.escape(CHANNEL_ID) + f"[0-9]{{{ID_DIGITS}}}")


def _step(t, kind: str, **params) -> dict:
    return {"t": round(max(float(t or 0), 0.0), 2), "kind": kind, "params": params}


def _describe_seizure(step: dict, channel: str, span: str = "", circuit: str = "") -> None:
    """The seizure step's text from what is known of the channel so far."""
    p = step["params"]
    p["channel"] = channel
    m = re.match(r"PJSIP/(.+)-[0-9a-f]+$", channel)
    if span and circuit:
        step["kind"] = "seizure-circuit"
        p.update(span=span, circuit=circuit)
    elif m:
        step["kind"] = "seizure-trunk"
        p["trunk"] = m.group(1)


def _sent_of(dial_string: str) -> str:
    """The number in a Dial string: 'pstn/sip:84951234567@host' or
    '84951234567@pstn' (PJSIP), 'g1/84951234567' or 'G1/k84951234567' (DAHDI)."""
    s = dial_string.split("@", 1)[0] if "@" in dial_string else dial_string.rsplit("/", 1)[-1]
    s = s.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    m = re.search(r"\+?[0-9]+$", s)
    return m.group(0) if m else ""


@dataclass
class _Try:
    dest: str                 # the outgoing channel's name
    uniqueid: str
    seizure: dict
    digits: dict
    status: str = ""          # DialEnd's DialStatus
    cause: str = ""
    end: dict | None = None
    progress: str = ""
    reported: bool = False    # its KorundOutbound event came


def steps(events: list[dict]) -> list[dict]:
    """The test dial's steps from its AMI events in the order they came (each
    a dict of headers as ``ami.event_headers`` gives it, with ``_t``: seconds
    from the start). Each step: ``t``, ``kind`` (a key of TEXTS) and the
    ``params`` its text is filled with; built afresh from all the events every
    time, so a later event (the route's report of a try) completes an
    earlier step."""
    out: list[dict] = []
    tries: list[_Try] = []
    by_dest: dict[str, _Try] = {}
    variables: dict[str, str] = {}                 # the latest value of each, on any channel
    chan_vars: dict[str, dict[str, str]] = {}      # channel -> its own
    route_shown: tuple[str, str] | None = None
    ended: dict | None = None
    refused: dict | None = None      # nothing dialled: the route's script or the dialplan said no
    failed: dict | None = None       # the originate failed (its Local channel was not answered)
    for e in events:
        name, t = e.get("Event", ""), e.get("_t", 0)
        if name == "VarSet":
            var, channel = e.get("Variable", "").lstrip("_"), e.get("Channel", "")
            variables[var] = e.get("Value", "")
            chan_vars.setdefault(channel, {})[var] = e.get("Value", "")
            attempt = by_dest.get(channel)
            if attempt is not None and var in (dn.VAR_OUT_SPAN, dn.VAR_OUT_CIRCUIT):
                own = chan_vars[channel]
                _describe_seizure(attempt.seizure, channel, own.get(dn.VAR_OUT_SPAN, ""),
                                  own.get(dn.VAR_OUT_CIRCUIT, ""))
        elif name == "DialBegin":
            route, group = variables.get(dn.VAR_OUT_ROUTE, ""), variables.get(dn.VAR_OUT_TRUNK_GROUP, "")
            if route and (route, group) != route_shown:
                out.append(_step(t, "route", route=route, group=group or "-"))
                route_shown = (route, group)
            dest = e.get("DestChannel", "")
            seizure = _step(t, "seizure")
            own = chan_vars.get(dest, {})     # a DAHDI leg names its span and circuit before it is dialled
            _describe_seizure(seizure, dest, own.get(dn.VAR_OUT_SPAN, ""), own.get(dn.VAR_OUT_CIRCUIT, ""))
            sent = variables.get(dn.VAR_OUT_SENT_AS) or _sent_of(e.get("DialString", ""))
            digits = _step(t, "digits", sent=sent)
            attempt = _Try(dest, e.get("DestUniqueid", ""), seizure, digits)
            tries.append(attempt)
            by_dest[dest] = attempt
            out += [seizure, digits]
        elif name == "DialState":
            attempt = by_dest.get(e.get("DestChannel", ""))
            kind = PROGRESS.get(e.get("DialStatus", ""))
            if attempt is not None and kind and kind != attempt.progress:
                attempt.progress = kind
                out.append(_step(t, kind))
        elif name == "DialEnd":
            attempt = by_dest.get(e.get("DestChannel", ""))
            if attempt is None:
                continue
            attempt.status = e.get("DialStatus", "")
            if attempt.status == "ANSWER":
                out.append(_step(t, "answer"))
            elif attempt.end is None:
                attempt.end = _step(t, "no-cause", outcome=causes.outcome("", attempt.status),
                                    status=attempt.status)
                out.append(attempt.end)
        elif name == "Hangup" and e.get("Channel", "") in by_dest:
            attempt = by_dest[e["Channel"]]
            attempt.cause = e.get("Cause", "")
            _end_of(attempt, t, out)
        elif name == "UserEvent" and e.get("UserEvent") == dn.EVENT_OUTBOUND:
            attempt = next((a for a in tries if not a.reported), None)
            status = e.get("DialStatus", "")
            if status == "REFUSED":
                refused = refused or _step(t, "refused", reason=e.get("Refused", "") or "-")
                continue
            if attempt is None:
                # a try that seized nothing (all circuits busy, the trunk unreachable)
                out.append(_step(t, "not-dialled", group=e.get("TrunkGroup", "") or "-", status=status or "-"))
                continue
            attempt.reported = True
            if e.get("Sent"):
                attempt.digits["params"]["sent"] = e["Sent"]
            if e.get("Span") and e.get("Circuit"):
                _describe_seizure(attempt.seizure, attempt.dest, e["Span"], e["Circuit"])
            if e.get("Cause", "").isdigit():
                attempt.cause = e["Cause"]
            attempt.status = attempt.status or status
            if attempt.end is not None or attempt.status != "ANSWER":
                _end_of(attempt, attempt.end["t"] if attempt.end else t, out)
        elif name == "UserEvent" and e.get("UserEvent") == EVENT:
            status = e.get("DialStatus", "")
            if status == "REFUSED" and not tries:
                reason = e.get("Refused", "") or variables.get(dn.VAR_OUT_REFUSED, "")
                refused = refused or _step(t, "refused", reason=reason or "-")
            elif status == "INVALID":
                refused = refused or _step(t, "invalid")
        elif name == "OriginateResponse" and e.get("Response") == "Failure":
            reason = e.get("Reason", "")
            failed = failed or _step(t, "failed", reason=ORIGINATE_REASONS.get(reason, reason or "-"))
        elif name == "Hangup" and ORIGINATED.fullmatch(e.get("Uniqueid", "")) and ended is None:
            ended = _step(t, "ended")
    if refused is not None:
        out.append(refused)
    elif failed is not None and not tries and not out:
        # nothing reached korund-outbound: the originate itself failed
        out.append(failed)
    if ended is not None:
        # the last step, whatever hung up after the originated channel
        ended["t"] = max([ended["t"]] + [s["t"] for s in out])
        out.append(ended)
    return out


def _end_of(attempt: _Try, t, out: list[dict]) -> None:
    """The try's last step: its outcome with the Q.850 cause (an answered
    call's clearing too), placed where the try ended."""
    outcome = causes.outcome(attempt.cause, attempt.status)
    if attempt.status == "ANSWER":
        outcome = "answered"
    params = {"outcome": outcome, "cause": attempt.cause, "cause_text": causes.text(attempt.cause),
              "status": attempt.status or "-"}
    kind = "cause" if attempt.cause.isdigit() and attempt.cause != "0" else "no-cause"
    if attempt.end is None:
        attempt.end = _step(t, kind, **params)
        out.append(attempt.end)
    else:
        attempt.end["kind"] = kind
        attempt.end["params"] = params


def outcome(events: list[dict]) -> str:
    """How the test dial ended, in one word (causes.OUTCOMES, 'refused',
    'invalid', or '' while it runs and nothing says yet)."""
    result = ""
    for s in steps(events):
        if s["kind"] == "answer":
            result = "answered"
        elif s["kind"] in ("cause", "no-cause") and result != "answered":
            result = s["params"]["outcome"]
        elif s["kind"] in ("refused", "invalid", "failed"):
            result = s["kind"]
    return result


# --- running one ----------------------------------------------------------------------

class TestDialError(RuntimeError):
    """Asterisk cannot take a test dial now (not running, refused the originate)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class TestDial:
    id: str
    target: Target
    by: str
    started_at: str = field(default_factory=_now)
    events: list[dict] = field(default_factory=list)
    running: bool = True
    error: str = ""
    _start: float = field(default_factory=time.time)
    _lock: threading.Condition = field(default_factory=threading.Condition, repr=False)

    @property
    def channel_id(self) -> str:
        return CHANNEL_ID + self.id

    def add(self, headers: dict) -> None:
        """Keep one event of the call, with its time from the start (Asterisk's
        own timestamp when it sends one). Another call's event is dropped: an
        Asterisk that refused the session's filters sends every event."""
        if not (headers.get("Linkedid", "").startswith(self.channel_id) or headers.get("ActionID") == self.channel_id):
            return
        try:
            at = float(headers.get("Timestamp", ""))
        except ValueError:
            at = time.time()
        with self._lock:
            self.events.append({**headers, "_t": round(at - self._start, 3)})
            self._lock.notify_all()

    def finished(self) -> bool:
        """The originated channel has hung up (its end of the call is the last)."""
        return any(e.get("Event") == "Hangup" and e.get("Uniqueid") == self.channel_id for e in self.events)

    def snapshot(self) -> dict:
        with self._lock:
            events = list(self.events)
        return {"id": self.id, **self.target.describe(), "by": self.by, "started_at": self.started_at,
                "running": self.running, "error": self.error, "steps": steps(events),
                "outcome": outcome(events)}


def event_filters(channel_id: str) -> list[ami.EventFilter]:
    """Only the events of this test dial's channels: every one of them has
    the originated channel's id as Linkedid; the originate's own answer is
    known by its ActionID."""
    names = ("DialBegin", "DialState", "DialEnd", "Hangup", "UserEvent", "VarSet")
    return [ami.EventFilter(n, "Linkedid", channel_id, "starts_with") for n in names] + [
        ami.EventFilter("OriginateResponse", "ActionID", channel_id)]


def originate_action(dial: TestDial) -> dict:
    t = dial.target
    variables = {VAR_NUMBER: t.number, VAR_ROUTE: t.route, VAR_SPAN: "" if t.span is None else str(t.span)}
    return {"Action": "Originate", "Channel": f"Local/{dial.id}@{CONTEXT}/n",
            "Application": "Wait", "Data": str(ANSWER_SECONDS), "Async": "true",
            "Timeout": str((LISTEN_SECONDS - 10) * 1000),
            "ChannelId": dial.channel_id, "OtherChannelId": dial.channel_id + "-2",
            "ActionID": dial.channel_id, "CallerID": f'"Korund test" <{dial.id}>',
            "Variable": [f"{k}={v}" for k, v in variables.items()]}


class Registry:
    """The panel's test dials: at most RUNNING_AT_ONCE at a time, the last KEEP kept."""

    def __init__(self, connect=ami.connect, listen_seconds: float = LISTEN_SECONDS):
        self._connect = connect
        self._listen = listen_seconds
        self._lock = threading.Lock()
        self._dials: dict[str, TestDial] = {}

    def get(self, dial_id: str) -> TestDial | None:
        with self._lock:
            return self._dials.get(dial_id)

    def latest(self, by: str | None = None) -> TestDial | None:
        with self._lock:
            mine = [d for d in self._dials.values() if by is None or d.by == by]
        return mine[-1] if mine else None

    def running(self) -> int:
        with self._lock:
            return sum(1 for d in self._dials.values() if d.running)

    def start(self, settings: dict, target: Target, by: str) -> TestDial:
        """Log in to AMI asking for only this call's events, originate it, and
        listen in a thread of its own until its channels are gone."""
        with self._lock:
            if sum(1 for d in self._dials.values() if d.running) >= RUNNING_AT_ONCE:
                raise ConfigError("number", "{count} test dials are running already; wait for one to end",
                                  count=RUNNING_AT_ONCE)
            dial = TestDial(f"{secrets.randbelow(10 ** ID_DIGITS):0{ID_DIGITS}d}", target, by)
            self._dials[dial.id] = dial
            for old in [d for d in self._dials.values() if not d.running][:-KEEP]:
                del self._dials[old.id]
        try:
            mgr = self._connect(settings, timeout=5, events=event_filters(dial.channel_id))
        except ami.AmiError as exc:
            self._failed(dial, str(exc))
            raise TestDialError(str(exc)) from exc
        mgr.register_event("*", lambda event, _m: dial.add(ami.event_headers(event)))
        dial._start = time.time()
        try:
            resp = mgr.send_action(originate_action(dial))
        except Exception as exc:   # the socket went away: said to the user, not raised on
            ami.close(mgr)
            self._failed(dial, str(exc))
            raise TestDialError(str(exc)) from exc
        if resp.get_header("Response") != "Success":
            ami.close(mgr)
            message = resp.get_header("Message") or "originate refused"
            self._failed(dial, message)
            raise TestDialError(message)
        threading.Thread(target=self._listen_to, args=(dial, mgr), name=f"test-dial-{dial.id}",
                         daemon=True).start()
        return dial

    def _failed(self, dial: TestDial, message: str) -> None:
        """A test dial that never started is not kept: the user was told why."""
        dial.error = message
        dial.running = False
        with self._lock:
            self._dials.pop(dial.id, None)

    def _listen_to(self, dial: TestDial, mgr) -> None:
        deadline = time.monotonic() + self._listen
        try:
            with dial._lock:
                while not dial.finished() and mgr.connected():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    dial._lock.wait(min(left, 1.0))
            if not dial.finished():
                if mgr.connected():
                    # still up after the longest a test dial takes: end it
                    mgr.send_action({"Action": "Hangup", "Channel": f"/^Local\\/{dial.id}@{CONTEXT}-/"})
                    time.sleep(1)
                dial.error = dial.error or "no end of the call was heard from Asterisk"
            else:
                time.sleep(0.5)     # the outgoing leg's hang-up follows the Local channel's
        except Exception:   # a broken session ends the listening, never the panel
            log.exception("test dial %s: listening failed", dial.id)
        finally:
            ami.close(mgr)
            dial.running = False


def asterisk_running(inst) -> bool:
    return supervisor.status(inst).get("asterisk", {}).get("state") == "RUNNING"


def start(db, inst, registry: Registry, by: str, number, route=None, span=None) -> TestDial:
    """Check the target and the number (the outbound policy, purpose 'test':
    a refusal is audit-logged and raised as policy.Refused), write the test
    dial into the audit log and place it."""
    target = check(db, number, route, span)
    policy.enforce(db, target.number, PURPOSE, by=by, what="test dial")
    if not asterisk_running(inst):
        raise TestDialError("Asterisk is not running")
    dial = registry.start(store.settings(db), target, by)
    with db.atomic():
        audit.record(db, by, AUDIT_ACTION, target.number, {**target.describe(), "id": dial.id})
    return dial


AUDIT_ACTION = "test dial"

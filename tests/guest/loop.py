"""Inside the VM: set the two looped dahdi_dynamic_loc spans up as a test
pair through Korund's own code (devtools/dahdi_loop.py: the Lines page's
validation, Korund's DAHDI apply with dahdi_cfg, Asterisk's apply) and wait
until they are up.

    from loop import configure
    loop = configure("pri")          # or "r2", "analog"
    loop.carrier_dial("100")         # 'DAHDI/g1/100': the carrier calls number 100

Span 1 is the test carrier (PRI network side / R2 / the exchange and the
operator's telephone of the analog loop; its calls land in the
korund-test-carrier context), span 2 the appliance's trunk (PRI CPE / R2 /
an FXO line on timeslot 17 and an FXS operator port on timeslot 18).
Each check calls ``configure`` for the kind it needs; reconfiguring to the
kind already in service is quick (the spans are re-applied all the same).
"""
from __future__ import annotations

import functools
import json
import os
import re
import time
from pathlib import Path
from typing import Self

from appliance.operators import states as operator_states
from appliance.base import ami
from devtools import dahdi_loop
from appliance.operators import store as operators
from appliance.prompts import store as prompt_library
from devtools import simulator
from appliance.base import store
from appliance.base import dialplan_names as dn
from appliance.base.instance import Instance
from appliance.scenarios import store as scenarios
from tests import waiting
from tests.waiting import WaitTimeout

INSTANCE = os.environ.get("KORUND_INSTANCE", "/var/lib/korund/appliance")
# On the appliance DAHDI's own files are /etc/dahdi (korund-dahdi.service
# loads the modules and runs dahdi_cfg from there at boot).
if Path("/etc/dahdi").is_dir():
    os.environ.setdefault("KORUND_DAHDI_ETC", "/etc/dahdi")

KINDS = dahdi_loop.KINDS


def instance() -> Instance:
    return Instance.at(INSTANCE)


def manager(db, timeout: float = 10.0):
    return ami.connect(store.settings(db), timeout=timeout, events=ami.ALL_EVENTS)


def configure(kind: str, category: str = dahdi_loop.DEFAULT_CATEGORY,
              timeout: float = 90.0) -> dahdi_loop.Loop:
    """Spans 1 and 2 as a looped pair of *kind*, in service and up (or
    TimeoutError / WaitTimeout / DahdiApplyError / ApplyError saying what is wrong)."""
    inst = instance()
    db = inst.open_store()
    try:
        if kind != "r2" and _r2_links_up(db):
            return _configure_with_asterisk_stopped(inst, db, kind, category, timeout)
        for attempt in (1, 2):
            mgr = manager(db)
            try:
                return dahdi_loop.configure(inst, db, kind, mgr, category=category, timeout=timeout)
            except Exception as exc:   # noqa: BLE001 - AMI dropped: Asterisk went down under us
                if attempt == 2 or "onnect" not in f"{type(exc).__name__} {exc}":
                    raise
                # supervisord starts Asterisk again; then configure once more
                wait_for(lambda: _ami_answers(db), timeout=90, what="Asterisk back after it dropped AMI")
            finally:
                ami.close(mgr)
    finally:
        db.close()


def _r2_links_up(db) -> bool:
    return "ITU" in asterisk_once(db, "mfcr2 show channels")


def _configure_with_asterisk_stopped(inst: Instance, db, kind: str, category: str,
                                     timeout: float) -> dahdi_loop.Loop:
    """Leave MFC/R2 for another signalling with Asterisk stopped: unloading
    chan_dahdi under live MFC/R2 links can wedge Asterisk 22 (the unload
    never answers, and the AMI session with it), which twice hung the
    switch to the analog loop. Stopped, Asterisk holds no channel, so
    dahdi_cfg takes the new signalling, and it starts with the new
    chan_dahdi.conf; supervisord kills it if it does not stop in time."""
    from appliance.base import supervisor
    server = supervisor.rpc(inst)
    server.supervisor.stopProcess("asterisk", True)
    try:
        loop = dahdi_loop.configure(inst, db, kind, None, category=category)
    finally:
        server.supervisor.startProcess("asterisk", True)
    wait_for(lambda: _ami_answers(db), timeout=90, what="Asterisk started again")
    mgr = manager(db)
    try:
        dahdi_loop.wait_up(mgr, loop, timeout)
    finally:
        ami.close(mgr)
    return loop


def _ami_answers(db) -> bool:
    try:
        mgr = manager(db, timeout=5)
    except Exception:   # noqa: BLE001
        return False
    ami.close(mgr)
    return True


def current(kind: str) -> dahdi_loop.Loop:
    """The stored pair, described (without applying anything)."""
    db = instance().open_store()
    try:
        return dahdi_loop.describe(db, kind)
    finally:
        db.close()


# --- what the call checks share ----------------------------------------------------


ANI = "4951234567"
SIM_BASE = "/var/lib/korund/simulator"


# tests/waiting.wait_for as the call checks use it: once a second (each probe
# may open an AMI session); WaitTimeout (an AssertionError) names what never came.
wait_for = functools.partial(waiting.wait_for, timeout=60.0, interval=1.0)


def test_scenario(db, name: str, group: str, dnis: str, with_input: bool = True) -> None:
    """A published scenario on *dnis*: a menu (1 -> enter a 4-digit code
    ending in #, then the group; anything else -> the group). Its prompts are
    spoken by espeak-ng like any prompt of the library."""
    inst = instance()
    for prompt, text in ((f"{name}-menu", "Press one."), (f"{name}-code", "Enter the code, then hash.")):
        if not db.execute("SELECT 1 FROM prompts WHERE name = ?", [prompt]).fetchone():
            prompt_library.say(db, inst.sounds, prompt, "en", text, by="vm-check")
            prompt_library.say(db, inst.sounds, prompt, "ru", text, by="vm-check")
    graph = {"start": "menu", "nodes": {
        "menu": {"type": "menu", "prompts": [f"{name}-menu"], "timeout": 8, "retries": 1,
                 "options": {"1": "code" if with_input else "operators"},
                 "next": {"fail": "operators"}, "pos": [40, 40]},
        "operators": {"type": "route", "to": "group", "group": group, "pos": [560, 40]}}}
    if with_input:
        graph["nodes"]["code"] = {"type": "input", "prompts": [f"{name}-code"], "variable": "code",
                                  "min_digits": 4, "max_digits": 4, "timeout": 8, "retries": 1,
                                  "next": {"next": "operators", "fail": "operators"}, "pos": [300, 40]}
    with db.atomic():
        if db.execute("SELECT 1 FROM scenarios WHERE name = ?", [name]).fetchone():
            scenarios.save_draft(db, name, graph)
        else:
            scenarios.create(db, name, name, graph)
        scenarios.publish(db, name, "vm-check")
        scenarios.bind(db, dnis, scenario=name)


def group_with(db, group: str, extension: str, name: str, contact: str | None = None,
               device: str | None = None, ring_timeout: int = 30) -> None:
    """Group *group* with the one operator *extension* (created or changed)."""
    with db.atomic():
        if not db.execute("SELECT 1 FROM groups WHERE name = ?", [group]).fetchone():
            operators.add_group(db, group, group, strategy="ringall", ring_timeout=ring_timeout)
        if db.execute("SELECT 1 FROM operators WHERE extension = ?", [extension]).fetchone():
            operators.update_operator(db, extension, name, contact, True, device=device or "")
        else:
            operators.add_operator(db, extension, name, contact=contact, device=device)
        operators.add_member(db, group, extension)


def apply_and_ready(db, extensions: list[str], kind: str, category: str = dahdi_loop.DEFAULT_CATEGORY
                    ) -> dahdi_loop.Loop:
    """Put the loop of *kind* and the whole configuration into service (one
    chan_dahdi load, no reload under live R2 links), then log the operators
    in (ready)."""
    lp = configure(kind, category=category)
    ready(db, extensions)
    return lp


def ready(db, extensions: list[str]) -> None:
    """Log the operators in (ready) through Korund's operator states
    (appliance.operators.states)."""
    mgr = manager(db)
    try:
        for ext in extensions:
            with operator_states.immediate(db):
                operator_states.login(db, mgr, ext, by="vm-check")
    finally:
        ami.close(mgr)


def simulator_phones() -> None:
    """The PSTN simulator's Asterisk (127.0.0.2) as the operators' IP phones:
    a phone there answers with a test tone (devtools.simulator)."""
    sim = Instance.at(SIM_BASE)
    if not simulator.settings_path(sim).exists():
        simulator.init(sim, simulator.SimSettings())
    simulator.start(sim, timeout=120)


def originate(mgr, dial: str, ani: str = ANI, dtmf: str = "", variables: dict | None = None) -> None:
    """The test carrier calls out on *dial* with caller number *ani*; when
    the far end answers, its side sends *dtmf* ('w' = 0.5 s pause)."""
    variables = dict(variables or {}, **{dn.VAR_TEST_DTMF: dtmf})
    resp = mgr.send_action({
        "Action": "Originate", "Channel": dial, "Context": dn.CTX_TEST_CARRIER, "Exten": "dtmf",
        "Priority": "1", "CallerID": f"Loop test <{ani}>", "Timeout": "60000", "Async": "true",
        "Variable": [f"{k}={v}" for k, v in variables.items()]})
    if resp.get_header("Response") != "Success":
        raise AssertionError(f"originate on {dial} refused: {resp.get_header('Message')}")


def hangup_dahdi(mgr) -> None:
    mgr.send_action({"Action": "Hangup", "Channel": "/^DAHDI\\//"})


def call_row(db, ani: str, since: str) -> dict | None:
    """The newest inbound call from *ani* that started at or after *since*."""
    cur = db.execute("SELECT * FROM calls WHERE ani = ? AND started_at >= ? ORDER BY started_at DESC LIMIT 1",
                     [ani, since])
    row = cur.fetchone()
    return dict(zip([c[0] for c in cur.description], row)) if row else None


def steps(db, uniqueid: str) -> list[dict]:
    return [json.loads(r[0]) for r in db.execute(
        "SELECT step FROM call_steps WHERE uniqueid = ? ORDER BY seq", [uniqueid])]


def cdr_lines(uniqueid: str) -> list[str]:
    """The CDR log's lines of one call (Asterisk's cdr_csv)."""
    path = instance().cdr_log
    if not path.exists():
        return []
    return [ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if uniqueid in ln]


def now_iso() -> str:
    from datetime import datetime, timezone
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def asterisk(mgr, cli: str) -> str:
    return "\n".join(ami.command(mgr, cli))


def dahdi_channels(mgr) -> set[int]:
    """The channel numbers `dahdi show channels` lists."""
    return {int(m.group(1)) for ln in ami.command(mgr, "dahdi show channels")
            if (m := re.match(r"^\s*(\d+)\s", ln))}


def evidence(db, ani: str, since: str, label: str) -> str:
    """What to read when a call check fails: the call-history row and its IVR
    path, Asterisk's view (uptime, channels, DAHDI/R2/PRI state) and the
    tail of Asterisk's log; the whole log is kept on the output disk."""
    parts = []
    try:
        row = call_row(db, ani, since)
        parts.append(f"call row: {row}")
        if row:
            parts.append(f"IVR path: {steps(db, row['uniqueid'])}")
    except Exception as exc:   # noqa: BLE001 - evidence must not hide the failure
        parts.append(f"call row: {exc!r}")
    try:
        mgr = manager(db)
        try:
            for cli in ("core show uptime", "core show channels concise", "mfcr2 show channels",
                        "pri show spans", "queue show", "pjsip show endpoints", "pjsip show contacts"):
                parts.append(f"> {cli}\n" + "\n".join(ami.command(mgr, cli)[:40]))
        finally:
            ami.close(mgr)
    except Exception as exc:   # noqa: BLE001
        parts.append(f"AMI: {exc!r}")
    log = instance().log / "messages.log"
    if log.exists():
        text = log.read_text(encoding="utf-8", errors="replace")
        try:
            import guest
            guest.out_path(f"f1/{label}-messages.log").write_text(text, encoding="utf-8")
        except Exception:   # noqa: BLE001
            pass
        parts.append("asterisk log tail:\n" + "\n".join(text.splitlines()[-40:]))
    return "\n".join(parts)


def wait_call(db, ani: str, since: str, label: str, condition, timeout: float = 150.0, what: str = "call",
              interval: float = 1.0):
    """wait_for(condition) with the evidence in the failure's message."""
    try:
        return wait_for(condition, timeout=timeout, what=what, interval=interval)
    except WaitTimeout as exc:
        raise AssertionError(f"{exc}\n{evidence(db, ani, since, label)}") from None


def hangup_all_dahdi(db) -> None:
    """Hang up every DAHDI channel (a fresh AMI session; never raises)."""
    try:
        mgr = manager(db)
        try:
            hangup_dahdi(mgr)
        finally:
            ami.close(mgr)
    except Exception:   # noqa: BLE001 - cleaning up must not hide the check's own failure
        pass


def protocol_errors(since_line: int = 0) -> list[str]:
    """chan_dahdi's MFC/R2 and PRI protocol errors in Asterisk's log after
    line *since_line* (see log_lines)."""
    return [ln for ln in log_lines()[since_line:] if "rotocol error" in ln or "Broken MF" in ln]


def log_lines() -> list[str]:
    log = instance().log / "messages.log"
    return log.read_text(encoding="utf-8", errors="replace").splitlines() if log.exists() else []


def asterisk_once(db, cli: str) -> str:
    """One CLI command over a fresh AMI session ('' if Asterisk does not answer)."""
    try:
        mgr = manager(db)
        try:
            return asterisk(mgr, cli)
        finally:
            ami.close(mgr)
    except Exception:   # noqa: BLE001
        return ""


# --- calls the appliance places out (appliance.outbound) ------------------------------


def out_route(route: str, patterns: str, group: str, members: str, **options: str) -> None:
    """Trunk group *group* over the spans *members* ('2'; *options* as the
    command's: hunting='ascending', reserve='29', r2_category=..., caller_id=...,
    strip='3') and the local route *route* (*patterns*) through that group
    only, added or changed with `korund trunk-group` and `korund route` as an
    administrator would; the next call out takes them (no apply)."""
    import guest
    opts = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
    groups = json.loads(guest.korund("trunk-group", "list", "--json").stdout or "[]")
    verb = "change" if any(g["name"] == group for g in groups) else "add"
    guest.korund("trunk-group", verb, group, "--kind=dahdi", f"--members={members}", *opts)
    listed = json.loads(guest.korund("route", "list", "--json").stdout or "[]")
    verb = "change" if any(r["name"] == route for r in listed) else "add"
    guest.korund("route", verb, route, f"--patterns={patterns}", f"--trunk-groups={group}", "--level=local")


def test_dial(db, number: str, route: str = "", span: int | None = None, timeout: float = 150.0) -> dict:
    """A technician's test dial (the Lines page's: appliance.lines.test_dial):
    *number* out through *route* or *span*, held a few seconds after the
    answer; its snapshot (steps, outcome) once it ended."""
    from appliance.lines import test_dial as dial
    placed = dial.start(db, instance(), dial.Registry(), "vm-check", number, route=route or None, span=span)
    wait_for(lambda: not placed.running, timeout=timeout, what=f"the test dial of {number} to end")
    return placed.snapshot()


def call_out(db, number: str, route: str, hold: int = 60) -> str:
    """*number* out through *route* as a test dial places it (korund-outbound,
    purpose 'test'), but held *hold* seconds after the answer, for the far
    end to clear first. The originated Local channel's name prefix."""
    from appliance.lines import test_dial as dial
    call_id = f"{int(time.time() * 1000) % 10 ** dial.ID_DIGITS:0{dial.ID_DIGITS}d}"
    mgr = manager(db)
    try:
        resp = mgr.send_action({
            "Action": "Originate", "Channel": f"Local/{call_id}@{dial.CONTEXT}/n", "Application": "Wait",
            "Data": str(hold), "Async": "true", "Timeout": "90000", "CallerID": f'"Korund test" <{call_id}>',
            "Variable": [f"{dial.VAR_NUMBER}={number}", f"{dial.VAR_ROUTE}={route}", f"{dial.VAR_SPAN}="]})
        if resp.get_header("Response") != "Success":
            raise AssertionError(f"originate of {number} refused: {resp.get_header('Message')}")
    finally:
        ami.close(mgr)
    return f"Local/{call_id}@{dial.CONTEXT}-"


class UserEvents:
    """The UserEvents Asterisk sends while the block runs: the test carrier's
    report of each call it receives from the appliance
    (dn.EVENT_TEST_CARRIER_CALL: Dialled, CallerID, Category and the event's
    own Channel), korund-outbound's report of each try (dn.EVENT_OUTBOUND)...

        with L.UserEvents(db) as seen:
            ...                                  # the appliance calls out
            far = seen.wait(UserEvent=dn.EVENT_TEST_CARRIER_CALL, Dialled="5678")
    """

    def __init__(self, db):
        self.db, self.seen = db, []

    def __enter__(self) -> Self:
        self.mgr = manager(self.db)
        self.mgr.register_event("UserEvent", lambda event, _mgr: self.seen.append(ami.event_headers(event)))
        return self

    def __exit__(self, *exc) -> None:
        ami.close(self.mgr)

    def matching(self, **match: str) -> list[dict]:
        return [h for h in list(self.seen) if all(h.get(k) == v for k, v in match.items())]

    def wait(self, timeout: float = 90.0, **match: str) -> dict:
        return wait_for(lambda: next(iter(self.matching(**match)), None), timeout=timeout,
                        what=f"a UserEvent with {match} (seen: {[h.get('UserEvent') for h in self.seen]})")

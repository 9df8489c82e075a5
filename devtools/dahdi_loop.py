"""Two E1 spans looped to each other as a test bench: span 1 plays
the carrier (role "test_carrier": its channels answer in a test context,
never in the IVR), span 2 is the appliance's own trunk. Without a board the
two spans are software spans of dahdi_dynamic_loc ("loc,1:0" and "loc,1:1"
are each other's far end); with a board, two ports cabled back to back do
the same (pass ``dynamic=False``).

``configure`` stores the pair through the same validation as the Lines page
(appliance.lines.store), puts it into service with Korund's own DAHDI apply
(dahdi_cfg) and Asterisk apply, restarts chan_dahdi's channels (a reload
cannot turn PRI channels into CAS ones) and waits until the spans are up.
The kinds:

- ``pri``: span 1 ISDN PRI network side, span 2 PRI CPE (euroisdn);
- ``r2``: both MFC/R2 (openr2's ITU variant -- there is no Russian one);
  channel k of span 1 is the same circuit as channel k of span 2, so the
  carrier hunts downward (DAHDI/G1) to stay clear of the appliance's
  upward hunting (DAHDI/g2) -- no glare;
- ``analog``: robbed-bit loop-start signalling on CAS: the carrier's
  channel 17 (FXO-signalled) is the exchange ringing the appliance's FXO
  line on its channel 17, the carrier's channel 18 (FXS-signalled) is the
  phone plugged into the appliance's FXS operator port on its channel 18.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from appliance import apply as applier
from appliance.base import ami
from appliance.base.instance import Instance
from appliance.lines import apply as dahdi_apply, r2_circuits, render as dahdi, store as spans

KINDS = ("pri", "r2", "analog")
CARRIER_SPAN, TRUNK_SPAN = 1, 2
ANALOG_LINE_PORT, ANALOG_PHONE_PORT = 17, 18   # timeslots on both spans
DEFAULT_CATEGORY = "national_subscriber"

_COMMON = {"echocanceller": "none", "carrier": "loop-test"}
_PRI = {"framing": "ccs", "coding": "hdb3", "channels": "1-15,17-31", "switchtype": "euroisdn"}
_R2 = {"framing": "cas", "coding": "hdb3", "channels": "1-15,17-31", "signalling": "mfcr2",
       "mfcr2_variant": "ITU", "mfcr2_max_ani": "10", "mfcr2_max_dnis": "4",
       "mfcr2_get_ani_first": "0"}
_ANALOG = {"framing": "cas", "coding": "hdb3", "signalling": "analog", "cidsignalling": "bell",
           "cidstart": "ring", "busydetect": "0", "polarity_hangup": "0"}


@dataclass
class Loop:
    """What a test needs to place calls across the configured loop."""
    kind: str
    spans: list = field(default_factory=list)   # the stored appliance.lines.store.Span pair
    carrier_group: str = ""      # dial string prefix of the carrier's trunk side, e.g. DAHDI/g1
    fxo_line: str = ""           # analog: the carrier's channel that rings the appliance's FXO line
    fxs_phone: str = ""          # analog: the appliance's FXS operator port (an Operator.device)
    telephone: str = ""          # analog: the carrier's channel playing the telephone on that port
    trunk_channels: list[int] = field(default_factory=list)   # DAHDI channel numbers of span 2

    def carrier_dial(self, number: str = "") -> str:
        """The dial string with which the carrier calls the appliance."""
        if self.kind == "analog":
            return self.fxo_line
        return f"{self.carrier_group}/{re.sub(r'[^0-9]', '', number)}"


def settings(kind: str, dynamic: bool = True, category: str = DEFAULT_CATEGORY) -> list[dict]:
    """The raw span settings (as the Lines form posts them) of the loop."""
    if kind not in KINDS:
        raise ValueError(f"kind is one of {', '.join(KINDS)}, not {kind!r}")
    carrier = {"span": CARRIER_SPAN, "name": "Loop test carrier", "role": "test_carrier", "timing": "1"}
    trunk = {"span": TRUNK_SPAN, "name": "Loop appliance trunk", "role": "trunk", "timing": "2"}
    if dynamic:
        carrier["dynamic"], trunk["dynamic"] = "loc,1:0,31,0", "loc,1:1,31,0"
    if kind == "pri":
        carrier.update(_PRI, signalling="pri_net")
        trunk.update(_PRI, signalling="pri_cpe")
    elif kind == "r2":
        carrier.update(_R2, mfcr2_category=category)
        trunk.update(_R2, mfcr2_category=category)
    else:
        # The carrier's FXO-signalled port (a "phone" port in Korund's terms)
        # rings the appliance's FXO line; its FXS-signalled port (a "line")
        # is the operator's telephone on the appliance's FXS port.
        carrier.update(_ANALOG, channels=str(ANALOG_PHONE_PORT), phones=str(ANALOG_LINE_PORT))
        trunk.update(_ANALOG, channels=str(ANALOG_LINE_PORT), phones=str(ANALOG_PHONE_PORT))
    return [dict(_COMMON, **carrier), dict(_COMMON, **trunk)]


def store(db, kind: str, dynamic: bool = True, category: str = DEFAULT_CATEGORY) -> Loop:
    """Replace spans 1 and 2 with the loop pair (validated like the panel's
    form, in one transaction); other spans stay. ConfigError if refused."""
    pair = [spans.validate(raw) for raw in settings(kind, dynamic, category)]
    with db.atomic():
        others = [s for s in spans.load_all(db) if s.span not in (CARRIER_SPAN, TRUNK_SPAN)]
        spans.check_all(sorted(others + pair, key=lambda s: s.span), dahdi.hardware().spans)
        for s in pair:
            exists = db.execute("SELECT 1 FROM spans WHERE span = ?", [s.span]).fetchone()
            spans.save(db, s, create=not exists)
    return describe(db, kind)


def describe(db, kind: str) -> Loop:
    stored = spans.load_all(db)
    bases = dahdi.span_bases(stored, dahdi.hardware())
    pair = [s for s in stored if s.span in (CARRIER_SPAN, TRUNK_SPAN)]
    trunk = next(s for s in pair if s.span == TRUNK_SPAN)
    loop = Loop(kind, pair, carrier_group=f"DAHDI/{'G' if kind == 'r2' else 'g'}{CARRIER_SPAN}",
                trunk_channels=[bases[TRUNK_SPAN] + c for c in spans.expand_channels(trunk.channels)])
    if kind == "analog":
        loop.fxo_line = f"DAHDI/{bases[CARRIER_SPAN] + ANALOG_LINE_PORT}"
        loop.fxs_phone = f"DAHDI/{bases[TRUNK_SPAN] + ANALOG_PHONE_PORT}"
        loop.telephone = f"DAHDI/{bases[CARRIER_SPAN] + ANALOG_PHONE_PORT}"
    return loop


def put_in_service(inst: Instance, db, mgr, run=dahdi_apply.run_tool, configure: bool = True):
    """Put the stored spans into service even when the signalling changes
    (PRI <-> CAS): chan_dahdi lets go of the channels (dahdi_cfg cannot
    change the signalling of an open channel, a reload cannot turn PRI
    channels into CAS ones), dahdi_cfg takes the new system.conf, Asterisk's
    configuration is applied while chan_dahdi is out (its reload is never
    used: after a reload with MFC/R2 links, Asterisk 22 crashes on the next
    R2 call), chan_dahdi is loaded again and every channel
    checked. When system.conf and chan_dahdi.conf stay the same and
    chan_dahdi runs, DAHDI is left alone (Asterisk's apply only).
    DahdiApplyError / ApplyError with what the tools said."""
    targets = dahdi_apply.targets(inst)
    path = targets["chan_dahdi.conf"]
    new = dahdi.render(spans.load_all(db), dahdi.hardware())
    same = mgr is not None and _chan_dahdi_running(mgr) and all(
        targets[name].exists() and targets[name].read_text(encoding="utf-8") == new[name]
        for name in ("system.conf", "chan_dahdi.conf"))
    # The same spans and channels as in service: neither dahdi_cfg (it refuses
    # channels chan_dahdi holds open) nor an unload (app_queue would keep an
    # FXS port it saw while chan_dahdi was out as "Invalid").
    if mgr is not None and not same:
        mgr.send_action({"Action": "ModuleLoad", "Module": "chan_dahdi.so", "LoadType": "unload"})
    written = dahdi_apply.apply(inst, db, None, run=run, configure=configure and not same)
    applier.apply(inst, db, mgr)
    if mgr is not None and not same:
        problems = dahdi_apply.asterisk_reload(mgr, path.read_text(encoding="utf-8"))
        if problems:
            raise dahdi_apply.DahdiApplyError("; ".join(problems))
    return written


def _chan_dahdi_running(mgr) -> bool:
    return bool(re.search(r"chan_dahdi\.so.*\bRunning\b", "\n".join(_lines(mgr, "module show like chan_dahdi"))))


def _lines(mgr, cli: str) -> list[str]:
    try:
        return ami.command(mgr, cli)
    except Exception:   # chan_dahdi still restarting: the command is not there yet
        return []


def is_up(mgr, loop: Loop) -> tuple[bool, str]:
    """(up?, what Asterisk shows) for the configured loop."""
    if loop.kind == "pri":
        shown = _lines(mgr, "pri show spans")
        up = [ln for ln in shown if "Up, Active" in ln]
        return len(up) >= 2, " / ".join(shown)
    if loop.kind == "r2":
        shown = _lines(mgr, "mfcr2 show channels")
        cas = r2_circuits.circuits(shown)
        # idle: Tx IDLE, and Rx IDLE or "CLEAR FO" -- the same bits: openr2 keeps that
        # name for the far end's idle after a circuit was forced idle (appliance.lines.r2_circuits)
        busy = [f"{ch}: {tx}/{rx}" for ch, (tx, rx) in sorted(cas.items())
                if not (tx == "IDLE" and rx in ("IDLE", "CLEAR FO"))]
        return bool(cas) and not busy, " / ".join(shown[:1] + (busy or shown[1:3]))
    shown = _lines(mgr, "dahdi show channels")
    present = {int(m.group(1)) for ln in shown if (m := re.match(r"^\s*(\d+)\s", ln))}
    want = set(loop.trunk_channels) | {int(d.split("/")[1]) for d in (loop.fxo_line, loop.fxs_phone) if d}
    return want <= present, " / ".join(shown[:4])


def wait_up(mgr, loop: Loop, timeout: float = 60.0, clock=time.monotonic, sleep=time.sleep) -> str:
    """Poll until the loop's spans are up; TimeoutError quoting Asterisk."""
    deadline, said = clock() + timeout, ""
    while True:
        up, said = is_up(mgr, loop)
        if up:
            return said
        if clock() > deadline:
            raise TimeoutError(f"the {loop.kind} loop did not come up within {timeout:g}s: {said or 'no output'}")
        sleep(1.0)


def configure(inst: Instance, db, kind: str, mgr, run=dahdi_apply.run_tool, dynamic: bool = True,
              category: str = DEFAULT_CATEGORY, timeout: float = 60.0) -> Loop:
    """Store, put into service and wait for the loop of *kind*."""
    loop = store(db, kind, dynamic, category)
    put_in_service(inst, db, mgr, run=run)
    if mgr is not None:
        wait_up(mgr, loop, timeout)
    return loop

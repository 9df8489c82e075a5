"""Queue members Asterisk holds as unavailable while their phone is not.

app_queue follows a member through the device state of ``PJSIP/<ext>``.
When a configuration reload creates an operator's endpoint, chan_pjsip
works that state out from Stasis' cached snapshot of the endpoint, which
may still say "offline" for a moment after the endpoint went online;
Asterisk 22 then keeps the member "Unavailable" until something else
happens on that phone, and callers wait in a queue whose operator is
ready (seen in the VM: a PRI call queued 150 s for a ready operator).

An endpoint whose AOR has a contact that is not known to be unreachable
(a static contact, or a registration, without a failed qualify) is
online for Asterisk, so "Unavailable"/"Invalid" for its member is such a
stale state. The same happens to an operator on an analog FXS port
(member DAHDI/<n>, appliance.operators.devices): while chan_dahdi is unloaded to
take new spans (devtools.dahdi_loop.put_in_service) app_queue sees the
port "Invalid", and chan_dahdi does not say otherwise once it is back.
``refresh`` finds those members and sends each a Local channel into
CTX_DEVSTATE (appliance.render.dialplan.render_devstate): a channel to
the phone is requested and released without being called, and releasing
a channel makes Asterisk ask the driver again. When res_pjsip itself
keeps the endpoint offline (also seen in the VM: the nudge changed
nothing), a member still stale RESYNC_AFTER seconds later makes
res_pjsip rebuild its endpoints' states from their AORs.
The phone sees nothing; no CDR is written. The events service calls
``refresh`` a few seconds after each reload and every
appliance.operators.states.SYNC_SECONDS; one member is nudged at most once a minute.
"""
from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path

from appliance.base import ami, dialplan_names as dn

log = logging.getLogger(__name__)

STALE = ("Unavailable", "Invalid")
NUDGE_EVERY = 60.0      # a stale member's channel nudge, at most this often
RESYNC_AFTER = 20.0     # still stale this long after the first nudge: res_pjsip rebuilds
RESYNC_EVERY = 120.0    # ... at most this often

# "      Ann (PJSIP/1001) (ringinuse disabled) (Unavailable) has taken no calls yet"
_MEMBER = re.compile(r"\((?P<tech>PJSIP|DAHDI)/(?P<id>[0-9]+)\)(?P<rest>.*?)\bhas taken\b")
# "  Contact:  1001/sip:1001@10.0.0.5:5060      4b3c2d1e0f Unknown         nan"
_CONTACT = re.compile(r"^\s*Contact:\s+(?P<aor>[^<\s/]+)/\S+\s+\S+\s+(?P<status>\w+)")


# "      1 DAHDI/i1/   korund-operators   ..." -- the first column of `dahdi show channels`
_DAHDI_CHANNEL = re.compile(r"^\s*(\d+)\s")


def stale_members(queue_show: list[str], contacts_show: list[str],
                  dahdi_show: list[str] = ()) -> set[str]:
    """Members app_queue holds Unavailable/Invalid although Asterisk has the
    phone: a PJSIP endpoint whose AOR has a contact not known to be
    unreachable, or a DAHDI channel chan_dahdi lists (from the lines of
    ``queue show``, ``pjsip show contacts`` and ``dahdi show channels``).
    Each as its interface: 'PJSIP/1001', 'DAHDI/18'."""
    reachable = {m.group("aor") for line in contacts_show
                 if (m := _CONTACT.match(line)) and m.group("status") != "Unavail"}
    ports = {m.group(1) for line in dahdi_show if (m := _DAHDI_CHANNEL.match(line))}
    stale = set()
    for line in queue_show:
        m = _MEMBER.search(line)
        if not m or not any(f"({s})" in m.group("rest") for s in STALE):
            continue
        if m.group("id") in (reachable if m.group("tech") == "PJSIP" else ports):
            stale.add(f"{m.group('tech')}/{m.group('id')}")
    return stale


def nudge(mgr, interface: str) -> bool:
    """Make Asterisk compute the device state of *interface* ('PJSIP/1001',
    'DAHDI/18') again; a PJSIP phone is also qualified (an OPTIONS request:
    its answer sets the contact's status, which res_pjsip carries up to the
    endpoint's state -- a known cure for an endpoint stuck unavailable)."""
    tech, _, ident = interface.partition("/")
    exten = ident if tech == "PJSIP" else f"d{ident}"
    if tech == "PJSIP":
        mgr.send_action({"Action": "PJSIPQualify", "Endpoint": ident})
    resp = mgr.send_action({
        "Action": "Originate", "Channel": f"Local/{exten}@{dn.CTX_DEVSTATE}/n",
        "Application": "NoOp", "Data": "korund device state", "Timeout": "5000", "Async": "true",
        "Variable": ["CDR_PROP(disable)=1"]})
    return resp.get_header("Response") == "Success"


def resync_pjsip(mgr, pjsip_conf: Path) -> bool:
    """Make res_pjsip rebuild every endpoint's state from its AORs: its
    file is marked changed (Asterisk skips the reload of an unchanged
    file) and res_pjsip reloaded. What the channel nudge cannot mend: seen
    in the VM, an endpoint res_pjsip itself keeps offline after the reload
    that created it although its AOR has a contact."""
    try:
        os.utime(pjsip_conf)
    except OSError as exc:
        log.info("cannot touch %s: %s", pjsip_conf, exc)
        return False
    said = "\n".join(ami.command(mgr, "module reload res_pjsip.so"))
    return "not found" not in said and "ailed" not in said


class Refresher:
    """One per AMI client: which stale members were nudged when, and when
    res_pjsip was last made to rebuild its endpoints' states.

    A member found stale gets the channel nudge (at most once per
    NUDGE_EVERY); a PJSIP member still stale RESYNC_AFTER seconds after its
    first nudge makes res_pjsip rebuild (at most once per RESYNC_EVERY)."""

    def __init__(self, pjsip_conf: Path | None = None, clock=time.monotonic):
        self.pjsip_conf = pjsip_conf
        self.clock = clock
        self.nudged: dict[str, float] = {}
        self.first_seen: dict[str, float] = {}
        self.resynced = -RESYNC_EVERY

    def refresh(self, mgr) -> list[str]:
        """Mend the stale members; what was done ('PJSIP/1001', 'res_pjsip')."""
        try:
            queues = ami.command(mgr, "queue show")
            dahdi = ami.command(mgr, "dahdi show channels") if "(DAHDI/" in "\n".join(queues) else []
            stale = stale_members(queues, ami.command(mgr, "pjsip show contacts"), dahdi)
        except Exception as exc:   # noqa: BLE001 - a dropped AMI session: the next round retries
            log.info("could not read queue members: %s", exc)
            return []
        now = self.clock()
        for gone in set(self.first_seen) - stale:
            del self.first_seen[gone]
        done = []
        for iface in sorted(stale):
            self.first_seen.setdefault(iface, now)
            if now - self.nudged.get(iface, -NUDGE_EVERY) < NUDGE_EVERY:
                continue
            self.nudged[iface] = now
            if nudge(mgr, iface):
                done.append(iface)
        if done:
            log.warning("Asterisk held queue member(s) %s unavailable though their phones are "
                        "reachable; asked it to look again", ", ".join(done))
        lasting = sorted(i for i in stale if i.startswith("PJSIP/") and now - self.first_seen[i] >= RESYNC_AFTER)
        if lasting and self.pjsip_conf is not None and now - self.resynced >= RESYNC_EVERY:
            self.resynced = now
            if resync_pjsip(mgr, self.pjsip_conf):
                log.warning("queue member(s) %s still unavailable: res_pjsip rebuilt its endpoints' states",
                            ", ".join(lasting))
                done.append("res_pjsip")
        return done

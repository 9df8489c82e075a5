"""MFC/R2 circuits left half-released after a call.

On an MFC/R2 trunk the line signalling of each circuit says who has
cleared: the exchange sends "clear forward", the appliance "clear back",
and both return to "idle" once the release is complete. When both ends
hang up at the same moment, chan_dahdi/openr2 can miss the last change of
the far end's bits (both sides' new bits were already on the line before
openr2 looked for them): the circuit then stays "clear back" on our side
with "clear forward" received, for ever, with no call on it. The exchange
cannot seize it again, so every such race costs the trunk one circuit
until Asterisk restarts (seen in the VM: one circuit of the looped pair
stayed CLEAR BACK / CLEAR FORWARD after a call both ends hung up; and the
carrier's end of a circuit stays CLEAR FORWARD / CLEAR FORWARD when the
far end dropped the call without a clear back -- the in-VM check makes
that happen).

``Watchdog.check`` reads ``mfcr2 show channels`` and Asterisk's channels;
a circuit that sends a clear while the far end's bits say cleared or idle,
has no Asterisk channel, and stays exactly so for STUCK_AFTER seconds is
forced back to idle (``mfcr2 set idle <chan>``),
with a warning in the events log and a (cleared) entry in the hardware
alarm log. Circuits in call set-up (seize, MF
signalling: there is no Asterisk channel yet either) or blocked by the
exchange are never touched. The events service runs it every CHECK_EVERY
seconds.
"""
from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timezone

from appliance.base import ami

log = logging.getLogger(__name__)

CHECK_EVERY = 10.0      # how often the events service looks at the circuits
STUCK_AFTER = 15.0      # released on both directions, no call, unchanged this long: stuck
RETRY_EVERY = 60.0      # a circuit that did not go idle is forced again at most this often
ALARM_KIND = "circuit_stuck"

# chan_dahdi prints the CAS names cut to 8 characters: "CLEAR BA", "SEIZE AC", ...
_CAS = r"CLEAR BA\w*|CLEAR FO\w*|SEIZE AC\w*|FORCED R\w*|\S+"
# "   62    2 ITU     10      4        No        No               CLEAR BA CLEAR FO"
_ROW = re.compile(rf"^\s*(?P<chan>\d+)\s+\d+\s.*?\s(?P<tx>{_CAS})\s+(?P<rx>{_CAS})\s*$")
# "DAHDI/62-1!korund-inbound!..." (concise); MFC/R2 channels are named by circuit
# (a PRI call's "DAHDI/i2/<number>-3" is not)
_OWNED = re.compile(r"^DAHDI/(\d+)-")


def circuits(shown: list[str]) -> dict[int, tuple[str, str]]:
    """{channel: (tx CAS, rx CAS)} from the lines of ``mfcr2 show channels``."""
    found = {}
    for line in shown:
        m = _ROW.fullmatch(line)
        if m:
            found[int(m.group("chan"))] = (m.group("tx").upper(), m.group("rx").upper())
    return found


def released(tx: str, rx: str) -> bool:
    """We sent a clear (back or forward) and the far end's bits say cleared
    or idle: the call is over on both ends, but our side has not gone back
    to idle. (Once forced idle, openr2 still names the far end's idle bits
    "clear forward" -- the same bits -- until they change: idle as far as a
    new seizure goes, so Tx IDLE is never a suspect.)"""
    return tx.startswith("CLEAR") and rx.startswith(("CLEAR", "IDLE"))


def owned(channels_concise: list[str]) -> set[int]:
    """DAHDI channel numbers that have an Asterisk channel (``core show channels concise``)."""
    return {int(m.group(1)) for line in channels_concise if (m := _OWNED.match(line))}


def record_alarm(db, chan: int, cas: tuple[str, str], at: str | None = None) -> None:
    """The mend in the hardware alarm log (Hardware health page), raised
    and cleared at once: a technician sees which circuit stuck and when,
    and how often -- a trunk that keeps doing it wants the carrier's look."""
    at = at or datetime.now(timezone.utc).isoformat(timespec="seconds")
    with db.atomic():
        db.execute("INSERT INTO health_alarms (source, kind, severity, message, raised_at, cleared_at) "
                   "VALUES (?, ?, 'warning', ?, ?, ?)",
                   [f"r2:{chan}", ALARM_KIND, f"MFC/R2 circuit {chan} stayed half-released "
                    f"(tx {cas[0]}, rx {cas[1]}) with no call; returned to idle", at, at])


class Watchdog:
    """Remembers since when each circuit has shown the same released state;
    *on_forced(chan, (tx, rx))* is called for each circuit forced idle."""

    def __init__(self, clock=time.monotonic, on_forced=None):
        self.clock = clock
        self.on_forced = on_forced
        self.since: dict[int, tuple[tuple[str, str], float]] = {}
        self.forced: dict[int, float] = {}

    def check(self, mgr) -> list[int]:
        """Force the stuck circuits idle; the channels forced."""
        try:
            shown = circuits(ami.command(mgr, "mfcr2 show channels"))
            if not any(released(*cas) for cas in shown.values()):
                self.since.clear()
                return []
            busy = owned(ami.command(mgr, "core show channels concise"))
        except Exception as exc:   # noqa: BLE001 - a dropped AMI session: the next round retries
            log.info("could not read the MFC/R2 circuits: %s", exc)
            return []
        now = self.clock()
        suspects = {ch: cas for ch, cas in shown.items() if released(*cas) and ch not in busy}
        for ch in set(self.since) - set(suspects):
            del self.since[ch]
        forced = []
        for ch, cas in sorted(suspects.items()):
            seen, first = self.since.get(ch, (None, now))
            if seen != cas:
                self.since[ch] = (cas, now)
                continue
            if now - first < STUCK_AFTER or now - self.forced.get(ch, -RETRY_EVERY) < RETRY_EVERY:
                continue
            said = "\n".join(ami.command(mgr, f"mfcr2 set idle {ch}"))
            self.forced[ch] = now
            if "not found" in said or "No such command" in said:
                log.info("could not force MFC/R2 channel %d idle: %s", ch, said.strip())
                continue
            forced.append(ch)
            if self.on_forced is not None:
                try:
                    self.on_forced(ch, cas)
                except Exception:   # noqa: BLE001 - the mend stands even if its record fails
                    log.exception("could not record the mend of MFC/R2 channel %d", ch)
            log.warning("MFC/R2 channel %d stayed half-released (tx %s, rx %s) with no call for %.0f s; "
                        "forced it back to idle", ch, cas[0], cas[1], now - first)
        return forced

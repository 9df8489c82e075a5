"""DAHDI spans and channels: alarms, counters, timing, line config, channels.

Two sources, both read through one Root:
  - sysfs, /sys/bus/dahdi_spans/devices/span-N/ (dahdi-sysfs.c: name, desc,
    spantype, alarms "0x%x", lbo, syncsrc, is_digital, is_sync_master,
    basechan, channels, lineconfig) and its "ddev" link to
    /sys/bus/dahdi_devices/devices/<dev>/ (manufacturer, type, hardware_id,
    location);
  - /proc/dahdi/N (dahdi-base.c dahdi_seq_show): the header line
        Span 1: TE4/0/1 "T4XXP (PCI) Card 0 Span 1" (MASTER) HDB3/CCS/CRC4 RED ClockSource
    then the counters it prints only when non-zero ("BPV count: %d",
    "CRC4 error count: %d", "E-bit error count: %d", "FAS error count: %d",
    "IRQ misses: %d", "Timing slips: %d"), a blank line, and one line per
    channel: "\t%4d NAME SIG [Master] [Reserved] [(In use)] [ALARMS] [(EC: X - ACTIVE)]".
A span present in only one of them is still reported.

Example:
    for s in spans(Root("tests/fixtures/hw/te410p_e1")):
        print(s.number, s.name, sorted(s.alarms), s.counters)
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from .root import Root

SPANS_SYS = "sys/bus/dahdi_spans/devices"
DEVICES_SYS = "sys/bus/dahdi_devices/devices"
PROC = "proc/dahdi"

# DAHDI_ALARM_* bits (include/dahdi/user.h)
ALARM_BITS = {1 << 0: "RECOVER", 1 << 1: "LOOPBACK", 1 << 2: "YELLOW", 1 << 3: "RED",
              1 << 4: "BLUE", 1 << 5: "NOTOPEN", 1 << 8: "LOS", 1 << 9: "LFA", 1 << 10: "LMFA"}
# The words /proc prints (fill_alarm_string) -> our names.
ALARM_WORDS = {"BLUE": "BLUE", "YELLOW": "YELLOW", "RED": "RED", "LOOP": "LOOPBACK",
               "RECOVERING": "RECOVER", "NOTOPEN": "NOTOPEN"}
# Worst first: what a status line should say about a span.
SEVERITY = ["RED", "LOS", "LFA", "LMFA", "BLUE", "YELLOW", "LOOPBACK", "RECOVER", "NOTOPEN"]

COUNTER_LINES = {"BPV count": "bpv", "CRC4 error count": "crc4", "E-bit error count": "ebit",
                 "FAS error count": "fas", "IRQ misses": "irq_misses", "Timing slips": "slips"}
COUNTERS = list(COUNTER_LINES.values())

# sigstr() in dahdi-base.c, longest first so "E&M-E1" wins over "E&M".
SIGNALLING = sorted(["FXSLS", "FXSKS", "FXSGS", "FXOLS", "FXOKS", "FXOGS", "E&M", "E&M-E1",
                     "Clear", "HDLCRAW", "HDLCFCS", "HDLCNET", "Hardware-assisted HDLC", "MTP2",
                     "Slave", "CAS", "DACS", "DACS+RBS", "SF (ToneOnly)", "Unconfigured"],
                    key=len, reverse=True)

CODINGS = {"HDB3", "AMI", "B8ZS"}
FRAMINGS = {"CCS", "CAS", "ESF", "D4"}

_HEADER = re.compile(r'^Span (\d+): (\S+) "(.*)"(.*)$')
_CHANNEL = re.compile(r"^\s*(\d+) (\S+) ?(.*)$")
_EC = re.compile(r"\(EC: (.+?) - (ACTIVE|INACTIVE)\)")


class SpanNotFound(LookupError):
    pass


@dataclass
class Channel:
    number: int
    name: str
    signalling: str | None        # as DAHDI prints it ("CAS", "FXOKS", ...); None = none
    in_use: bool = False
    reserved: bool = False
    alarms: set[str] = field(default_factory=set)
    echo_canceller: str | None = None
    echo_active: bool = False

    @property
    def kind(self) -> str:
        """What the channel is for the panel: dchan, bchan, fxo, fxs, cas, unused..."""
        sig = self.signalling or ""
        if "HDLC" in sig or sig == "MTP2":
            return "dchan"
        if sig.startswith("FXO"):
            return "fxs"      # FXO signalling drives an FXS port (a phone)
        if sig.startswith("FXS"):
            return "fxo"      # FXS signalling talks to an FXO line (the exchange)
        if sig in ("CAS", "E&M", "E&M-E1", "DACS+RBS"):
            return "cas"
        if sig == "Clear":
            return "bchan"
        if self.reserved:
            return "reserved"
        return "unconfigured"


@dataclass
class Span:
    number: int
    name: str
    description: str
    alarms: set[str] = field(default_factory=set)
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    timing_source: bool = False        # DAHDI's sync master ("(MASTER)", is_sync_master)
    clock_source: bool = False         # the board recovers its clock from this span
    syncsrc: int | None = None         # the span the device takes timing from (0 = none)
    coding: str | None = None          # HDB3 / AMI / B8ZS
    framing: str | None = None         # CCS / CAS / ESF / D4
    crc4: bool = False
    spantype: str | None = None        # E1, T1, J1, FXS, FXO, BRI...
    is_digital: bool | None = None
    lbo: int | None = None
    basechan: int | None = None
    channel_count: int | None = None
    device: str | None = None          # the DAHDI device ("pci:0000:05:08.0", "dynamic:loc:0")
    hardware_id: str | None = None
    location: str | None = None
    manufacturer: str | None = None
    device_type: str | None = None
    channels: list[Channel] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.alarms

    @property
    def worst_alarm(self) -> str | None:
        for a in SEVERITY:
            if a in self.alarms:
                return a
        return None

    @property
    def in_use(self) -> int:
        return sum(1 for c in self.channels if c.in_use)

    @property
    def line_config(self) -> str:
        parts = [p for p in (self.coding, self.framing) if p]
        if self.crc4:
            parts.append("CRC4")
        return "/".join(parts)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["alarms"] = sorted(self.alarms)
        d["worst_alarm"] = self.worst_alarm
        d["line_config"] = self.line_config
        d["ok"] = self.ok
        d["in_use"] = self.in_use
        for c, ch in zip(d["channels"], self.channels):
            c["alarms"] = sorted(ch.alarms)
            c["kind"] = ch.kind
        return d


def alarms_from_bits(value: str | int | None) -> set[str]:
    """The sysfs "alarms" attribute ("0x8") as names."""
    if value is None or value == "":
        return set()
    try:
        bits = int(value, 0) if isinstance(value, str) else int(value)
    except ValueError:
        return set()
    return {name for bit, name in ALARM_BITS.items() if bits & bit}


def _int(v: str | None) -> int | None:
    try:
        return int(v) if v not in (None, "") else None
    except ValueError:
        return None


def _line_tokens(span: Span, tokens: list[str]) -> None:
    for t in tokens:
        t = t.upper()
        if t in CODINGS:
            span.coding = t
        elif t in FRAMINGS:
            span.framing = t
        elif t == "CRC4":
            span.crc4 = True


def parse_proc(text: str) -> Span:
    """One /proc/dahdi/N file."""
    lines = text.splitlines()
    if not lines:
        raise ValueError("empty /proc/dahdi span file")
    m = _HEADER.fullmatch(lines[0])
    if not m:
        raise ValueError(f"not a DAHDI span header: {lines[0]!r}")
    span = Span(int(m.group(1)), m.group(2), m.group(3))
    for tok in m.group(4).split():
        if tok == "(MASTER)":
            span.timing_source = True
        elif tok == "ClockSource":
            span.clock_source = True
        elif "/" in tok:
            _line_tokens(span, tok.split("/"))
        elif tok in ALARM_WORDS:
            span.alarms.add(ALARM_WORDS[tok])
    for line in lines[1:]:
        stripped = line.strip()
        if not stripped:
            continue
        key, sep, value = stripped.partition(":")
        if sep and key in COUNTER_LINES:
            span.counters[COUNTER_LINES[key]] = _int(value.strip()) or 0
            continue
        cm = _CHANNEL.fullmatch(line)
        if cm:
            span.channels.append(parse_channel(int(cm.group(1)), cm.group(2), cm.group(3)))
    return span


def parse_channel(number: int, name: str, rest: str) -> Channel:
    ch = Channel(number, name, None)
    ec = _EC.search(rest)
    if ec:
        ch.echo_canceller, ch.echo_active = ec.group(1), ec.group(2) == "ACTIVE"
        rest = rest[:ec.start()] + rest[ec.end():]
    if "(In use)" in rest:
        ch.in_use = True
        rest = rest.replace("(In use)", " ")
    rest = rest.replace("(no pcm)", " ").strip()
    for sig in SIGNALLING:
        if rest == sig or rest.startswith(sig + " "):
            ch.signalling = None if sig == "Unconfigured" else sig
            rest = rest[len(sig):]
            break
    for tok in rest.split():
        if tok == "Reserved":
            ch.reserved = True
        elif tok in ALARM_WORDS:
            ch.alarms.add(ALARM_WORDS[tok])
    return ch


def _from_sysfs(root: Root, entry: str) -> Span | None:
    base = f"{SPANS_SYS}/{entry}"
    number = _int(entry.removeprefix("span-"))
    if number is None:
        return None
    span = Span(number, root.read(f"{base}/name", "") or "", root.read(f"{base}/desc", "") or "")
    span.alarms = alarms_from_bits(root.read(f"{base}/alarms"))
    span.spantype = root.read(f"{base}/spantype") or None
    span.lbo = _int(root.read(f"{base}/lbo"))
    span.syncsrc = _int(root.read(f"{base}/syncsrc"))
    dig = root.read(f"{base}/is_digital")
    span.is_digital = None if dig is None else dig == "1"
    span.timing_source = root.read(f"{base}/is_sync_master") == "1"
    span.clock_source = bool(span.syncsrc) and span.syncsrc == number
    span.basechan = _int(root.read(f"{base}/basechan"))
    span.channel_count = _int(root.read(f"{base}/channels"))
    _line_tokens(span, re.split(r"[/|,\s]+", root.read(f"{base}/lineconfig", "") or ""))
    ddev = root.link_name(f"{base}/ddev")
    if ddev:
        span.device = ddev
        dbase = f"{DEVICES_SYS}/{ddev}"
        span.hardware_id = root.read(f"{dbase}/hardware_id") or None
        span.location = root.read(f"{dbase}/location") or None
        span.manufacturer = root.read(f"{dbase}/manufacturer") or None
        span.device_type = root.read(f"{dbase}/type") or None
    return span


def _merge(sysfs: Span | None, proc: Span | None) -> Span:
    if sysfs is None:
        return proc
    if proc is None:
        return sysfs
    s = sysfs
    s.name = s.name or proc.name
    s.description = s.description or proc.description
    s.alarms |= proc.alarms
    s.counters = proc.counters
    s.channels = proc.channels
    s.timing_source = s.timing_source or proc.timing_source
    s.clock_source = s.clock_source or proc.clock_source
    s.coding = s.coding or proc.coding
    s.framing = s.framing or proc.framing
    s.crc4 = s.crc4 or proc.crc4
    return s


def spans(root: Root | str | None = None) -> list[Span]:
    """Every DAHDI span, by number. [] when DAHDI is not loaded."""
    root = Root.of(root)
    by_sysfs = {}
    for entry in root.listdir(SPANS_SYS):
        s = _from_sysfs(root, entry)
        if s:
            by_sysfs[s.number] = s
    by_proc = {}
    for entry in root.listdir(PROC):
        if not entry.isdigit():
            continue
        text = root.read_raw(f"{PROC}/{entry}")
        try:
            s = parse_proc(text or "")
        except ValueError:
            continue
        by_proc[s.number] = s
    return [_finish(_merge(by_sysfs.get(n), by_proc.get(n)))
            for n in sorted(set(by_sysfs) | set(by_proc))]


def _finish(s: Span) -> Span:
    # /proc prints only CCS/ESF/D4 as framing: an E1 line code with no framing
    # word is channel-associated signalling.
    if s.framing is None and s.coding in ("HDB3", "AMI"):
        s.framing = "CAS"
    return s


def span(root: Root | str | None, number: int) -> Span:
    for s in spans(root):
        if s.number == number:
            return s
    raise SpanNotFound(f"no DAHDI span {number}")


def timing(root: Root | str | None = None) -> dict:
    """Which span DAHDI takes its timing from (None: no span = internal/none)."""
    all_spans = spans(root)
    master = next((s for s in all_spans if s.timing_source), None)
    return {"master": master.number if master else None,
            "name": master.name if master else None,
            "description": master.description if master else None,
            "clock_sources": [s.number for s in all_spans if s.clock_source],
            "spans": len(all_spans)}


def alarm_summary(root: Root | str | None = None) -> dict:
    """One line's worth for the status page and the front panel."""
    all_spans = spans(root)
    bad = [s for s in all_spans if s.alarms]
    worst = None
    for a in SEVERITY:
        if any(a in s.alarms for s in bad):
            worst = a
            break
    return {"spans": len(all_spans), "ok": not bad, "worst": worst,
            "in_alarm": [{"span": s.number, "name": s.name, "alarms": sorted(s.alarms),
                          "worst": s.worst_alarm} for s in bad]}

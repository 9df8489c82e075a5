"""DAHDI's /etc/dahdi/system.conf and /etc/dahdi/modules, and Asterisk's
chan_dahdi.conf, from the panel's span settings (appliance/lines/store.py) and the
boards the inventory found (drivers/).

The policy -- which chan_dahdi options each kind of line gets, system.conf's
keywords, span sizes, zone -- is data in dahdi-conf/policy.toml; this module
is the code that lays channels out and fills the policy in. Nothing here
touches the disk or runs a tool (see appliance/lines/apply.py).

Channel numbers: DAHDI numbers channels across all spans in span order, so
channel k of span n is base(n) + k, where base(n) is the number of channels
of the spans before it -- taken from the inventory when the board is there,
else from the stored settings (31 for an E1, 24 for a T1), so a configuration
can be prepared before the board is plugged in.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from appliance.base import dialplan_names as dn
from appliance.lines import store as span_settings
from appliance.lines.store import HardwareSpan, Span, expand_channels

POLICY_FILE = Path(os.environ.get("KORUND_DAHDI_POLICY",
                                  Path(__file__).resolve().parents[2] / "dahdi-conf" / "policy.toml"))
PHONE_GROUP_OFFSET = 20   # FXS phones of span n ring as DAHDI/g<20+n>


def load_policy(path: Path = POLICY_FILE) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


@dataclass
class Hardware:
    """The inventory as this generator needs it."""
    spans: dict[int, HardwareSpan] = field(default_factory=dict)
    drivers: list[str] = field(default_factory=list)   # kernel modules of the boards found


def _is_analog(span) -> bool:
    kind = (span.spantype or "").upper()
    return span.is_digital is False or "ANALOG" in kind or kind in ("FXS", "FXO")


def _driver(span) -> str:
    device = span.device or ""
    if device.startswith("dynamic:"):       # "dynamic:loc:0" -> dahdi_dynamic_loc
        return "dahdi_dynamic_" + device.split(":")[1]
    return ""


def hardware(root=None) -> Hardware:
    """Read the inventory through drivers/ (under *root*, drivers.root.Root:
    "/" or $KORUND_HW_ROOT). An appliance without boards gives an empty
    inventory: the stored settings then decide."""
    try:
        from drivers import inventory, spans as hw_spans
    except ImportError:
        return Hardware()
    found = Hardware()
    try:
        listed, boards = hw_spans.spans(root), inventory.boards(root)
    except OSError:
        return found
    for s in listed:
        ports = {i + 1: ch.kind for i, ch in enumerate(s.channels) if ch.kind in ("fxo", "fxs")}
        found.spans[s.number] = HardwareSpan(
            number=s.number, size=s.channel_count or len(s.channels), driver=_driver(s),
            ports=ports if _is_analog(s) else None,
            base=s.basechan - 1 if s.basechan else None)
    for board in boards:
        if board.supported and board.driver and board.driver not in found.drivers:
            found.drivers.append(board.driver)
    return found


def span_bases(spans: list[Span], hw: Hardware) -> dict[int, int]:
    """{span number: the global DAHDI channel number before its first channel}."""
    by_number = {s.span: s for s in spans}
    top = max([s.span for s in spans] + list(hw.spans) + [0])
    bases, total = {}, 0
    for n in range(1, top + 1):
        if n in hw.spans and hw.spans[n].base is not None:
            total = hw.spans[n].base
        bases[n] = total
        if n in hw.spans:
            total += hw.spans[n].size
        elif n in by_number:
            total += by_number[n].size
        else:
            total += span_settings.SPAN_SIZES["e1"]
    return bases


def ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> "1-3,5"."""
    out, numbers = [], sorted(numbers)
    i = 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        out.append(str(numbers[i]) if i == j else f"{numbers[i]}-{numbers[j]}")
        i = j + 1
    return ",".join(out)


def _global(span: Span, base: int, text: str) -> str:
    return ranges([base + c for c in expand_channels(text)])


def _split_at(span: Span, base: int, text: str) -> list[str]:
    """Global ranges, split around timeslot 16 of an E1 like DAHDI's samples."""
    chans = expand_channels(text)
    if span.line_type == "e1":
        parts = [[c for c in chans if c < 16], [c for c in chans if c > 16]]
    else:
        parts = [chans]
    return [ranges([base + c for c in p]) for p in parts if p]


def _dchan_keyword(span: Span, hw: Hardware, policy: dict) -> str:
    if span.dynamic:
        return "dchan"
    driver = hw.spans[span.span].driver if span.span in hw.spans else ""
    return "dchan" if driver in policy["hdlc"]["software"] else "hardhdlc"


def system_conf(spans: list[Span], hw: Hardware, policy: dict) -> str:
    sysk = policy["system"]
    live = [s for s in spans if s.enabled]
    bases = span_bases(spans, hw)
    out = [f"# {policy['header']}\n# DAHDI spans and channels, from the Lines page of Korund's panel.\n\n"]
    out.append(f"loadzone = {policy['zone']}\ndefaultzone = {policy['zone']}\n\n")
    for s in live:
        if s.dynamic:
            driver, address, nchan, timing = s.dynamic.split(",")
            out.append(f"dynamic={driver},{address},{nchan},{timing}\n")
    for s in live:
        base = bases[s.span]
        out.append(f"# span {s.span}: {s.name} ({s.line_type}, {s.signalling})\n")
        if s.line_type != "analog" and not s.dynamic:
            line = f"span={s.span},{s.timing},{s.lbo},{s.framing},{s.coding}"
            out.append(line + (",crc4" if s.crc4 else "") + "\n")
        if s.signalling.startswith("pri"):
            for r in _split_at(s, base, s.channels):
                out.append(f"{sysk['pri']}={r}\n")
            dchan = s.dchannel or span_settings.D_CHANNEL[s.line_type]
            out.append(f"{_dchan_keyword(s, hw, policy)}={base + dchan}\n")
        elif s.signalling == "mfcr2":
            for r in _split_at(s, base, s.channels):
                out.append(f"{sysk['mfcr2']}={r}:{sysk['mfcr2_bits']}\n")
        else:
            if s.channels:
                out.append(f"{sysk['fxo_line']}={_global(s, base, s.channels)}\n")
            if s.phones:
                out.append(f"{sysk['fxs_phone']}={_global(s, base, s.phones)}\n")
        voice = ranges([base + c for c in expand_channels(s.channels) + expand_channels(s.phones)])
        if s.dynamic and s.line_type == "e1" and voice:
            # dahdi_dynamic makes every span mu-law; an E1 is A-law (board drivers
            # set it). chan_dahdi puts a channel back to the span's law after each
            # call while MFC/R2 calls are taken in A-law: on a mu-law span every
            # call after a circuit's first heard the caller's keys garbled.
            out.append(f"alaw={voice}\n")
        if s.echocanceller != "none":
            out.append(f"echocanceller={s.echocanceller},{voice}\n")
        out.append("\n")
    return "".join(out)


def modules(spans: list[Span], hw: Hardware, policy: dict) -> str:
    """/etc/dahdi/modules: the boards' drivers, the dynamic span drivers and
    the echo cancellers in use, one kernel module a line."""
    live = [s for s in spans if s.enabled]
    mods = list(hw.drivers)
    for s in live:
        if s.dynamic:
            for m in ("dahdi_dynamic", f"dahdi_dynamic_{s.dynamic.split(',')[0]}"):
                if m not in mods:
                    mods.append(m)
    for ec in sorted({s.echocanceller for s in live} - {"none"}):
        mods.append(f"dahdi_echocan_{ec}")
    note = "" if hw.drivers else "# No DAHDI board was found; add the board's driver once it is installed.\n"
    return f"# {policy['header']}\n# Kernel modules loaded by 'dahdi start', in order.\n{note}" + \
        "".join(f"{m}\n" for m in mods)


def _block(kind: str, values: dict, policy: dict, span: Span) -> list[str]:
    """The options of one channel range: the reset defaults, then the kind's."""
    merged = dict(policy["chan_dahdi"]["reset"])
    merged.update({k: str(t).format(**values) for k, t in policy["chan_dahdi"][kind].items()})
    if span.echocanceller == "none":
        merged["echocancel"] = "no"
    return [f"{k} = {v}\n" for k, v in merged.items()]


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def chan_dahdi_conf(spans: list[Span], hw: Hardware, policy: dict) -> str:
    live = [s for s in spans if s.enabled]
    bases = span_bases(spans, hw)
    out = [f"; {policy['header']}\n; Asterisk's DAHDI channels, from the Lines page of Korund's panel.\n\n",
           "[trunkgroups]\n\n[channels]\n"]
    out += [f"{k} = {v}\n" for k, v in policy["chan_dahdi"]["general"].items()]
    for s in live:
        base = bases[s.span]
        values = {k: (_yes(v) if isinstance(v, bool) else v) for k, v in vars(s).items()}
        carrier = s.role == "test_carrier"
        values.update(group=s.span, context=dn.CTX_TEST_CARRIER if carrier else dn.CTX_INBOUND,
                      mfcr2_variant=(s.mfcr2_variant or "").lower())
        out.append(f"\n; span {s.span}: {s.name}" + (" (test carrier of a loop-back test)" if carrier else "")
                   + "\n")
        if s.signalling.startswith("pri") or s.signalling == "mfcr2":
            kind = "pri" if s.signalling.startswith("pri") else "mfcr2"
            out += _block(kind, values, policy, s)
            out.append(f"channel => {_global(s, base, s.channels)}\n")
            continue
        if s.channels:
            out += _block("fxo_line", values, policy, s)
            out.append(f"channel => {_global(s, base, s.channels)}\n")
        if s.phones:
            out.append(f"; span {s.span}: operators' phones, DAHDI/g{PHONE_GROUP_OFFSET + s.span}\n")
            values.update(group=PHONE_GROUP_OFFSET + s.span,
                          context=dn.CTX_TEST_CARRIER if carrier else dn.CTX_OPERATORS)
            out += _block("fxs_phone", values, policy, s)
            out.append(f"channel => {_global(s, base, s.phones)}\n")
    return "".join(out)


def render(spans: list[Span], hw: Hardware | None = None, policy: dict | None = None) -> dict[str, str]:
    """{"system.conf", "modules", "chan_dahdi.conf": text}, after checking the
    spans together and against the hardware (ConfigError otherwise)."""
    hw = hw or Hardware()
    policy = policy or load_policy()
    span_settings.check_all(spans, hw.spans)
    return {"system.conf": system_conf(spans, hw, policy),
            "modules": modules(spans, hw, policy),
            "chan_dahdi.conf": chan_dahdi_conf(spans, hw, policy)}


def asterisk_conf(spans: list[Span], hw: Hardware | None = None) -> str:
    """chan_dahdi.conf for the Asterisk configuration set (appliance.render):
    not checked here -- a span the board contradicts must not block the rest
    of Asterisk's configuration; the DAHDI apply refuses it with the reason."""
    return chan_dahdi_conf(spans, hw if hw is not None else hardware(), load_policy())


def dialable(span: Span, hw: Hardware | None = None, spans: list[Span] | None = None) -> list[str]:
    """Dial strings of a span's operator phones (FXS ports): DAHDI/<channel>."""
    bases = span_bases(spans or [span], hw or Hardware())
    return [f"DAHDI/{bases[span.span] + c}" for c in expand_channels(span.phones)]

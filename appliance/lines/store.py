"""E1/T1 span and analog port settings (H1, H2): stored here and turned into
DAHDI's system.conf and chan_dahdi.conf by appliance/lines/render.py.

Validation follows what the boards, DAHDI and openr2 really accept: PRI needs
CCS framing with the D channel on timeslot 16 of an E1; MFC/R2 and analog
robbed-bit signalling need CAS; openr2 has no Russian variant, so 'ru' is
refused with an explanation instead of letting chan_dahdi fall back to ITU
silently. ``validate`` checks one span; ``check_all`` checks the spans
together and against the hardware inventory (when a board is there).
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from appliance.base.errors import DISPLAY_NAME, ConfigError, check_match

LINE_TYPES = ("e1", "t1", "analog")
FRAMINGS = ("ccs", "cas", "d4", "esf")
CODINGS = ("hdb3", "ami", "b8zs")
E1_FRAMINGS, T1_FRAMINGS = ("ccs", "cas"), ("d4", "esf")
E1_CODINGS, T1_CODINGS = ("hdb3", "ami"), ("b8zs", "ami")
# "analog": FXO line ports (channels) and FXS operator-phone ports (phones),
# on an analog board or as robbed-bit signalling on a CAS span.
SIGNALLINGS = ("pri_cpe", "pri_net", "mfcr2", "analog")
SWITCHTYPES = ("euroisdn", "qsig", "national", "ni1", "dms100", "4ess", "5ess")
# openr2 1.3.3's variants (no Russian one).
MFCR2_VARIANTS = ("ITU", "AR", "BR", "CN", "CZ", "CO", "EC", "ID", "MX", "PH", "VE")
MFCR2_CATEGORIES = ("national_subscriber", "national_priority_subscriber",
                    "international_subscriber", "international_priority_subscriber", "collect_call")
DIALPLANS = ("unknown", "local", "national", "international", "private", "dynamic", "redundant")
OVERLAPDIAL = ("no", "yes", "incoming", "outgoing")
CID_SIGNALLINGS = ("v23", "bell", "dtmf", "v23_jp", "smdi")
CID_STARTS = ("ring", "polarity", "polarity_IN", "dtmf")
ECHO_CANCELLERS = ("oslec", "mg2", "none")
# "trunk": the appliance's own line, its calls go to the IVR. "test_carrier":
# the far end of a loop-back test (two spans cabled or looped in software to
# each other): its channels answer in a test context and never reach the IVR.
ROLES = ("trunk", "test_carrier")
MAX_SPANS = 8
MAX_PORTS = 31
CHANNELS = re.compile(r"^\d{1,2}(-\d{1,2})?(,\d{1,2}(-\d{1,2})?)*$")
DYNAMIC = re.compile(r"^(loc|eth|ethmf),[0-9A-Za-z:._-]{1,40},(24|31),\d{1,2}$")
SPAN_SIZES = {"e1": 31, "t1": 24}
D_CHANNEL = {"e1": 16, "t1": 24}


@dataclass
class Span:
    span: int
    name: str
    framing: str = "ccs"
    coding: str = "hdb3"
    crc4: bool = True
    signalling: str = "pri_cpe"
    switchtype: str | None = "euroisdn"
    mfcr2_variant: str | None = None
    mfcr2_max_ani: int | None = None
    mfcr2_max_dnis: int | None = None
    timing: int = 1
    channels: str = "1-15,17-31"
    enabled: bool = True
    # line kind, PRI numbering, MFC/R2 options, analog ports, echo canceller,
    # carrier and dynamic span source
    line_type: str = "e1"
    lbo: int = 0
    dchannel: int | None = 16
    carrier: str = ""
    pri_dialplan: str = "unknown"
    pri_local_dialplan: str = "unknown"
    overlapdial: str = "no"
    mfcr2_category: str = "national_subscriber"
    mfcr2_get_ani_first: bool = False
    phones: str = ""
    cidsignalling: str = "v23"
    cidstart: str = "ring"
    busydetect: bool = True
    polarity_hangup: bool = True
    echocanceller: str = "oslec"
    dynamic: str = ""
    # "trunk", or "test_carrier": the far end of a loop test, whose channels
    # go to a test context, never to the IVR
    role: str = "trunk"

    @property
    def size(self) -> int:
        """Timeslots (or ports) the stored settings imply, without a board."""
        if self.line_type in SPAN_SIZES:
            return SPAN_SIZES[self.line_type]
        return max(expand_channels(self.channels) + expand_channels(self.phones) + [1])


def _int(value, field: str, lo: int, hi: int) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ConfigError(field, "'{value}' is not a number", value=value) from None
    if not lo <= n <= hi:
        raise ConfigError(field, "must be between {lo} and {hi}", lo=lo, hi=hi)
    return n


def _flag(raw: dict, field: str, default: bool) -> bool:
    value = raw.get(field)
    if value is None:
        return default
    return str(value).lower() in ("1", "true", "on", "yes")


def _choice(raw: dict, field: str, choices, default: str) -> str:
    value = str(raw.get(field) or default)
    value = value if value in choices else value.lower()
    if value not in choices:
        raise ConfigError(field, "one of {choices}", choices=", ".join(choices))
    return value


def expand_channels(text: str) -> list[int]:
    out = []
    for part in filter(None, (text or "").split(",")):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _ranges(raw: dict, field: str, default: str, required: bool) -> tuple[str, list[int]]:
    text = str(raw.get(field) if raw.get(field) is not None else default).replace(" ", "")
    if not text and not required:
        return "", []
    if not CHANNELS.fullmatch(text):
        raise ConfigError(field, "ranges like 1-15,17-31")
    chans = expand_channels(text)
    if any(hi and int(hi) < int(lo) for lo, _, hi in (p.partition("-") for p in text.split(","))):
        raise ConfigError(field, "a range must go upwards, like 1-15")
    if any(not 1 <= c <= MAX_PORTS for c in chans) or len(set(chans)) != len(chans):
        raise ConfigError(field, "timeslots 1-31, each once")
    return text, chans


def validate(raw: dict) -> Span:
    """A Span from form/API values, or ConfigError naming the first bad field."""
    s = Span(span=_int(raw.get("span"), "span", 1, MAX_SPANS),
             name=check_match(DISPLAY_NAME, raw.get("name") or f"E1 {raw.get('span')}", "name", "name"))
    s.line_type = _choice(raw, "line_type", LINE_TYPES, "e1")
    s.signalling = _choice(raw, "signalling", SIGNALLINGS, "analog" if s.line_type == "analog" else "pri_cpe")
    if s.line_type == "analog" and s.signalling != "analog":
        raise ConfigError("signalling", "an analog board carries analog lines and phones only, "
                                        "not ISDN PRI or MFC/R2")
    s.crc4 = _flag(raw, "crc4", s.line_type == "e1")
    s.enabled = _flag(raw, "enabled", True)
    s.timing = _int(raw.get("timing", 1), "timing", 0, MAX_SPANS)
    s.lbo = _int(raw.get("lbo") or 0, "lbo", 0, 7)
    s.carrier = str(raw.get("carrier") or "").strip()
    if s.carrier:
        check_match(DISPLAY_NAME, s.carrier, "carrier", "carrier name")
    s.echocanceller = _choice(raw, "echocanceller", ECHO_CANCELLERS, "oslec")
    s.role = _choice(raw, "role", ROLES, "trunk")
    s.dynamic = str(raw.get("dynamic") or "").strip()
    if s.dynamic and not DYNAMIC.fullmatch(s.dynamic):
        raise ConfigError("dynamic", "a dynamic span is driver,address,channels,timing like loc,1:0,31,0")
    s.channels, chans = _ranges(raw, "channels", "" if s.line_type == "analog" else s.channels,
                                required=s.signalling != "analog")
    s.phones, phones = _ranges(raw, "phones", "", required=False)

    if s.line_type == "analog":
        s.framing, s.coding, s.crc4, s.lbo, s.dchannel = "cas", "", False, 0, None
        if s.dynamic:
            raise ConfigError("dynamic", "a dynamic span is an E1 or T1, not an analog board")
    else:
        t1 = s.line_type == "t1"
        s.framing = _choice(raw, "framing", FRAMINGS, "esf" if t1 else "ccs")
        s.coding = _choice(raw, "coding", CODINGS, "b8zs" if t1 else "hdb3")
        if s.framing not in (T1_FRAMINGS if t1 else E1_FRAMINGS):
            raise ConfigError("framing", "a {line} span is framed {choices}", line=s.line_type.upper(),
                              choices=" or ".join(f.upper() for f in (T1_FRAMINGS if t1 else E1_FRAMINGS)))
        if s.coding not in (T1_CODINGS if t1 else E1_CODINGS):
            raise ConfigError("coding", "a {line} span is coded {choices}", line=s.line_type.upper(),
                              choices=" or ".join(c.upper() for c in (T1_CODINGS if t1 else E1_CODINGS)))
        if s.crc4 and t1:
            raise ConfigError("crc4", "CRC4 exists only on E1 lines; untick it for a T1")
        size = SPAN_SIZES[s.line_type]
        for field, numbers in (("channels", chans), ("phones", phones)):
            if any(c > size for c in numbers):
                raise ConfigError(field, "an {line} span has timeslots 1-{size} only",
                                  line=s.line_type.upper(), size=size)
        if s.signalling.startswith("pri"):
            if s.framing == "cas":
                raise ConfigError("framing", "ISDN PRI needs CCS framing")
            s.dchannel = _int(raw.get("dchannel") or D_CHANNEL[s.line_type], "dchannel", 1, size)
            if not t1 and s.dchannel != 16:
                raise ConfigError("dchannel", "on an E1 the PRI D channel is timeslot 16, not {n}",
                                  n=s.dchannel)
            if s.dchannel in chans:
                raise ConfigError("channels", "timeslot {n} carries the PRI D channel", n=s.dchannel)
        else:
            s.dchannel = None
            if s.signalling == "mfcr2" and t1:
                raise ConfigError("signalling", "MFC/R2 runs on E1 lines only; a T1 uses PRI or robbed-bit "
                                                "(analog) signalling")
            if s.framing == "ccs" and s.signalling == "mfcr2":
                raise ConfigError("framing", "MFC/R2 needs CAS framing, not CCS")
            if s.framing == "ccs":
                raise ConfigError("framing", "robbed-bit (analog) signalling needs CAS framing, not CCS")
            if not t1 and (16 in chans or 16 in phones):
                raise ConfigError("channels" if 16 in chans else "phones",
                                  "timeslot 16 carries the CAS signalling bits")
    overlap = set(chans) & set(phones)
    if overlap:
        raise ConfigError("phones", "port {n} is both a line and a phone", n=min(overlap))
    if s.signalling != "analog" and phones:
        raise ConfigError("phones", "operator phones (FXS ports) need analog signalling on the span")
    if s.signalling == "analog" and not chans and not phones:
        raise ConfigError("channels", "give the line ports, the phone ports or both")

    if s.signalling.startswith("pri"):
        s.switchtype = _choice(raw, "switchtype", SWITCHTYPES, "euroisdn")
        s.pri_dialplan = _choice(raw, "pri_dialplan", DIALPLANS, "unknown")
        s.pri_local_dialplan = _choice(raw, "pri_local_dialplan", DIALPLANS, "unknown")
        s.overlapdial = _choice(raw, "overlapdial", OVERLAPDIAL, "no")
        s.mfcr2_variant = s.mfcr2_max_ani = s.mfcr2_max_dnis = None
    elif s.signalling == "mfcr2":
        variant = str(raw.get("mfcr2_variant") or "ITU").upper()
        if variant == "RU":
            raise ConfigError("mfcr2_variant",
                              "openr2 has no Russian MFC/R2 variant (R1.5/2VSK); use ITU, "
                              "which with these settings interworks with most Russian exchanges")
        if variant not in MFCR2_VARIANTS:
            raise ConfigError("mfcr2_variant", "one of {choices}", choices=', '.join(MFCR2_VARIANTS))
        s.mfcr2_variant = variant
        s.mfcr2_max_ani = _int(raw.get("mfcr2_max_ani") or 10, "mfcr2_max_ani", 1, 20)
        s.mfcr2_max_dnis = _int(raw.get("mfcr2_max_dnis") or 4, "mfcr2_max_dnis", 1, 20)
        s.mfcr2_category = _choice(raw, "mfcr2_category", MFCR2_CATEGORIES, "national_subscriber")
        s.mfcr2_get_ani_first = _flag(raw, "mfcr2_get_ani_first", False)
        s.switchtype = None
    else:
        s.switchtype = s.mfcr2_variant = s.mfcr2_max_ani = s.mfcr2_max_dnis = None
        s.cidsignalling = _choice(raw, "cidsignalling", CID_SIGNALLINGS, "v23")
        s.cidstart = _choice(raw, "cidstart", CID_STARTS, "ring")
        s.busydetect = _flag(raw, "busydetect", True)
        s.polarity_hangup = _flag(raw, "polarity_hangup", True)
    return s


@dataclass
class HardwareSpan:
    """What the inventory says about one span (drivers' readers, adapted)."""
    number: int
    size: int
    driver: str = ""
    ports: dict[int, str] | None = None   # {port: "fxo" | "fxs"} on analog boards
    base: int | None = None               # DAHDI's channel number before the first one


def check_all(spans: list[Span], hardware: dict[int, HardwareSpan] | None = None) -> None:
    """Rules between spans, and between the settings and the boards found
    (skipped for spans no board provides yet: they can be prepared before the
    board is plugged in). Raises ConfigError naming the span."""
    hardware = hardware or {}
    masters: dict[str, Span] = {}
    for s in (s for s in spans if s.enabled):
        if s.timing == 1 and s.line_type != "analog":
            other = masters.get(s.carrier.lower())
            if other:
                raise ConfigError("timing", "spans {a} and {b} both take their timing from carrier "
                                  "'{carrier}' as master (priority 1); give one of them 2",
                                  a=other.span, b=s.span, carrier=s.carrier or "-")
            masters[s.carrier.lower()] = s
        hw = hardware.get(s.span)
        if not hw:
            continue
        if s.line_type == "analog" and hw.ports is None and not s.dynamic:
            raise ConfigError("line_type", "span {span} on this appliance is a digital span, not an "
                              "analog board", span=s.span)
        if s.line_type != "analog" and hw.ports is not None:
            raise ConfigError("line_type", "span {span} on this appliance is an analog board", span=s.span)
        for field in ("channels", "phones"):
            for c in expand_channels(getattr(s, field)):
                if c > hw.size:
                    raise ConfigError(field, "span {span} has {size} channels only (channel {n} does "
                                      "not exist)", span=s.span, size=hw.size, n=c)
        for c in expand_channels(s.phones) if hw.ports else ():
            if hw.ports.get(c) == "fxo":
                raise ConfigError("phones", "port {n} of span {span} is an FXO module (for a line); "
                                  "a phone needs an FXS module", n=c, span=s.span)
        for c in expand_channels(s.channels) if hw.ports else ():
            if hw.ports.get(c) == "fxs":
                raise ConfigError("channels", "port {n} of span {span} is an FXS module (for a phone); "
                                  "a line needs an FXO module", n=c, span=s.span)


COLS = ("span", "name", "framing", "coding", "crc4", "signalling", "switchtype", "mfcr2_variant",
        "mfcr2_max_ani", "mfcr2_max_dnis", "timing", "channels", "enabled", "line_type", "lbo",
        "dchannel", "carrier", "pri_dialplan", "pri_local_dialplan", "overlapdial", "mfcr2_category",
        "mfcr2_get_ani_first", "phones", "cidsignalling", "cidstart", "busydetect", "polarity_hangup",
        "echocanceller", "dynamic", "role")
BOOLS = ("crc4", "enabled", "mfcr2_get_ani_first", "busydetect", "polarity_hangup")


def save(db, span: Span, create: bool) -> None:
    exists = db.execute("SELECT 1 FROM spans WHERE span = ?", [span.span]).fetchone()
    if create and exists:
        raise ConfigError("span", "span {span} is already configured", span=span.span)
    if not create and not exists:
        raise ConfigError("span", "span {span} is not configured", span=span.span)
    values = asdict(span)
    values.update({b: int(values[b]) for b in BOOLS})
    if create:
        db.execute(f"INSERT INTO spans ({', '.join(COLS)}) VALUES ({', '.join('?' * len(COLS))})",
                   [values[c] for c in COLS])
    else:
        db.execute(f"UPDATE spans SET {', '.join(f'{c} = ?' for c in COLS[1:])} WHERE span = ?",
                   [values[c] for c in COLS[1:]] + [span.span])


def load_all(db) -> list[Span]:
    rows = db.execute(f"SELECT {', '.join(COLS)} FROM spans ORDER BY span").fetchall()
    out = []
    for r in rows:
        d = dict(zip(COLS, r))
        d.update({b: bool(d[b]) for b in BOOLS})
        out.append(Span(**d))
    return out


def trunk_groups_using(db, member) -> list[str]:
    """The outbound trunk groups (appliance.outbound.routes) with *member* (a
    span number or a SIP trunk's name) among their lines."""
    return [name for name, members in db.execute("SELECT name, members FROM trunk_groups ORDER BY name")
            if member in json.loads(members)]


def delete(db, span: int) -> None:
    using = trunk_groups_using(db, span)
    if using:
        raise ConfigError("span", "span {span} carries calls out for the trunk groups {groups}: "
                          "take it out of them first", span=span, groups=", ".join(using))
    if not db.execute("DELETE FROM spans WHERE span = ?", [span]).rowcount:
        raise ConfigError("span", "span {span} is not configured", span=span)

"""E1 span settings (H1, H2): stored here, turned into DAHDI and chan_dahdi
configuration by the hardware issue's generator.

Validation follows what the boards and openr2 really accept: PRI needs CCS
framing with the D channel on timeslot 16; MFC/R2 needs CAS; openr2 has no
Russian variant, so 'ru' is refused with an explanation instead of letting
chan_dahdi fall back to ITU silently.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from .model import DISPLAY_NAME, ConfigError, check_match

FRAMINGS = ("ccs", "cas")
CODINGS = ("hdb3", "ami")
SIGNALLINGS = ("pri_cpe", "pri_net", "mfcr2")
SWITCHTYPES = ("euroisdn", "qsig", "national", "ni1", "dms100", "4ess", "5ess")
# openr2 1.3.3's variants (no Russian one).
MFCR2_VARIANTS = ("ITU", "AR", "BR", "CN", "CZ", "CO", "EC", "ID", "MX", "PH", "VE")
MAX_SPANS = 8
CHANNELS = re.compile(r"^\d{1,2}(-\d{1,2})?(,\d{1,2}(-\d{1,2})?)*$")


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


def _int(value, field: str, lo: int, hi: int) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ConfigError(field, "'{value}' is not a number", value=value) from None
    if not lo <= n <= hi:
        raise ConfigError(field, "must be between {lo} and {hi}", lo=lo, hi=hi)
    return n


def expand_channels(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def validate(raw: dict) -> Span:
    """A Span from form/API values, or ConfigError naming the first bad field."""
    s = Span(span=_int(raw.get("span"), "span", 1, MAX_SPANS),
             name=check_match(DISPLAY_NAME, raw.get("name") or f"E1 {raw.get('span')}", "name", "name"))
    s.framing = str(raw.get("framing", s.framing)).lower()
    s.coding = str(raw.get("coding", s.coding)).lower()
    s.signalling = str(raw.get("signalling", s.signalling)).lower()
    s.crc4 = str(raw.get("crc4", "1")).lower() in ("1", "true", "on", "yes")
    s.enabled = str(raw.get("enabled", "1")).lower() in ("1", "true", "on", "yes")
    s.timing = _int(raw.get("timing", 1), "timing", 0, MAX_SPANS)
    s.channels = str(raw.get("channels") or s.channels).replace(" ", "")
    if s.framing not in FRAMINGS:
        raise ConfigError("framing", "one of {choices}", choices=', '.join(FRAMINGS))
    if s.coding not in CODINGS:
        raise ConfigError("coding", "one of {choices}", choices=', '.join(CODINGS))
    if s.signalling not in SIGNALLINGS:
        raise ConfigError("signalling", "one of {choices}", choices=', '.join(SIGNALLINGS))
    if not CHANNELS.match(s.channels):
        raise ConfigError("channels", "ranges like 1-15,17-31")
    chans = expand_channels(s.channels)
    if any(not 1 <= c <= 31 for c in chans) or len(set(chans)) != len(chans):
        raise ConfigError("channels", "timeslots 1-31, each once")
    if s.signalling.startswith("pri"):
        if s.framing != "ccs":
            raise ConfigError("framing", "ISDN PRI needs CCS framing")
        if 16 in chans:
            raise ConfigError("channels", "timeslot 16 carries the PRI D channel")
        s.switchtype = str(raw.get("switchtype") or "euroisdn").lower()
        if s.switchtype not in SWITCHTYPES:
            raise ConfigError("switchtype", "one of {choices}", choices=', '.join(SWITCHTYPES))
        s.mfcr2_variant = s.mfcr2_max_ani = s.mfcr2_max_dnis = None
    else:
        if s.framing != "cas":
            raise ConfigError("framing", "MFC/R2 needs CAS framing")
        if 16 in chans:
            raise ConfigError("channels", "timeslot 16 carries the CAS signalling bits")
        variant = str(raw.get("mfcr2_variant") or "ITU").upper()
        if variant == "RU":
            raise ConfigError("mfcr2_variant",
                              "openr2 has no Russian MFC/R2 variant (R1.5/2VSK); use ITU, "
                              "which with these settings interworks with most Russian exchanges")
        if variant not in MFCR2_VARIANTS:
            raise ConfigError("mfcr2_variant", "one of {choices}", choices=', '.join(MFCR2_VARIANTS))
        s.mfcr2_variant = variant
        s.mfcr2_max_ani = _int(raw.get("mfcr2_max_ani", 10), "mfcr2_max_ani", 1, 20)
        s.mfcr2_max_dnis = _int(raw.get("mfcr2_max_dnis", 4), "mfcr2_max_dnis", 1, 20)
        s.switchtype = None
    return s


COLS = ("span", "name", "framing", "coding", "crc4", "signalling", "switchtype", "mfcr2_variant",
        "mfcr2_max_ani", "mfcr2_max_dnis", "timing", "channels", "enabled")


def save(db, span: Span, create: bool) -> None:
    exists = db.execute("SELECT 1 FROM spans WHERE span = ?", [span.span]).fetchone()
    if create and exists:
        raise ConfigError("span", "span {span} is already configured", span=span.span)
    if not create and not exists:
        raise ConfigError("span", "span {span} is not configured", span=span.span)
    values = asdict(span)
    values["crc4"], values["enabled"] = int(span.crc4), int(span.enabled)
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
        d["crc4"], d["enabled"] = bool(d["crc4"]), bool(d["enabled"])
        out.append(Span(**d))
    return out


def delete(db, span: int) -> None:
    if not db.execute("DELETE FROM spans WHERE span = ?", [span]).rowcount:
        raise ConfigError("span", "span {span} is not configured", span=span)

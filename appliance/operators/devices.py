"""Where an operator's phone is: an IP phone (the PJSIP endpoint named after
the extension, the default) or an analog telephone on an FXS port of a DAHDI
span (Operator.device "DAHDI/<channel>"). The queues ring
``interface(op)``; events that name a channel are mapped back to the
operator's extension by ``extension_of``.
"""
from __future__ import annotations

import re

from appliance.base.errors import ConfigError
from appliance.lines import render as dahdi, store as spans

DEVICE = re.compile(r"^DAHDI/([1-9][0-9]{0,2})$")
_DAHDI_CHANNEL = re.compile(r"^DAHDI/([1-9][0-9]{0,2})-[0-9]+$")
_PJSIP_CHANNEL = re.compile(r"^PJSIP/(.+)-[0-9a-f]+$")


def interface(op) -> str:
    """What Asterisk rings for the operator: 'PJSIP/1001' or 'DAHDI/49'."""
    return getattr(op, "device", "") or f"PJSIP/{op.extension}"


def fxs_ports(db) -> list[str]:
    """Dial strings of the operator-phone (FXS) ports of the appliance's
    own spans (not a loop test's carrier), in channel order."""
    stored = spans.load_all(db)
    hw = dahdi.hardware()
    out = []
    for s in stored:
        if s.enabled and s.role != "test_carrier" and s.phones:
            out += dahdi.dialable(s, hw, stored)
    return out


def check(db, device: str | None, extension: str | None = None) -> str:
    """'' (IP phone) or a free FXS port's 'DAHDI/<n>'; ConfigError otherwise."""
    device = (device or "").strip()
    if device.lower() in ("", "sip", "pjsip"):
        return ""
    if not DEVICE.fullmatch(device):
        raise ConfigError("device", "'{device}' is not an IP phone or an analog port like DAHDI/49",
                          device=device)
    if device not in fxs_ports(db):
        raise ConfigError("device", "{device} is not an operators' phone (FXS) port of a span on the "
                          "Lines page", device=device)
    taken = db.execute("SELECT extension FROM operators WHERE device = ? AND extension != ?",
                       [device, extension or ""]).fetchone()
    if taken:
        raise ConfigError("device", "{device} is already the phone of operator {extension}",
                          device=device, extension=taken[0])
    return device


def extension_of(db, channel: str | None) -> str | None:
    """The operator extension a channel belongs to: 'PJSIP/1001-0000002a' ->
    '1001', 'DAHDI/49-1' -> the operator whose device is DAHDI/49."""
    channel = channel or ""
    m = _PJSIP_CHANNEL.fullmatch(channel)
    if m:
        return m.group(1)
    m = _DAHDI_CHANNEL.fullmatch(channel)
    if m:
        row = db.execute("SELECT extension FROM operators WHERE device = ?", [f"DAHDI/{m.group(1)}"]).fetchone()
        return row[0] if row else None
    return None


def extension_of_interface(db, iface: str | None) -> str | None:
    """'PJSIP/1001' -> '1001'; 'DAHDI/49' -> its operator's extension."""
    iface = iface or ""
    if iface.startswith("PJSIP/"):
        return iface.partition("/")[2] or None
    if DEVICE.fullmatch(iface):
        row = db.execute("SELECT extension FROM operators WHERE device = ?", [iface]).fetchone()
        return row[0] if row else None
    return None


# --- secure phones: SIP over TLS only, media over SRTP ---------------------------

def secure_phones(db) -> set[str]:
    """The extensions of the operators whose IP phone is a secure phone."""
    return {r[0] for r in db.execute("SELECT extension FROM operators WHERE secure = 1")}


def is_secure(db, extension: str) -> bool:
    row = db.execute("SELECT secure FROM operators WHERE extension = ?", [extension]).fetchone()
    return bool(row and row[0])


def set_secure(db, extension: str, secure) -> bool:
    """Make operator *extension*'s phone a secure phone (TLS and SRTP
    required) or a plain one; an analog phone cannot be secure."""
    on = secure not in (False, 0, "", "0", "false", "off", "no", None)
    row = db.execute("SELECT device FROM operators WHERE extension = ?", [extension]).fetchone()
    if not row:
        raise ConfigError("extension", "no operator with extension {extension}", extension=extension)
    if on and row[0]:
        raise ConfigError("secure", "an analog phone ({device}) cannot use TLS and SRTP; only an IP phone can",
                          device=row[0])
    db.execute("UPDATE operators SET secure = ? WHERE extension = ?", [int(on), extension])
    return on

"""The certificate of the SIP TLS transport that secure phones use.

It is the panel's certificate (appliance/base/tls.py; made self-signed on
first use): one name and one fingerprint for the whole appliance. Asterisk
runs as its own user and cannot read the panel's key, so a copy of the pair
is kept in the instance's ``sip-tls/`` directory, readable by the asterisk
group only. ``korund init`` and ``korund start`` bring the copy up to date;
Asterisk reads it when its SIP stack starts (a TLS transport takes a new
certificate at Asterisk's next start).
"""
from __future__ import annotations

import grp
import os
from pathlib import Path

from appliance.base import tls
from appliance.base.instance import ASTERISK_USER

DIR = "sip-tls"
CERT, KEY = "sip.crt", "sip.key"


def paths(base: Path) -> tuple[Path, Path]:
    d = Path(base) / DIR
    return d / CERT, d / KEY


def available(base: Path) -> bool:
    cert, key = paths(base)
    return cert.exists() and key.exists()


def ensure(base: Path) -> tuple[Path, Path]:
    """The SIP pair, copied from the panel's (made if there is none)."""
    tls.ensure(base)
    src_cert, src_key = tls.paths(base)
    cert, key = paths(base)
    cert.parent.mkdir(mode=0o750, exist_ok=True)
    _to_asterisk(cert.parent, 0o750)
    for src, dst in ((src_key, key), (src_cert, cert)):
        data = src.read_bytes()
        if dst.exists() and dst.read_bytes() == data:
            continue
        tmp = dst.with_name(f".{dst.name}.new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _to_asterisk(tmp, 0o640)
        os.replace(tmp, dst)
    return cert, key


def _to_asterisk(path: Path, mode: int) -> None:
    """root:asterisk with *mode*, where there is an asterisk group (and we
    are root); otherwise the owner only."""
    try:
        gid = grp.getgrnam(ASTERISK_USER).gr_gid
    except KeyError:
        return
    if os.geteuid() == 0:
        os.chown(path, 0, gid)
        path.chmod(mode)

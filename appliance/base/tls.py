"""The panel's TLS certificate and key: generated self-signed on the first
boot, replaceable by an administrator's own pair.

Both live in the instance's ``tls/`` directory (``panel.crt``, the
certificate with any intermediates, and ``panel.key``, mode 0600). A new
pair is checked before it replaces the old one: both parse, the key is the
certificate's, the certificate has not expired; a pair that fails any check
is refused with the reason and the old pair stays. The work is done by
``openssl`` (the root filesystem has it) and Python's ``ssl``.
"""
from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from appliance.base import clock, instance
from appliance.base.errors import ConfigError

DIR = "tls"
CERT, KEY = "panel.crt", "panel.key"
SELF_SIGNED_DAYS = 3650
MAX_PEM = 64 * 1024
OPENSSL_TIMEOUT = 30


@dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    not_after: datetime
    fingerprint: str

    @property
    def self_signed(self) -> bool:
        return self.subject == self.issuer


def paths(base: Path) -> tuple[Path, Path]:
    d = Path(base) / DIR
    return d / CERT, d / KEY


def exists(base: Path) -> bool:
    cert, key = paths(base)
    return cert.exists() and key.exists()


def _openssl(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], check=False, input=stdin, capture_output=True, timeout=OPENSSL_TIMEOUT)


def read_info(cert_pem: bytes) -> CertInfo:
    """What the (first) certificate of *cert_pem* says; ConfigError if it is
    not a readable PEM certificate."""
    r = _openssl("x509", "-noout", "-subject", "-issuer", "-enddate", "-fingerprint", "-sha256",
                 "-nameopt", "RFC2253", stdin=cert_pem)
    fields = dict(line.split("=", 1) for line in r.stdout.decode(errors="replace").splitlines() if "=" in line)
    if r.returncode != 0 or "notAfter" not in fields:
        raise ConfigError("certificate", "not a PEM certificate (-----BEGIN CERTIFICATE-----)")
    not_after = datetime.strptime(" ".join(fields["notAfter"].split()), "%b %d %H:%M:%S %Y GMT")
    fingerprint = next((v for k, v in fields.items() if k.lower().endswith("fingerprint")), "")
    return CertInfo(fields.get("subject", ""), fields.get("issuer", ""),
                    not_after.replace(tzinfo=UTC), fingerprint)


def check_pair(cert_pem: bytes, key_pem: bytes, now: datetime | None = None) -> CertInfo:
    """The certificate's details if *cert_pem* and *key_pem* make a usable
    pair; ConfigError naming what is wrong otherwise."""
    if not cert_pem or len(cert_pem) > MAX_PEM or b"-----BEGIN CERTIFICATE-----" not in cert_pem:
        raise ConfigError("certificate", "not a PEM certificate (-----BEGIN CERTIFICATE-----)")
    if not key_pem or len(key_pem) > MAX_PEM or b"PRIVATE KEY-----" not in key_pem:
        raise ConfigError("key", "not a PEM private key (-----BEGIN PRIVATE KEY-----)")
    if b"ENCRYPTED" in key_pem:
        raise ConfigError("key", "the key is protected by a passphrase; upload it without one")
    info = read_info(cert_pem)
    if info.not_after <= (now or clock.now()):
        raise ConfigError("certificate", "the certificate expired on {date}",
                          date=info.not_after.strftime("%Y-%m-%d"))
    with tempfile.TemporaryDirectory(prefix="korund-tls-") as tmp:
        cert, key = Path(tmp) / CERT, Path(tmp) / KEY
        cert.write_bytes(cert_pem)
        key.write_bytes(key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            # a password callback, so an unexpected passphrase never prompts
            context.load_cert_chain(cert, key, password=lambda: b"")
        except ssl.SSLError as exc:
            if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
                raise ConfigError("key", "the key does not belong to the certificate") from None
            raise ConfigError("key", "the key cannot be read: {reason}", reason=exc.reason or str(exc)) from None
    return info


def install(base: Path, cert_pem: bytes, key_pem: bytes, now: datetime | None = None) -> CertInfo:
    """Check the pair, then put it in place of the old one (which is kept
    untouched if the check fails)."""
    info = check_pair(cert_pem, key_pem, now)
    cert, key = paths(base)
    cert.parent.mkdir(mode=0o700, exist_ok=True)
    _give_to_panel(cert.parent)
    for path, data, mode in ((key, key_pem, 0o600), (cert, cert_pem, 0o644)):
        tmp = path.with_name(f".{path.name}.new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _give_to_panel(tmp)
        os.replace(tmp, path)
    return info


def generate(base: Path, hostname: str | None = None, days: int = SELF_SIGNED_DAYS) -> CertInfo:
    """A new self-signed pair for *hostname* (default: this machine's name)."""
    name = re.sub(r"[^A-Za-z0-9.-]", "", hostname or socket.gethostname()) or "korund"
    with tempfile.TemporaryDirectory(prefix="korund-tls-") as tmp:
        cert, key = Path(tmp) / CERT, Path(tmp) / KEY
        r = _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                     "-nodes", "-keyout", str(key), "-out", str(cert), "-days", str(days),
                     "-subj", f"/CN={name}/O=Korund",
                     "-addext", f"subjectAltName=DNS:{name},DNS:{name}.local,IP:127.0.0.1")
        if r.returncode != 0:
            raise RuntimeError(f"openssl could not make a certificate: {r.stderr.decode(errors='replace')}")
        return install(base, cert.read_bytes(), key.read_bytes())


def ensure(base: Path, hostname: str | None = None) -> CertInfo:
    """The current pair's details, generating a self-signed pair if there is none."""
    cert, _key = paths(base)
    if not exists(base):
        return generate(base, hostname)
    return read_info(cert.read_bytes())


def current(base: Path) -> CertInfo | None:
    cert, _key = paths(base)
    try:
        return read_info(cert.read_bytes())
    except (OSError, ConfigError):
        return None


def _give_to_panel(path: Path) -> None:
    """Hand *path* to the panel's user when root makes it (first boot)."""
    if os.geteuid() != 0:
        return
    try:
        pw = pwd.getpwnam(instance.SERVICE_USER)   # the panel runs as it and must read the key
    except KeyError:
        return
    shutil.chown(path, pw.pw_uid, pw.pw_gid)

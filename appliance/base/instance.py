"""An appliance instance: one directory holding its database, its generated
Asterisk configuration and Asterisk's run-time directories.

The real appliance has one instance (``/var/lib/korund/appliance``); tests
create several side by side, each on its own 127.0.0.N address and ports.
"""
from __future__ import annotations

import grp
import os
import pwd
import secrets
from dataclasses import dataclass
from pathlib import Path

from appliance.base import store

DEFAULT_BASE = "/var/lib/korund/appliance"
ASTERISK_USER = "asterisk"

# Network settings every instance has, with their defaults.
NETWORK_DEFAULTS = {
    "net.address": "127.0.0.1",
    "sip.port": "5060",
    "ami.port": "5038",
    "agi.port": "4573",
    "web.port": "8080",
    "rtp.start": "10000",
    "rtp.end": "10999",
    "language": "ru",
}


@dataclass(frozen=True)
class Instance:
    base: Path

    @classmethod
    def at(cls, base: str | os.PathLike | None = None) -> "Instance":
        return cls(Path(base or os.environ.get("KORUND_BASE", DEFAULT_BASE)).absolute())

    @property
    def db_path(self) -> Path:
        return self.base / "korund.db"

    @property
    def etc(self) -> Path:
        return self.base / "etc" / "asterisk"

    @property
    def last_good(self) -> Path:
        return self.base / "etc" / "asterisk.last-good"

    @property
    def run(self) -> Path:
        return self.base / "run"

    @property
    def spool(self) -> Path:
        return self.base / "spool"

    @property
    def lib(self) -> Path:
        return self.base / "lib"

    @property
    def log(self) -> Path:
        return self.base / "log"

    @property
    def sounds(self) -> Path:
        return self.base / "sounds"

    @property
    def asterisk_conf(self) -> Path:
        return self.etc / "asterisk.conf"

    @property
    def supervisord_conf(self) -> Path:
        return self.base / "supervisord.conf"

    @property
    def supervisor_sock(self) -> Path:
        return self.run / "supervisor.sock"

    @property
    def cdr_log(self) -> Path:
        return self.log / "cdr-custom" / "korund-cdr.csv"

    @property
    def cel_log(self) -> Path:
        """Asterisk's channel events (CEL), for the call history's legs."""
        return self.log / "cel-custom" / "korund-cel.csv"

    def open_store(self):
        return store.open_store(self.db_path)

    def asterisk_dirs(self) -> list[Path]:
        """Directories Asterisk writes to (owned by the asterisk user)."""
        return [self.run, self.spool, self.lib, self.log, self.log / "cdr-custom", self.log / "cel-custom",
                self.spool / "monitor", self.spool / "voicemail", self.spool / "tmp",
                self.spool / "outgoing", self.base / "recordings"]

    def create_dirs(self) -> None:
        for d in [self.base, self.etc, self.last_good, self.sounds, *self.asterisk_dirs()]:
            d.mkdir(parents=True, exist_ok=True)
        try:
            pw = pwd.getpwnam(ASTERISK_USER)
        except KeyError:  # a host without Asterisk (unit tests): nothing to hand over
            return
        for d in self.asterisk_dirs():
            os.chown(d, pw.pw_uid, pw.pw_gid)
        # Asterisk reads its config (with secrets) through the group.
        for d in (self.base, self.base / "etc", self.etc):
            os.chown(d, 0, pw.pw_gid)
            d.chmod(0o750)


def initialise(db, network: dict[str, str] | None = None) -> None:
    """Fill the settings an instance cannot run without, keeping existing ones."""
    values = dict(NETWORK_DEFAULTS)
    values.update(network or {})
    current = store.settings(db)
    for key, value in values.items():
        if key not in current or (network and key in network):
            store.set_setting(db, key, value)
    if "ami.secret" not in current:
        store.set_setting(db, "ami.user", "korund")
        store.set_setting(db, "ami.secret", secrets.token_urlsafe(24))
    if "web.secret_key" not in current:
        store.set_setting(db, "web.secret_key", secrets.token_urlsafe(48))


def generate_sip_secret() -> str:
    return secrets.token_urlsafe(18)


def write_atomically(path: Path, text: str) -> None:
    """A configuration file Asterisk or DAHDI reads: never seen half written
    (a temporary file renamed over it), readable by the asterisk group only."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.chown(tmp, 0, grp.getgrnam(ASTERISK_USER).gr_gid)
    except KeyError:
        pass
    tmp.chmod(0o640)
    os.replace(tmp, path)

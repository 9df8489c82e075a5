"""An appliance instance: one directory holding its database, its generated
Asterisk configuration and Asterisk's run-time directories.

The real appliance has one instance (``/var/lib/korund/appliance``); tests
create several side by side, each on its own 127.0.0.N address and ports.

Who owns what (set by ``korund init`` as root, see :meth:`Instance.create_dirs`):
the Python services run as the system user ``korund``, which is also in the
``asterisk`` group; Asterisk runs as ``asterisk``; supervisord, which starts
both, and the root helper (``appliance/base/root_helper.py``) stay root.

- the instance directory: root:korund, sticky (``korund`` adds its database's
  files but cannot move what root or Asterisk own, e.g. ``supervisor/``);
- ``supervisor/``: supervisord's configuration, sockets and the services'
  logs, root:korund and not writable by either service user;
- ``korund.db``, ``etc/`` (setgid ``asterisk``: Asterisk reads the generated
  files through the group), ``sounds/``, ``moh/``: the korund user's;
- Asterisk's directories (``run``, ``spool``, ``lib``, ``log``,
  ``recordings``) and ``messages/``: setgid ``asterisk`` and group-writable,
  both users create files there (umask 007) and the services tidy them up.
"""
from __future__ import annotations

import grp
import ipaddress
import os
import pwd
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from appliance.base import store
from appliance.base.errors import ConfigError

DEFAULT_BASE = "/var/lib/korund/appliance"
ASTERISK_USER = "asterisk"
# The Python services' own system user (and group); created by `korund init`
# where the image's root filesystem does not have it yet.
SERVICE_USER = "korund"
SERVICE_HOME = "/var/lib/korund"
# Groups the service user joins where they exist: Asterisk's files and DAHDI's
# devices, the front panel's serial port, the sensors' I2C buses.
SERVICE_GROUPS = (ASTERISK_USER, "dialout", "i2c")

# Network settings every instance has, with their defaults.
NETWORK_DEFAULTS = {
    "net.address": "127.0.0.1",
    # AMI and FastAGI: only ever on loopback (check_local_address); SIP
    # (net.address) and the panel (web.address) are what faces the LAN.
    "local.address": "127.0.0.1",
    "sip.port": "5060",
    "ami.port": "5038",
    "agi.port": "4573",
    "web.port": "8080",
    "rtp.start": "10000",
    # 5000 streams: 240 calls with both legs need 480, the breaking-point
    # runs 720 (appliance.base.migrations.m026_rtp_range_for_eight_spans)
    "rtp.end": "19999",
    "language": "ru",
}


@dataclass(frozen=True)
class Instance:
    base: Path

    @classmethod
    def at(cls, base: str | os.PathLike | None = None) -> Instance:
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
    def supervisor(self) -> Path:
        """supervisord's own files, root's: neither service user may change
        what root starts or writes (see the module's docstring)."""
        return self.base / "supervisor"

    @property
    def supervisord_conf(self) -> Path:
        return self.supervisor / "supervisord.conf"

    @property
    def supervisor_sock(self) -> Path:
        return self.supervisor / "supervisor.sock"

    @property
    def root_helper_sock(self) -> Path:
        return self.supervisor / "root-helper.sock"

    @property
    def service_log(self) -> Path:
        """The supervised services' output (agi.log, web.log, ...)."""
        return self.supervisor / "log"

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

    def shared_dirs(self) -> list[Path]:
        """The korund user's directories Asterisk writes into too: callers'
        voice messages (appliance/messages/store.py FOLDER)."""
        return [self.base / "messages"]

    def service_dirs(self) -> list[Path]:
        """The korund user's own trees: configuration, prompts, music."""
        return [self.base / "etc", self.etc, self.last_good, self.base / "etc" / "dahdi", self.sounds,
                self.base / "moh"]

    def create_dirs(self) -> None:
        """Every directory of the instance, with its owner and mode when
        run as root on an appliance (a host without Asterisk only gets the
        directories). Also mends an instance made before the services ran
        as their own user: safe to run again."""
        for d in [self.base, *self.service_dirs(), *self.shared_dirs(), *self.asterisk_dirs(),
                  self.supervisor, self.service_log]:
            d.mkdir(parents=True, exist_ok=True)
        try:
            ast = pwd.getpwnam(ASTERISK_USER)
        except KeyError:  # a host without Asterisk (unit tests): nothing to hand over
            return
        if os.geteuid() != 0:
            return
        svc = service_user()
        if svc is None:   # no service user yet (korund init creates it first)
            for d in self.asterisk_dirs():
                os.chown(d, ast.pw_uid, ast.pw_gid)
            for d in (self.base, self.base / "etc", self.etc):
                os.chown(d, 0, ast.pw_gid)
                d.chmod(0o750)
            return
        gid = ast.pw_gid
        _own(self.base, 0, svc.pw_gid, 0o1771)   # Asterisk passes through to etc, sounds, ...
        _own(self.supervisor, 0, svc.pw_gid, 0o750)
        _own(self.service_log, 0, svc.pw_gid, 0o2750)   # the logs root writes, the panel reads
        for name in ("korund.db", "korund.db-wal", "korund.db-shm"):
            path = self.base / name
            if path.exists():
                _own(path, svc.pw_uid, svc.pw_gid, 0o640)
        for d in self.service_dirs():
            _own_tree(d, svc.pw_uid, gid)
        for d in self.shared_dirs():
            _own_tree(d, svc.pw_uid, gid, shared=True)
        for d in self.asterisk_dirs():
            _own_tree(d, ast.pw_uid, gid, shared=True)


def _own(path: Path, uid: int, gid: int, mode: int) -> None:
    os.lchown(path, uid, gid)
    path.chmod(mode)


def _own_tree(top: Path, uid: int, gid: int, shared: bool = False) -> None:
    """*top* uid:gid, setgid, 2750 (2770 when *shared* with Asterisk). Its
    contents are handed over once, when *top* is not setgid yet (an instance
    from before): a big recordings archive is walked only that one time."""
    if top.stat().st_mode & stat.S_ISGID:
        _own(top, uid, gid, 0o2770 if shared else 0o2750)
        return
    for folder, dirs, files in os.walk(top):
        here = Path(folder)
        _own(here, uid, gid, 0o2770 if shared else 0o2750)
        for name in files:
            path = here / name
            if path.is_symlink():
                continue
            mode = path.stat().st_mode & 0o777
            os.lchown(path, uid, gid)
            path.chmod(mode | (0o660 if shared else 0o640))
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]


def service_user() -> pwd.struct_passwd | None:
    """The services' system user, where it exists (None on a host without it)."""
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return None


def owner_of(inst: Instance) -> pwd.struct_passwd | None:
    """The user the instance's services run as: the service user once
    ``korund init`` has handed the instance to it (its directory in the
    service user's group), else None (root runs everything, as on a host)."""
    svc = service_user()
    try:
        return svc if svc is not None and inst.base.stat().st_gid == svc.pw_gid else None
    except OSError:
        return None


def become(pw: pwd.struct_passwd) -> None:
    """Drop root for *pw* for good: its groups (Asterisk's among them), its
    uid, a umask that lets Asterisk and the services share their files."""
    os.setgroups(os.getgrouplist(pw.pw_name, pw.pw_gid))
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)
    os.umask(0o007)
    os.environ["HOME"] = pw.pw_dir
    os.environ["USER"] = os.environ["LOGNAME"] = pw.pw_name


def check_local_address(value, field: str = "local.address") -> str:
    """AMI and FastAGI's address: a loopback address, nothing else -- they
    trust whoever connects (FastAGI takes a call's identity from what the
    connecting side says), so no other host may reach them."""
    value = (value or "").strip() if isinstance(value, str) else ""
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise ConfigError(field, "'{value}' is not a loopback address (127.x.x.x): AMI and FastAGI "
                          "never listen beyond this machine", value=value)
    return value


def local_address(settings: dict[str, str]) -> str:
    """Where AMI and FastAGI listen and are reached (setting local.address,
    127.0.0.1 where an older instance has none); ConfigError if it is not
    loopback."""
    return check_local_address(settings.get("local.address") or NETWORK_DEFAULTS["local.address"])


def _local_for(net_address: str) -> str:
    """An instance on a loopback address keeps AMI and FastAGI there too (the
    test slots' 127.0.0.N instances stay apart); one on a LAN address has
    them on 127.0.0.1."""
    try:
        return check_local_address(net_address)
    except ConfigError:
        return NETWORK_DEFAULTS["local.address"]


def initialise(db, network: dict[str, str] | None = None) -> None:
    """Fill the settings an instance cannot run without, keeping existing ones."""
    network = dict(network or {})
    current = store.settings(db)
    if "local.address" in network:
        check_local_address(network["local.address"], "local-address")
    elif "local.address" not in current or "net.address" in network:
        network["local.address"] = _local_for(network.get("net.address") or current.get("net.address")
                                              or NETWORK_DEFAULTS["net.address"])
    values = dict(NETWORK_DEFAULTS)
    values.update(network)
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
    (a new temporary file renamed over it, so no link planted beside it is
    followed), readable by the asterisk group only. Root writing it gives it
    to the directory's owner (the korund user in the instance's etc)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
            try:
                gid = grp.getgrnam(ASTERISK_USER).gr_gid
            except KeyError:
                gid = -1
            if os.geteuid() == 0:
                os.fchown(f.fileno(), path.parent.stat().st_uid, gid)
            elif gid != -1:
                try:
                    os.fchown(f.fileno(), -1, gid)
                except PermissionError:   # not in the group: the setgid directory gave it
                    pass
            os.fchmod(f.fileno(), 0o640)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

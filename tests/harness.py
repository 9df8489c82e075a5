"""The telephony test harness: real Asterisk instances from the appliance
root filesystem, driven from the host.

``Appliance`` is a sandboxed Korund instance (supervisord with asterisk, agi,
events and web) on its own 127.0.0.N address; ``Carrier`` is the PSTN
simulator, a second real Asterisk that places calls into the appliance's trunk
and plays the operators' phones. Tests talk to both over AMI and read the
appliance's SQLite file, never Korund's internals.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

from asterisk.manager import Manager

from appliance.base import ami
from devtools import simulator
from appliance.base import supervisor
from appliance.base.instance import Instance
from appliance.operators import store as operators
from tests.waiting import WaitTimeout, wait_for  # noqa: F401 (the tests import wait_for from here too)

TOP = Path(__file__).resolve().parent.parent
ROOTFS_SH = TOP / "image-build" / "rootfs.sh"
# As seen inside the root filesystem; one per test slot (see tests/conftest.py).
SANDBOX = "/tmp/korund-tests" + (f"-{os.environ['KORUND_TEST_SLOT']}"
                                 if os.environ.get("KORUND_TEST_SLOT", "0") != "0" else "")


def rootfs_path() -> Path:
    out = subprocess.run([str(ROOTFS_SH), "mount"], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def in_root(*args: str, check: bool = True, timeout: float = 180,
            input: str | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(ROOTFS_SH), "exec", *args], capture_output=True, text=True,
                          timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def korund(appliance, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the ``korund`` command on a test appliance (inside the root filesystem)."""
    return in_root("korund", "-i", appliance.base, *args, check=check)


def configure(appliance, change) -> None:
    """Change a test appliance's store from the host in one transaction
    (``change(db)``), then apply it the way the panel does."""
    from appliance.base import store
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        with db.atomic():
            change(db)
    finally:
        db.close()
    assert "applied" in korund(appliance, "apply").stdout


def support_group(db, strategy: str, ring_timeout: int, **acd) -> None:
    """The demo's support group as a test wants it: 1001 and 1002 with
    *strategy* and *ring_timeout*, no wrap-up and no pause for not answering
    (or the ACD settings in *acd*). For ``configure``'s change."""
    operators.update_group(db, "support", "Support", strategy, ring_timeout, True)
    operators.set_group_acd(db, "support", {"wrapup": 0, "max_wait": 600, "noanswer_pause": 0, **acd})
    operators.set_members(db, "support", ["1001", "1002"])


def ready(appliance, *exts: str, queue: str = "support") -> None:
    """Operators *exts* ready (the ``korund operator ready`` command), and
    unpaused in Asterisk's *queue*."""
    for ext in exts:
        korund(appliance, "operator", "ready", ext)
    wait_for(lambda: not any(appliance.paused(ext, queue) for ext in exts), 10,
             what=f"{' and '.join(exts)} unpaused in {queue}")


class EventLog:
    """Collects every AMI event of one connection, for tests to wait on."""

    def __init__(self, mgr: Manager):
        self.events: list[dict] = []
        self.cond = threading.Condition()
        mgr.register_event("*", self._on_event)

    def _on_event(self, event, _manager):
        with self.cond:
            self.events.append(ami.event_headers(event))
            self.cond.notify_all()

    def mark(self) -> int:
        with self.cond:
            return len(self.events)

    def find(self, since: int = 0, **match) -> list[dict]:
        with self.cond:
            return [e for e in self.events[since:]
                    if all(e.get(k) == v for k, v in match.items())]

    def wait(self, since: int = 0, timeout: float = 30, **match) -> dict:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [e for e in self.events[since:]
                         if all(e.get(k) == v for k, v in match.items())]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WaitTimeout(f"timed out after {timeout:g} s waiting for the AMI event {match}")
                self.cond.wait(left)


class Node:
    """What the appliance and the carrier share: a directory in the root
    filesystem (sandbox) and an AMI connection."""

    def __init__(self, root: Path, name: str):
        self.root = root
        self.base = f"{SANDBOX}/{name}"           # inside the chroot
        self.host_base = root / self.base.lstrip("/")  # the same, from the host
        self.inst = Instance(self.host_base)
        self.mgr: Manager | None = None
        self.events: EventLog | None = None

    def fresh(self):
        self.stop()
        shutil.rmtree(self.host_base, ignore_errors=True)

    def connect(self):
        self.mgr = ami.connect(self.ami_settings(), timeout=30, events=ami.ALL_EVENTS)
        self.events = EventLog(self.mgr)

    def disconnect(self):
        if self.mgr:
            ami.close(self.mgr)
            self.mgr = None

    def cli(self, command: str) -> list[str]:
        return ami.command(self.mgr, command)

    def active_channels(self) -> int:
        for line in self.cli("core show channels count"):
            if "active channel" in line:
                return int(line.split()[0])
        return 0


class Appliance(Node):
    def __init__(self, root: Path, name: str, address: str, carrier: str, rtp: int):
        super().__init__(root, name)
        self.address = address
        self.carrier = carrier
        self.rtp = rtp

    def init(self):
        in_root("korund", "-i", self.base, "init", "--demo", "--address", self.address,
                "--carrier", self.carrier, "--rtp-start", str(self.rtp),
                "--rtp-end", str(self.rtp + 999))

    def start(self):
        in_root("korund", "-i", self.base, "start", "--timeout", "60")
        self.connect()
        # supervisord says RUNNING a second after a start; the panel and the
        # FastAGI server take longer to listen on a loaded machine
        for service in ("web", "agi"):
            self.wait_service(service, timeout=60)

    def stop(self):
        self.disconnect()
        if self.host_base.exists():
            in_root("korund", "-i", self.base, "stop", check=False)

    def ami_settings(self):
        return self.settings()

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.host_base / "korund.db", timeout=10)
        conn.row_factory = sqlite3.Row
        return conn

    def settings(self) -> dict[str, str]:
        with self.db() as conn:
            return dict(conn.execute("SELECT key, value FROM settings").fetchall())

    def panel_url(self) -> str:
        """The web panel's address, http://ADDRESS:PORT."""
        s = self.settings()
        return f"http://{s['net.address']}:{s['web.port']}"

    def queue_member(self, queue: str, ext: str) -> str:
        """The line of ``queue show QUEUE`` for operator *ext*'s phone ('' if not a member)."""
        return next((l for l in self.cli(f"queue show {queue}") if f"PJSIP/{ext}" in l), "")

    def paused(self, ext: str, queue: str = "support") -> bool:
        """Asterisk's app_queue has operator *ext* paused in *queue*."""
        return "paused" in self.queue_member(queue, ext)

    def tone_prompt(self, name: str, freq: int, seconds: float = 1.5) -> None:
        """A Russian prompt *name* that is only a tone of *freq* Hz (sox in the
        root filesystem), so that a recording tells which prompt was played."""
        in_root("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", f"{self.base}/sounds/ru/{name}.wav",
                "synth", f"{seconds:g}", "sine", str(freq), "vol", "0.5")

    def setup_code(self) -> str:
        """The one-time code the panel's /setup needs while there is no
        administrator, as an operator at the console gets it."""
        return in_root("korund", "-i", self.base, "setup-code").stdout.strip()

    def add_user(self, username: str, role: str, password: str, *options: str) -> None:
        """A panel user made with the korund command (the password on its
        standard input); *options* such as "--language", "en"."""
        in_root("korund", "-i", self.base, "user", "add", username, "--role", role, *options,
                input=password + "\n")

    def api_token(self, username: str, label: str) -> str:
        """A new API token of *username*'s."""
        from appliance.base import store
        from appliance.users import store as users
        db = store.open_store(self.host_base / "korund.db", migrate=False)
        try:
            uid = db.execute("SELECT id FROM users WHERE username = ?", [username]).fetchone()[0]
            return users.create_token(db, uid, label)
        finally:
            db.close()

    def calls(self) -> list[dict]:
        with self.db() as conn:
            return [dict(r) for r in conn.execute("SELECT * FROM calls ORDER BY id")]

    def call_row(self, ani: str | None = None, ended: bool = True, since_id: int = 0,
                 timeout: float = 30, **want) -> dict:
        """The first history row after *since_id* for *ani*; with *want*, wait
        until it also has those values."""
        def find():
            for row in self.calls():
                if row["id"] > since_id and (ani is None or row["ani"] == ani) \
                        and (row["ended_at"] or not ended) \
                        and all(row[k] == v for k, v in want.items()):
                    return row
            return None
        return wait_for(find, timeout, what=f"a call-history row for {ani}")

    def last_call_id(self) -> int:
        with self.db() as conn:
            return conn.execute("SELECT COALESCE(MAX(id), 0) FROM calls").fetchone()[0]

    # --- the supervised services ------------------------------------------

    def services(self) -> dict[str, dict]:
        return supervisor.status(self.inst)

    def kill_service(self, name: str) -> int:
        """SIGKILL a service as a crash would; return the dead PID."""
        pid = self.services()[name]["pid"]
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_service(self, name: str, not_pid: int | None = None, timeout: float = 30) -> int:
        def up():
            st = self.services().get(name, {})
            return st.get("pid") if st.get("state") == "RUNNING" and st.get("pid") != not_pid else None
        pid = wait_for(up, timeout, what=f"service {name} RUNNING again")
        # supervisord calls a program RUNNING a second after it started; a
        # server is back only once it listens again (slow on a busy machine).
        port = {"agi": "agi.port", "web": "web.port"}.get(name)
        if port:
            settings = self.settings()
            # FastAGI listens on the loopback address local.address, the panel on net.address
            host = settings.get("local.address" if name == "agi" else "net.address", "127.0.0.1")
            address = (host, int(settings[port]))

            def listening():
                try:
                    socket.create_connection(address, timeout=1).close()
                    return True
                except OSError:
                    return False
            wait_for(listening, timeout, what=f"service {name} listening on {address}")
        return pid

    def stop_service(self, name: str):
        supervisor.rpc(self.inst).supervisor.stopProcess(name)

    def start_service(self, name: str):
        supervisor.rpc(self.inst).supervisor.startProcess(name)


class Carrier(Node):
    """The PSTN carrier and the operators' phones (devtools.simulator)."""

    def __init__(self, root: Path, name: str, address: str, appliance: str, rtp: int):
        super().__init__(root, name)
        self.address = address
        self.appliance = appliance
        self.rtp = rtp
        self.recordings = root / self.base.lstrip("/") / "recordings"

    def init(self):
        in_root("korund", "sim", "init", "--sim", self.base, "--address", self.address,
                "--appliance", self.appliance, "--rtp-start", str(self.rtp))
        self.recordings.mkdir(parents=True, exist_ok=True)
        os.chmod(self.recordings, 0o777)

    def start(self):
        in_root("korund", "sim", "start", "--sim", self.base)
        self.connect()

    def stop(self):
        self.disconnect()
        if self.host_base.exists():
            in_root("korund", "sim", "stop", "--sim", self.base, check=False)

    def ami_settings(self):
        return simulator.load(self.inst).ami_settings()

    def phone(self, extension: str, mode: str = "answer", tone: int | None = None):
        simulator.set_phone(self.mgr, extension, mode, tone)

    def call(self, ani: str, dnis: str = "100", name: str = "", hold: float = 10,
             dtmf: str = "", dtmf_delay: float = 1, tone: int | None = None) -> "PlacedCall":
        mark = self.events.mark()
        call_id = simulator.originate(self.mgr, ani=ani, dnis=dnis, name=name, hold=hold,
                                      dtmf=dtmf, dtmf_delay=dtmf_delay,
                                      record_dir=f"{self.base}/recordings", tone=tone)
        return PlacedCall(self, call_id, mark)


class PlacedCall:
    """A call the carrier placed: what the caller and the phones saw of it."""

    def __init__(self, carrier: Carrier, call_id: str, mark: int):
        self.carrier = carrier
        self.id = call_id
        self.mark = mark

    def wait(self, event: str, timeout: float = 30, **match) -> dict:
        return self.carrier.events.wait(self.mark, timeout, Event="UserEvent",
                                        UserEvent=event, **match)

    def answered_by_phone(self, timeout: float = 40) -> dict:
        return self.wait("SimPhoneAnswered", timeout)

    def ended(self, timeout: float = 60) -> dict:
        return self.wait("SimCallerHangup", timeout, Call=self.id)

    def recording(self) -> Path:
        """The WAV of what the caller heard (complete once the call ended)."""
        path = self.carrier.recordings / f"{self.id}.wav"
        return wait_for(lambda: path if path.exists() and path.stat().st_size > 44 else None,
                        10, what="the caller's recording")


def start_pair(root: Path, name: str, appliance_addr: str, carrier_addr: str,
               rtp: int) -> tuple[Appliance, Carrier]:
    """A fresh appliance and a fresh carrier pointed at each other, started."""
    appliance = Appliance(root, f"{name}-appliance", appliance_addr, f"{carrier_addr}:5060", rtp=rtp)
    carrier = Carrier(root, f"{name}-carrier", carrier_addr, f"{appliance_addr}:5060", rtp=rtp + 1000)
    for node in (appliance, carrier):
        node.fresh()
        node.init()
    carrier.start()
    appliance.start()
    return appliance, carrier


def stop_pair(appliance: Appliance, carrier: Carrier) -> list[int]:
    """Stop both; return the PIDs of anything of theirs still running."""
    appliance.stop()
    carrier.stop()
    # Processes see the sandbox by its path inside the root filesystem.
    return [p for node in (appliance, carrier) for p in supervisor.leftovers(Instance(Path(node.base)))]

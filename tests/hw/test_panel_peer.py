"""The VM's front-panel peer (tests/vm/panel_peer.py) against Korund's real
front-panel driver, without a VM: drivers.frontpanel.serve drives the slave
side of a pty with pyserial, and a relay plays qemu's part — a unix socket
server whose client (the peer) gets what is written to the pty and whose
bytes go back into it, like ``-serial unix:PATH,server=on``."""
from __future__ import annotations

import importlib.util
import logging
import os
import select
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from drivers import frontpanel
from tests.waiting import WaitTimeout, wait_for

ROOT = Path(__file__).resolve().parents[2]
PEER = ROOT / "tests/vm/panel_peer.py"


def _peer_module():
    spec = importlib.util.spec_from_file_location("panel_peer", PEER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


panel_peer = _peer_module()


def status(alarms=()):
    return {"ip": "10.0.2.15", "calls_now": 0,
            "alarms": [{"severity": "critical", "source": "span:2", "kind": a, "message": f"DYN/loc/1:1: {a}"}
                       for a in alarms],
            "sensors": [{"label": "Inlet air", "kind": "temperature", "value": 30.0, "status": "ok"}]}


class Relay:
    """qemu's unix-socket serial backend over a pty master."""

    def __init__(self, master: int, path: str):
        self.master, self.path = master, path
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(1)
        self.conn = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.server.settimeout(0.2)
        while not self.stop.is_set() and self.conn is None:
            try:
                self.conn, _ = self.server.accept()
            except socket.timeout:
                continue
        while not self.stop.is_set():
            ready, _, _ = select.select([self.master, self.conn], [], [], 0.1)
            try:
                if self.master in ready:
                    self.conn.sendall(os.read(self.master, 4096))
                if self.conn in ready:
                    data = self.conn.recv(4096)
                    if not data:
                        return
                    os.write(self.master, data)
            except OSError:
                return

    def close(self):
        """The guest powered off: the socket goes away."""
        self.stop.set()
        self.thread.join(5)
        if self.conn is not None:
            self.conn.close()
        self.server.close()


@pytest.fixture
def panel(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="drivers.frontpanel")
    master, slave = os.openpty()
    state = {"status": status()}
    stop = threading.Event()
    serving = threading.Thread(target=frontpanel.serve, args=(os.ttyname(slave), lambda: state["status"]),
                               kwargs={"refresh": 0.1, "retry": 0.1, "stop": stop}, daemon=True)
    serving.start()
    relay = Relay(master, str(tmp_path / "panel.sock"))
    yield state, relay
    relay.close()
    stop.set()
    serving.join(5)
    os.close(master)
    os.close(slave)


def wait_log(path: Path, predicate, timeout: float = 30) -> list[dict]:
    """The peer's log entries once *predicate* holds for them."""
    def entries():
        got = panel_peer.read_log(path) if path.exists() else []
        return got if predicate(got) else None
    try:
        return wait_for(entries, timeout, 0.1, what="the peer's log to show it")
    except WaitTimeout as exc:
        raise WaitTimeout(f"{exc}:\n{path.read_text() if path.exists() else ''}") from None


def screens(entries) -> list[str]:
    return ["\n".join(e["lines"]) for e in entries if e["event"] == "screen"]


def test_peer_navigates_sees_the_alarm_and_exits_when_the_socket_closes(panel, tmp_path, caplog):
    state, relay = panel
    log = tmp_path / "panel.jsonl"
    peer = subprocess.Popen([sys.executable, str(PEER), "--socket", relay.path, "--log", str(log)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # DOWN twice: from the status screen to the alarms screen, where it waits.
        entries = wait_log(log, lambda es: any(s.startswith("Alarms") and "No alarms" in s
                                                for s in screens(es)))
        assert any(s.startswith("IP address") and "10.0.2.15" in s for s in screens(entries))
        assert any(s.startswith("Calls now") for s in screens(entries))
        assert [e["key"] for e in entries if e["event"] == "press"] == ["down", "down"]
        assert panel_peer.verify(log)      # no alarm seen yet: not a pass
        # A span goes into alarm: the peer opens the list and goes back to the status screen.
        state["status"] = status(alarms=["red"])
        entries = wait_log(log, lambda es: any(e["event"] == "script done" for e in es))
        shown = screens(entries)
        assert any("1 active" in s and "CRIT span 2 RED" in s for s in shown)
        assert any(s.startswith("Alarms!") and s.split("\n")[1] == "CRIT span 2 RED"
                   for s in shown)                              # the list
        assert shown[-1].startswith("IP address!")
        assert [e["key"] for e in entries if e["event"] == "press"] == ["down", "down", "enter",
                                                                         "back", "back"]
    finally:
        relay.close()                      # the guest powers off
        out, _ = peer.communicate(timeout=20)
    assert peer.returncode == 0, out
    assert panel_peer.read_log(log)[-1]["event"] == "closed"
    assert panel_peer.verify(log) == []
    # Korund's side obeyed each key, as its log (the guest check reads it) says.
    said = [r.getMessage() for r in caplog.records]
    assert "front panel: key down -> calls 2/4" in said
    assert "front panel: key enter -> alarms 3/4 list" in said
    assert said.index("front panel: key back -> ip 1/4") > said.index("front panel: key enter -> alarms 3/4 list")
    assert any(m.startswith("front panel: shows Alarms!") and "CRIT span 2 RED" in m for m in said)
    cli = subprocess.run([sys.executable, str(PEER), "--verify", str(log)], capture_output=True, text=True)
    assert cli.returncode == 0 and "front panel: ok" in cli.stdout


def test_verify_names_what_is_missing(tmp_path):
    log = tmp_path / "empty.jsonl"
    log.write_text('{"event": "connected", "t": 1}\n')
    problems = panel_peer.verify(log)
    assert "no screen received from the guest" in problems
    assert "the peer never pressed DOWN" in problems
    assert panel_peer.verify(tmp_path / "missing.jsonl")[0].startswith("no front-panel peer log")
    cli = subprocess.run([sys.executable, str(PEER), "--verify", str(log)], capture_output=True, text=True)
    assert cli.returncode == 1 and "problem(s)" in cli.stdout


def test_peer_without_a_guest_gives_up(tmp_path):
    log = tmp_path / "panel.jsonl"
    r = subprocess.run([sys.executable, str(PEER), "--socket", str(tmp_path / "none.sock"), "--log", str(log),
                        "--connect-timeout", "0.5"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert panel_peer.read_log(log)[0]["event"] == "no connection"


def test_screen_parsing():
    assert panel_peer.parse(["Alarms!         3/4", "2 active", "CRIT x", ""]) == {
        "title": "Alarms", "index": 3, "count": 4, "alarm": True, "active": 2, "list": False}
    assert panel_peer.parse(["Alarms!         3/4", "CRIT x", "WARN y", ""])["list"]
    assert not panel_peer.parse(["Alarms          3/4", "No alarms", "", ""])["list"]
    assert panel_peer.parse(["garbage"])["index"] is None

"""Hot-plug: the udev watcher refreshes the hardware view on board and span
events. One test drives it with a scripted monitor over a recorded tree; the
other runs the real pyudev monitor and inventory under umockdev, which fakes
/sys and the kernel's uevents for libudev."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from drivers import hotplug

FIX = Path(__file__).parent.parent / "fixtures" / "hw"
REPO = Path(__file__).resolve().parents[2]


class FakeDevice:
    def __init__(self, action, subsystem, sys_path, driver=None, properties=None, attributes=None):
        self.action, self.subsystem, self.sys_path = action, subsystem, sys_path
        self.sys_name = sys_path.rsplit("/", 1)[-1]
        self.driver = driver
        self.properties = properties or {}
        self.attributes = attributes or {}


class ScriptedMonitor:
    """Same poll()/start() API as pyudev.Monitor; events come from a list."""
    def __init__(self):
        self.events, self.started = [], False

    def start(self):
        self.started = True

    def poll(self, timeout=None):
        if self.events:
            return self.events.pop(0)
        time.sleep(0.01)   # poll()'s timeout, as a real monitor with nothing to report
        return None


def test_watcher_refreshes_on_board_and_span_events(tmp_path):
    root = tmp_path / "hw"
    shutil.copytree(FIX / "empty", root, symlinks=True)
    seen, changed = [], threading.Event()

    def on_change(view, ev):
        seen.append((ev.action, ev.subsystem, [b.model for b in view.boards], len(view.spans)))
        changed.set()

    mon = ScriptedMonitor()
    view = hotplug.HardwareView(root)
    watcher = hotplug.Watcher(view, on_change, monitor=mon).start()
    try:
        assert mon.started and view.boards == []
        # a NIC arriving is not a telephony board: no redraw
        nic = {"vendor": b"0x8086", "device": b"0x15b8", "subsystem_vendor": b"0x8086",
               "subsystem_device": b"0x0000", "class": b"0x020000"}
        mon.events.append(FakeDevice("add", "pci", "/sys/devices/pci0000:00/0000:07:00.0",
                                     attributes=nic))
        # the TE410P is plugged: its tree appears, then udev says so
        shutil.rmtree(root)
        shutil.copytree(FIX / "te410p_e1", root, symlinks=True)
        te = {"vendor": b"0xd161", "device": b"0x1410", "subsystem_vendor": b"0x0000",
              "subsystem_device": b"0x0000", "class": b"0x020000"}
        mon.events.append(FakeDevice("add", "pci", "/sys/devices/pci0000:00/0000:00:1e.0/0000:05:08.0",
                                     driver="wct4xxp", attributes=te))
        assert changed.wait(5)
        assert seen == [("add", "pci", ["TE410P (5th Gen)"], 4)]
        # the board is pulled: attributes are gone, the uevent's PCI_ID still tells what it was
        changed.clear()
        shutil.rmtree(root)
        shutil.copytree(FIX / "empty", root, symlinks=True)
        mon.events.append(FakeDevice("remove", "pci", "/sys/devices/pci0000:00/0000:00:1e.0/0000:05:08.0",
                                     properties={"PCI_ID": "D161:1410", "PCI_SUBSYS_ID": "0000:0000",
                                                 "PCI_CLASS": "20000"}))
        assert changed.wait(5)
        assert seen[-1] == ("remove", "pci", [], 0)
        # a span event (DAHDI registering a span) always refreshes
        changed.clear()
        mon.events.append(FakeDevice("add", "dahdi_spans", "/sys/devices/dynamic:loc:0/span-1"))
        assert changed.wait(5)
        assert seen[-1][:2] == ("add", "dahdi_spans")
    finally:
        watcher.stop()


CHILD = r'''
import json, os, sys, threading, time
sys.path.append("/usr/lib/python3/dist-packages")      # the host's gi (python3-gi)
import gi
gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev
from drivers import hotplug, inventory
from drivers.root import Root
from tests.waiting import WaitTimeout, wait_for

tb = UMockdev.Testbed.new()
log, changed = [], threading.Event()

def on_change(view, ev):
    log.append({"action": ev.action, "subsystem": ev.subsystem,
                "board": ev.board.model if ev.board else None,
                "boards": [b.model for b in view.boards],
                "spans": [[s.number, s.name, sorted(s.alarms)] for s in view.spans]})
    changed.set()

def wait(pred, what):
    try:
        wait_for(lambda: any(pred(e) for e in list(log)), 10, 0.05, what=what)
    except WaitTimeout as exc:
        raise SystemExit(f"{exc}: {log}")

view = hotplug.HardwareView(Root("/"))
watcher = hotplug.Watcher(view, on_change).start()
before = [b.model for b in view.boards]
time.sleep(0.2)   # the watcher's thread starts the udev monitor; nothing shows when
# umockdev emits "add" itself when a device is added; the explicit uevent()
# calls below are what udev would deliver anyway (duplicates are harmless)
nic = tb.add_device("pci", "0000:07:00.0", None,
    ["vendor", "0x8086", "device", "0x15b8", "subsystem_vendor", "0x8086",
     "subsystem_device", "0x0000", "class", "0x020000"], ["PCI_ID", "8086:15B8"])
tb.uevent(nic, "add")
board = tb.add_device("pci", "0000:05:08.0", None,
    ["vendor", "0xd161", "device", "0x1410", "subsystem_vendor", "0x0000",
     "subsystem_device", "0x0000", "class", "0x020000"],
    ["PCI_ID", "D161:1410", "PCI_SUBSYS_ID", "0000:0000", "PCI_CLASS", "20000"])
tb.uevent(board, "add")
wait(lambda e: e["boards"] == ["TE410P (5th Gen)"], "the board")
# umockdev files unknown subsystems under /sys/class; the kernel registers
# dahdi_spans as a bus, so give the span its /sys/bus link as the kernel does
top = tb.get_root_dir()
bus = os.path.join(top, "sys/bus/dahdi_spans/devices")
os.makedirs(bus)
os.symlink(os.path.join(top, board.lstrip("/"), "span-1"), os.path.join(bus, "span-1"))
span = tb.add_device("dahdi_spans", "span-1", board,
    ["name", "TE4/0/1", "desc", "T4XXP (PCI) Card 0 Span 1", "alarms", "0x8",
     "spantype", "E1", "lineconfig", "HDB3/CCS/CRC4", "is_sync_master", "1"], [])
tb.uevent(span, "add")
wait(lambda e: e["subsystem"] == "dahdi_spans" and e["spans"], "the span")
os.unlink(os.path.join(bus, "span-1"))
tb.remove_device(span)
tb.uevent(board, "remove")
tb.remove_device(board)
wait(lambda e: e["action"] == "remove" and e["subsystem"] == "pci" and not e["boards"], "the removal")
watcher.stop()
live = [b.model for b in inventory.boards(Root("/"))]
print("RESULT " + json.dumps({"before": before, "log": log, "after": live}))
'''


def _umockdev_ready() -> str | None:
    if not shutil.which("umockdev-wrapper"):
        return "umockdev is not installed (make host-deps installs it)"
    probe = subprocess.run([sys.executable, "-c", "import sys; sys.path.append("
                            "'/usr/lib/python3/dist-packages'); import gi; "
                            "gi.require_version('UMockdev', '1.0')"], capture_output=True)
    if probe.returncode:
        return "umockdev's GObject binding (python3-gi, gir1.2-umockdev-1.0) is not installed"
    return None


def test_hotplug_through_umockdev(tmp_path):
    reason = _umockdev_ready()
    if reason:
        pytest.fail(reason)  # make test installs it; a skip would hide a broken hot-plug path
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {k: v for k, v in os.environ.items() if k != "KORUND_HW_ROOT"}
    env["PYTHONPATH"] = str(REPO)
    p = subprocess.run(["umockdev-wrapper", sys.executable, str(script)], capture_output=True,
                       text=True, timeout=60, env=env, cwd=REPO)
    assert p.returncode == 0, p.stdout + p.stderr
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    assert result["before"] == []
    log = result["log"]
    # the NIC produced no change; the board did, then the span, then the removal
    first = log[0]
    assert (first["action"], first["subsystem"], first["board"]) == ("add", "pci", "TE410P (5th Gen)")
    assert first["boards"] == ["TE410P (5th Gen)"]
    assert not any(e["board"] is None and e["subsystem"] == "pci" for e in log)   # the NIC
    span_ev = next(e for e in log if e["subsystem"] == "dahdi_spans" and e["spans"])
    assert span_ev["spans"] == [[1, "TE4/0/1", ["RED"]]]
    removed = next(e for e in log if e["action"] == "remove" and e["subsystem"] == "pci")
    assert removed["board"] == "TE410P (5th Gen)"
    assert log[-1]["boards"] == [] and log[-1]["spans"] == []
    assert result["after"] == []

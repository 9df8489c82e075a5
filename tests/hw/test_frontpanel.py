"""The front panel through a real pty pair: Korund drives the slave side with
pyserial, a simulated Matrix Orbital display on the master side parses the
screens and presses buttons."""
from __future__ import annotations

import os
import select
import threading
import time

import pytest

from appliance.health import store as health
from appliance.base import store
from appliance.base import clock
from drivers import frontpanel


def status(alarms=(), temp=31.5):
    return {"ip": "192.168.10.20", "calls_now": 3,
            "alarms": [{"severity": "critical", "message": m} for m in alarms],
            "sensors": [{"label": "Inlet air", "kind": "temperature", "value": temp, "status": "ok"},
                        {"label": "Chassis fan", "kind": "fan", "value": 3000, "status": "ok"},
                        {"label": "Power supply", "kind": "power", "value": 0, "status": "ok"},
                        {"label": "Mainboard", "kind": "temperature", "value": None, "status": "absent"}]}


@pytest.fixture
def pty_panel():
    master, slave = os.openpty()
    port = os.ttyname(slave)
    state = {"status": status()}
    stop = threading.Event()

    def read():
        ready, _, _ = select.select([master], [], [], 0.1)
        return os.read(master, 4096) if ready else b""

    sim = frontpanel.DisplaySimulator(read, lambda b: os.write(master, b))
    thread = threading.Thread(target=frontpanel.serve, args=(port, lambda: state["status"]),
                              kwargs={"refresh": 0.1, "retry": 0.1, "stop": stop}, daemon=True)
    thread.start()
    yield sim, state
    stop.set()
    thread.join(5)
    os.close(master)
    os.close(slave)
    assert not thread.is_alive()


def test_status_screens_and_button_navigation(pty_panel):
    sim, state = pty_panel
    text = sim.wait_for(lambda t: "192.168.10.20" in t)
    assert sim.screen()[0].startswith("IP address") and sim.screen()[0].endswith("1/4")
    assert sim.backlight
    sim.press("down")
    sim.wait_for(lambda t: t.startswith("Calls now") and "\n3" in t)
    sim.press("down")
    sim.wait_for(lambda t: t.startswith("Alarms") and "No alarms" in t)
    # A span goes into alarm: the screen follows, with "!" in the title.
    state["status"] = status(alarms=["E1 span 1: RED alarm", "E1 span 1: LOS alarm"])
    text = sim.wait_for(lambda t: "2 active" in t)
    assert sim.screen()[0].startswith("Alarms!") and "CRIT E1 span 1: RED" in text
    sim.press("enter")                   # the list of alarms
    text = sim.wait_for(lambda t: "LOS" in t)
    assert sim.screen()[1].startswith("CRIT E1 span 1: RED")
    sim.press("back")
    sim.wait_for(lambda t: "2 active" in t)
    sim.press("down")
    text = sim.wait_for(lambda t: t.startswith("Sensors"))
    assert "Max 31.5C Inlet air" in text
    sim.press("enter")
    text = sim.wait_for(lambda t: "Chassis fan: 3000rpm" in t)
    assert "Inlet air: 31.5C" in text
    sim.press("down")                    # scroll: 4 sensors, 3 rows
    text = sim.wait_for(lambda t: "Mainboard: not prese" in t)
    assert "Inlet air" not in text
    sim.press("back")
    sim.press("down")                    # wraps round to the first screen
    sim.wait_for(lambda t: "192.168.10.20" in t)
    sim.press("up")
    sim.wait_for(lambda t: t.startswith("Sensors"))


def test_absent_panel_is_retried_until_it_appears():
    master, slave = os.openpty()
    port = os.ttyname(slave)
    import serial
    attempts = []

    def opener():
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise serial.SerialException("could not open port /dev/ttyUSB0")
        return serial.serial_for_url(port, baudrate=frontpanel.BAUD, timeout=0.1)

    stop = threading.Event()
    t = threading.Thread(target=frontpanel.serve, args=(port, lambda: status()),
                         kwargs={"retry": 0.05, "stop": stop, "opener": opener}, daemon=True)
    t.start()

    def read():
        ready, _, _ = select.select([master], [], [], 0.1)
        return os.read(master, 4096) if ready else b""
    sim = frontpanel.DisplaySimulator(read, lambda b: os.write(master, b))
    sim.wait_for(lambda s: "192.168.10.20" in s)
    assert len(attempts) == 3
    stop.set()
    t.join(5)
    os.close(master)
    os.close(slave)


def test_missing_port_does_not_crash():
    stop = threading.Event()
    t = threading.Thread(target=frontpanel.serve, args=("/nonexistent/ttyPANEL", lambda: status()),
                         kwargs={"retry": 0.05, "stop": stop}, daemon=True)
    t.start()
    time.sleep(0.3)   # several retries (every 0.05 s) later it is still alive
    assert t.is_alive()
    stop.set()
    t.join(5)
    assert not t.is_alive()


def test_protocol_bytes_and_ascii_only():
    data = frontpanel.encode_screen(["Temp 40°C", "Тест"], 10)
    assert data.startswith(bytes([0xFE, 0x58, 0xFE, 0x47, 1, 1]) + b"Temp 40C  ")
    assert bytes([0xFE, 0x47, 1, 2]) + b"????      " in data
    sim = frontpanel.DisplaySimulator(lambda: b"", lambda b: None, width=10, height=2)
    sim.consume(data[:5])          # split in the middle of a command
    sim.consume(data[5:])
    assert sim.screen() == ["Temp 40C", "????"]


def test_a_source_error_shows_on_the_panel():
    def broken():
        raise OSError("database is locked")
    panel = frontpanel.FrontPanel(broken)
    assert panel.lines()[1:3] == ["Status unavailable", "database is locked"]


def test_panel_status_from_the_store(tmp_path):
    db = store.open_store(tmp_path / "k.db")
    store.set_setting(db, "net.address", "10.1.2.3")
    db.execute("INSERT INTO calls (uniqueid, started_at) VALUES ('a', ?)",
               [health._iso(clock.now())])
    db.execute("INSERT INTO health_alarms (source, kind, severity, message, raised_at) "
               "VALUES ('span:1', 'red', 'critical', 'E1 1: RED alarm', '2026-01-01T00:00:00+00:00')")
    st = health.panel_status(db)
    assert st["ip"] == "10.1.2.3" and st["calls_now"] == 1
    panel = frontpanel.FrontPanel(lambda: st)
    panel.press("down")
    panel.press("down")
    assert panel.lines()[:3] == ["Alarms!          3/4", "1 active", "CRIT span 1 RED"]


def test_supervisord_runs_the_panel_only_when_a_port_is_set(tmp_path):
    from appliance.base import supervisor
    from appliance.base.instance import Instance
    inst = Instance(tmp_path / "appliance")
    inst.create_dirs()
    db = inst.open_store()
    conf = supervisor.render(inst)
    assert "[program:health]" in conf and "[program:frontpanel]" not in conf
    store.set_setting(db, "frontpanel.port", "/dev/ttyS1")
    db.close()
    conf = supervisor.render(inst)
    assert "[program:frontpanel]" in conf and f"korund -i {inst.base} frontpanel" in conf


def test_the_frontpanel_command_drives_a_pty(tmp_path):
    """`korund frontpanel` as supervisord runs it: settings, the store's alarms."""
    import subprocess
    import sys
    from appliance.base.instance import Instance
    inst = Instance(tmp_path / "appliance")
    inst.create_dirs()
    db = inst.open_store()
    store.set_setting(db, "net.address", "10.9.8.7")
    db.execute("INSERT INTO health_alarms (source, kind, severity, message, raised_at) "
               "VALUES ('span:2', 'blue', 'critical', 'E1 2: BLUE alarm', '2026-01-01T00:00:00+00:00')")
    db.close()
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "korund.cli", "-i", str(inst.base), "frontpanel",
                             "--port", os.ttyname(slave)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        def read():
            ready, _, _ = select.select([master], [], [], 0.1)
            return os.read(master, 4096) if ready else b""
        sim = frontpanel.DisplaySimulator(read, lambda b: os.write(master, b))
        sim.wait_for(lambda t: "10.9.8.7" in t, timeout=20)
        assert sim.screen()[0].startswith("IP address!")
        sim.press("up")
        sim.press("up")
        sim.wait_for(lambda t: "1 active" in t and "CRIT span 2 BLUE" in t)
    finally:
        proc.terminate()
        proc.wait(10)
        os.close(master)
        os.close(slave)

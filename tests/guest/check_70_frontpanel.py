"""The front panel on the guest's second serial port (ttyS1 = qemu's unix
socket, where the host runs tests/vm/panel_peer.py, a simulated display):
Korund's service sends the status screens, the display's button presses
arrive and are obeyed — as Korund's own front-panel log records (each key
and the screen it led to). The peer's script: DOWN to the alarms screen,
ENTER on an alarm, BACK twice. check_50 raises a span alarm while the panel
runs; if the script has not finished by now (the peer was slow, or check_50
did not run) this check raises an over-temperature alarm itself.

The host side checks the peer's log after the run (panel_peer.verify)."""
from __future__ import annotations

import hwcheck

import guest

TIMEOUT = 240


def _keys() -> list[str]:
    return hwcheck.panel_keys()


def _script_done() -> bool:
    """The peer opened the alarm list (ENTER) and went back to the status screen."""
    keys = _keys()
    opened = [i for i, k in enumerate(keys) if k.startswith("enter -> alarms 3/4 list")]
    return bool(opened) and any(k.startswith("back -> ip 1/4") for k in keys[opened[0]:])


def check_status_screens_sent():
    hwcheck.ensure_frontpanel()
    shown = guest.wait_for(lambda: hwcheck.panel_showed(r"IP address!?\s+1/4"), timeout=30,
                           what="the status screen")
    ip = shown.split("|")[1].strip()
    assert ip and ip != "-", shown           # the guest's address


def check_buttons_arrive_and_are_obeyed():
    hwcheck.ensure_frontpanel()
    # The peer presses DOWN from the status screen to the alarms screen.
    guest.wait_for(lambda: any(k.startswith("down -> alarms 3/4") for k in _keys()), timeout=90,
                   what=f"DOWN presses from the display reaching the alarms screen; keys so far: {_keys()}")
    assert any(k.startswith("down -> calls 2/4") for k in _keys()), _keys()
    assert hwcheck.panel_showed(r"Calls now\s+2/4"), "the calls screen was never sent"
    if not _script_done():
        # An alarm for the peer to open: the inlet sensor over its critical limit.
        bus = hwcheck.stub_bus()
        hwcheck.set_settings({"hw.model": "korund-1u", "hw.i2c_bus": hwcheck.STUB_ADAPTER})
        hwcheck.chips(bus, inlet=70.0)
        try:
            hwcheck.sweep()
            guest.wait_for(lambda: hwcheck.panel_showed(r"CRIT Inlet air"), timeout=30,
                           what="the over-temperature alarm on the front panel")
            guest.wait_for(_script_done, timeout=90,
                           what=f"ENTER and BACK from the display; keys so far: {_keys()}")
        finally:
            hwcheck.chips(bus, inlet=30.0)
            hwcheck.sweep()
    keys = _keys()
    assert _script_done(), keys
    # ENTER opened the list of alarms and the panel sent it (the alarms themselves,
    # no "N active" summary line) ...
    assert hwcheck.panel_showed(r"Alarms!\s+3/4 \| (CRIT|WARN) "), "the alarm list was never sent"
    # ... and BACK, twice, came back to the status screen, which was sent again.
    first_enter = next(i for i, k in enumerate(keys) if k.startswith("enter -> alarms 3/4 list"))
    assert any(k.startswith("back -> alarms 3/4") for k in keys[first_enter:]), keys
    screens = [ln for ln in hwcheck.panel_lines() if "front panel: shows IP address" in ln]
    assert len(screens) >= 2, screens

"""A span alarm on the real kernel: the carrier's end of the loop goes away
(its dynamic span destroyed, as dahdi_cfg does it), so the appliance's trunk
span receives nothing and dahdi_dynamic raises RED on it after a second.
Korund's health view (the API, health_alarms) and the front panel's screen
show it; when the carrier comes back (Korund's own apply of the stored
loop) the alarm is cleared, with its time."""
from __future__ import annotations

import contextlib
import re

import hwcheck
import loop

import guest
from appliance.base import ami

TIMEOUT = 300
TRUNK = 2
CARRIER_DYNAMIC = "dynamic=loc,1:0,31,0"     # span 1 of the loop (devtools.dahdi_loop)


def _span(number: int):
    from drivers import spans
    try:
        return spans.span(None, number)
    except spans.SpanNotFound:
        return None


def cut_carrier() -> str:
    """Destroy the carrier's dynamic span the way dahdi_cfg does (it destroys
    the dynamic spans its file names): chan_dahdi first lets go of the
    channels (a dynamic span in use cannot be destroyed), then ``dahdi_cfg -s``
    on a file naming only the carrier's span. What dahdi_cfg said."""
    with guest.ami_session() as mgr:
        mgr.send_action({"Action": "ModuleLoad", "Module": "chan_dahdi.so", "LoadType": "unload"})
    conf = guest.out_path("alarms/carrier-only.conf")
    conf.write_text(f"# check_50: only the carrier's span, to take it down\n{CARRIER_DYNAMIC}\n")
    # -s: "shutdown" mode; dahdi_cfg exits 1 in that mode whatever happens.
    said = guest.run(["dahdi_cfg", "-vv", "-s", "-c", str(conf)], check=False)
    return said.stdout + said.stderr


def check_span_alarm_raised_shown_and_cleared():
    loop.configure("pri")
    hwcheck.ensure_frontpanel()
    guest.wait_for(lambda: (s := _span(TRUNK)) is not None and s.ok, timeout=60,
                   what="the trunk span without alarms")
    hwcheck.sweep()
    assert not [a for a in hwcheck.open_alarms() if a["source"] == f"span:{TRUNK}"]
    since = len(hwcheck.panel_lines())

    said = cut_carrier()
    guest.wait_for(lambda: _span(1) is None, timeout=30,
                   what=f"the carrier's span gone (dahdi_cfg said: {said})")
    trunk = guest.wait_for(lambda: (s := _span(TRUNK)) is not None and "RED" in s.alarms and s,
                           timeout=30, what="RED on the trunk span")
    assert trunk.worst_alarm == "RED", trunk.alarms
    hwcheck.record_tree("dynamic_loc_vm_down")
    # Korund's health view: the collector's sweep stores it ...
    result = hwcheck.sweep()
    spans = {s["number"]: s for s in result["spans"]}
    assert "red" in spans[TRUNK]["alarms"], result["spans"]
    rows = [a for a in hwcheck.open_alarms() if a["source"] == f"span:{TRUNK}" and a["kind"] == "red"]
    assert len(rows) == 1 and rows[0]["severity"] == "critical", rows
    assert "RED alarm" in rows[0]["message"] and "DYN/loc/1:1" in rows[0]["message"], rows
    # ... the API shows it ...
    api = hwcheck.api_health()["alarms"]
    assert any(a["source"] == f"span:{TRUNK}" and a["kind"] == "red" for a in api), api
    status, page = hwcheck.get("/health/")
    row = re.search(rf'<tr data-span="{TRUNK}">(.*?)</tr>', page, re.S)
    assert status == 200 and row and 'class="bad"' in row.group(1) and "RED" in row.group(1), \
        (status, row.group(1) if row else page[:2000])
    # ... and the front panel's screen (refreshed every 2 s from the store).
    screen = guest.wait_for(lambda: hwcheck.panel_showed(rf"CRIT span {TRUNK} RED", since), timeout=30,
                            what=f"the front panel showing the alarm ({hwcheck.panel_log()})")
    assert "Alarms!" in screen or "!" in screen.split("|")[0], screen
    # Give the host's display peer (tests/vm/panel_peer.py) time to open the
    # alarm list while the alarm is on; check_70 checks what it pressed.
    with contextlib.suppress(guest.WaitTimeout):
        guest.wait_for(lambda: any(k.startswith("back -> ip") for k in hwcheck.panel_keys(since)),
                       timeout=45, interval=1, what="the display peer back on the IP screen")

    # The carrier comes back: Korund puts the stored loop into service again.
    loop.configure("pri")
    guest.wait_for(lambda: (s := _span(TRUNK)) is not None and s.ok, timeout=60,
                   what="the trunk span out of alarm")
    result = hwcheck.sweep()
    assert [TRUNK, []] in [[s["number"], s["alarms"]] for s in result["spans"]], result["spans"]
    assert not [a for a in hwcheck.open_alarms() if a["source"] == f"span:{TRUNK}"]
    cleared = hwcheck.alarm_rows(f"span:{TRUNK}", "red")[0]
    assert cleared["cleared_at"] and cleared["cleared_at"] >= cleared["raised_at"], cleared
    assert not [a for a in hwcheck.api_health()["alarms"] if a["source"].startswith("span:")]
    guest.wait_for(lambda: hwcheck.panel_showed(r"No alarms|IP address \s+1/4 \|", since), timeout=30,
                   what="the front panel without the alarm")


def check_pri_up_again_after_the_recovery():
    """chan_dahdi is back with every channel after the recovery: both PRI ends up."""
    with guest.ami_session() as mgr:
        shown = ami.command(mgr, "pri show spans")
    assert sum("Up, Active" in ln for ln in shown) >= 2, shown

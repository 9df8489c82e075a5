"""Korund's hardware readers against /sys and /proc RECORDED in the appliance
VM (make vm-test: tests/guest/hwcheck.record_tree, real dahdi 3.4 on the
image's kernel), not written by hand:

- tests/fixtures/hw/dynamic_loc_vm: the two looped dahdi_dynamic_loc spans
  configured by Korund as a PRI pair, chan_dahdi holding the channels;
- tests/fixtures/hw/dynamic_loc_vm_down: the same after the carrier's
  span was destroyed: span 2 alone, RED (check_50_alarms).

What the real kernel showed that the hand-made dynamic_loc fixture did not:
a dynamic span has spantype DYNAMIC, no line configuration (no span= line),
no sync master, its device is dynamic:loc:<counter> (a new number each time
dahdi_cfg re-creates it), and /proc marks every channel RED as well."""
from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

from appliance.health import store as health
from appliance.base import store
from drivers import bundle, frontpanel, spans
from drivers.root import Root

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "hw"
UP, DOWN = Root(FIX / "dynamic_loc_vm"), Root(FIX / "dynamic_loc_vm_down")
TOOL = Path(__file__).resolve().parents[2] / "firmware-tools" / "korund-hw"


def test_the_looped_spans_as_the_kernel_shows_them():
    one, two = spans.spans(UP)
    for s, peer, base in ((one, "1:0", 1), (two, "1:1", 32)):
        assert (s.name, s.description) == (f"DYN/loc/{peer}", f"Dynamic 'loc' span at '{peer}'")
        assert s.ok and s.alarms == set() and s.worst_alarm is None
        assert s.spantype == "DYNAMIC" and s.is_digital is True
        assert s.line_config == "" and not s.timing_source and s.syncsrc == 0
        assert s.basechan == base and s.channel_count == 31 and len(s.channels) == 31
        assert s.device.startswith("dynamic:loc:") and s.hardware_id == s.name
        assert [c.number for c in s.channels] == list(range(base, base + 31))
        assert s.channels[15].kind == "dchan" and s.channels[15].signalling == "HDLCFCS"
        assert sum(c.kind == "bchan" for c in s.channels) == 30
        assert all(c.in_use for c in s.channels)           # chan_dahdi holds them
        assert s.counters == dict.fromkeys(spans.COUNTERS, 0)
    assert spans.alarm_summary(UP) == {"spans": 2, "ok": True, "worst": None, "in_alarm": []}
    assert spans.timing(UP)["master"] is None


def test_the_trunk_span_in_red_when_the_carrier_is_gone():
    (two,) = spans.spans(DOWN)
    assert two.number == 2 and two.alarms == {"RED"} and two.worst_alarm == "RED"
    assert all(c.alarms == {"RED"} for c in two.channels)
    summary = spans.alarm_summary(DOWN)
    assert summary["worst"] == "RED" and summary["in_alarm"] == [
        {"span": 2, "name": "DYN/loc/1:1", "alarms": ["RED"], "worst": "RED"}]


def test_health_raises_the_red_alarm_and_records_the_recovery(tmp_path):
    db = store.open_store(tmp_path / "k.db")
    store.set_setting(db, "hw.root", str(DOWN.base))
    result = health.sweep(db, smbus=lambda _p: None)
    assert result["spans"] == [{"number": 2, "name": "DYN/loc/1:1", "alarms": ["red"]}]
    assert result["raised"] == [("span:2", "red")]
    (alarm,) = health.alarms(db, active_only=True)
    assert alarm["severity"] == "critical" and alarm["message"] == "DYN/loc/1:1: RED alarm"
    # The front panel's alarm screen: the span and the alarm fit on 20 columns.
    panel = frontpanel.FrontPanel(lambda: health.panel_status(db))
    panel.press("down")
    panel.press("down")
    assert panel.lines()[:3] == ["Alarms!          3/4", "1 active", "CRIT span 2 RED"]
    store.set_setting(db, "hw.root", str(UP.base))
    result = health.sweep(db, smbus=lambda _p: None)
    assert result["cleared"] == [("span:2", "red")] and health.alarms(db, active_only=True) == []
    assert health.alarms(db)[0]["cleared_at"]


def test_the_technicians_tool_and_bundle_on_the_recorded_trees(tmp_path):
    def hw(root, *args):
        return subprocess.run([sys.executable, str(TOOL), "--root", str(root.base), *args],
                              capture_output=True, text=True, timeout=60)
    out = hw(UP, "spans").stdout.splitlines()
    assert len(out) == 2 and all(" OK " in line and "31 ch, 31 in use" in line for line in out), out
    assert "RED" in hw(DOWN, "spans").stdout
    detail = hw(UP, "span", "2").stdout
    assert "DYN/loc/1:1/16" in detail and "dchan" in detail
    manifest = bundle.make_bundle(tmp_path / "b.tar.gz", DOWN, runner=lambda cmd, t: (1, ""))
    assert "hardware/proc-dahdi/2" in manifest["files"]
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        alarms = json.load(tar.extractfile("korund-support/hardware/alarms.json"))
    assert alarms["worst"] == "RED" and alarms["in_alarm"][0]["span"] == 2

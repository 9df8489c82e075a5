"""Spans, channels, alarms, counters and timing against recorded machines."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from drivers import spans
from drivers.root import Root

FIX = Path(__file__).parent.parent / "fixtures" / "hw"


def _spans(name):
    return spans.spans(Root(FIX / name))


def test_te410p_one_span_red_with_counters_one_clear_master():
    s1, s2, s3, s4 = _spans("te410p_e1")
    assert s1.alarms == {"RED", "LOS"} and s1.worst_alarm == "RED" and not s1.ok
    assert s1.counters == {"bpv": 1843, "crc4": 312, "ebit": 7, "fas": 96, "irq_misses": 0,
                           "slips": 4}
    assert s2.ok and s2.timing_source and s2.clock_source and s2.counters["crc4"] == 0
    assert s3.counters["crc4"] == 2 and s3.ok
    assert s4.alarms == {"YELLOW"} and s4.counters["ebit"] == 15
    for s in (s1, s2, s3, s4):
        assert (s.coding, s.framing, s.crc4, s.line_config) == ("HDB3", "CCS", True, "HDB3/CCS/CRC4")
        assert s.spantype == "E1" and s.channel_count == 31 and len(s.channels) == 31
        assert s.device == "pci:0000:05:08.0" and s.manufacturer == "Digium"
        assert s.location == "PCI Bus 05 Slot 09"
    assert (s1.name, s1.description) == ("TE4/0/1", "T4XXP (PCI) Card 0 Span 1")
    assert [c.number for c in s2.channels] == list(range(32, 63))


def test_pri_channels_b_and_d_in_use_and_echo_canceller():
    s2 = _spans("te410p_e1")[1]
    d = s2.channels[15]
    assert (d.name, d.signalling, d.kind, d.in_use) == \
        ("TE4/0/2/16", "Hardware-assisted HDLC", "dchan", True)
    b1 = s2.channels[0]
    assert (b1.signalling, b1.kind, b1.in_use, b1.echo_canceller, b1.echo_active) == \
        ("Clear", "bchan", True, "VPMOCT128", True)
    assert not s2.channels[2].in_use and s2.channels[2].echo_active is False
    assert s2.in_use == 4


def test_d115_r2_cas_span():
    (s,) = _spans("d115_r2")
    assert (s.name, s.coding, s.framing, s.crc4) == ("D115/0/1", "HDB3", "CAS", False)
    assert s.timing_source and s.clock_source and s.counters["slips"] == 1
    assert {c.kind for c in s.channels} == {"cas", "reserved"}
    assert s.channels[15].reserved and s.channels[15].signalling is None
    assert s.in_use == 2


def test_a1200_fxs_and_fxo_modules():
    (s,) = _spans("a1200_analog")
    kinds = [c.kind for c in s.channels]
    assert kinds == ["fxs"] * 4 + ["fxo"] * 4 + ["unconfigured"] * 4
    assert s.channels[7].alarms == {"RED"}          # an FXO port with no line (no battery)
    assert s.ok and s.is_digital is False and s.spantype == "ANALOG_MIXED"
    assert [c.number for c in s.channels if c.in_use] == [1, 5]
    assert s.line_config == ""


def test_dynamic_loc_spans_of_the_vm():
    s1, s2 = _spans("dynamic_loc")
    assert (s1.name, s1.description) == ("DYN/loc/1:0", "Dynamic 'loc' span at '1:0'")
    assert s1.device == "dynamic:loc:0" and s2.device == "dynamic:loc:1"
    assert s1.hardware_id == "DYN/loc/1:0"
    assert s1.timing_source and not s2.timing_source
    assert s1.channels[15].signalling == "HDLCFCS" and s1.channels[15].kind == "dchan"
    assert spans.alarm_summary(Root(FIX / "dynamic_loc"))["ok"] is True


def test_alarm_summary_and_timing():
    summary = spans.alarm_summary(Root(FIX / "te410p_e1"))
    assert summary["ok"] is False and summary["worst"] == "RED" and summary["spans"] == 4
    assert [a["span"] for a in summary["in_alarm"]] == [1, 4]
    assert summary["in_alarm"][0]["alarms"] == ["LOS", "RED"]
    down = spans.alarm_summary(Root(FIX / "dynamic_loc_down"))
    assert down["in_alarm"] == [{"span": 2, "name": "DYN/loc/1:1", "alarms": ["RED"], "worst": "RED"}]
    t = spans.timing(Root(FIX / "te410p_e1"))
    assert (t["master"], t["name"], t["clock_sources"]) == (2, "TE4/0/2", [2])
    assert spans.timing(Root(FIX / "empty"))["master"] is None


def test_no_dahdi_means_no_spans():
    assert _spans("empty") == []
    assert spans.alarm_summary(Root(FIX / "empty")) == {"spans": 0, "ok": True, "worst": None,
                                                       "in_alarm": []}
    with pytest.raises(spans.SpanNotFound):
        spans.span(Root(FIX / "empty"), 1)


def test_proc_only_and_sysfs_only(tmp_path):
    proc_only = tmp_path / "p"
    shutil.copytree(FIX / "te410p_e1" / "proc", proc_only / "proc")
    s = spans.spans(Root(proc_only))[0]
    assert s.alarms == {"RED"} and s.counters["bpv"] == 1843   # /proc does not print LOS
    assert s.device is None and len(s.channels) == 31
    sys_only = tmp_path / "s"
    shutil.copytree(FIX / "te410p_e1" / "sys", sys_only / "sys", symlinks=True)
    s = spans.spans(Root(sys_only))[0]
    assert s.alarms == {"RED", "LOS"} and s.channels == [] and s.line_config == "HDB3/CCS/CRC4"


def test_parser_edge_cases(tmp_path):
    assert spans.alarms_from_bits("0x0") == set()
    assert spans.alarms_from_bits("0x12") == {"LOOPBACK", "BLUE"}
    assert spans.alarms_from_bits("0x720") == {"NOTOPEN", "LOS", "LFA", "LMFA"}
    assert spans.alarms_from_bits("junk") == set() and spans.alarms_from_bits(None) == set()
    s = spans.parse_proc('Span 3: X/1 "a \\"quoted\\" desc" LOOP RECOVERING NOTOPEN \n\n')
    assert s.alarms == {"LOOPBACK", "RECOVER", "NOTOPEN"} and s.channels == []
    ch = spans.parse_channel(5, "WCTDM/0/4", "SF (ToneOnly) (In use) (no pcm) BLUE ")
    assert (ch.signalling, ch.in_use, ch.alarms) == ("SF (ToneOnly)", True, {"BLUE"})
    ch = spans.parse_channel(6, "X/6", "E&M-E1 Master ")
    assert ch.signalling == "E&M-E1"
    with pytest.raises(ValueError):
        spans.parse_proc("not a span")
    # a corrupt /proc file is skipped, the rest still read
    (tmp_path / "proc/dahdi").mkdir(parents=True)
    (tmp_path / "proc/dahdi/1").write_text("garbage\n")
    (tmp_path / "proc/dahdi/2").write_text('Span 2: A/1 "ok" \n\n\t  32 A/1/1 Clear \n')
    (tmp_path / "proc/dahdi/dynamic").write_text("not a span file")
    assert [s.number for s in spans.spans(Root(tmp_path))] == [2]


def test_as_dict_is_json_ready():
    import json
    data = json.loads(json.dumps([s.as_dict() for s in _spans("te410p_e1")]))
    assert data[0]["alarms"] == ["LOS", "RED"] and data[0]["worst_alarm"] == "RED"
    assert data[1]["channels"][15]["kind"] == "dchan"

"""Board inventory against recorded machines (tests/fixtures/hw/)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from drivers import boards as table
from drivers import inventory
from drivers.root import Root

FIX = Path(__file__).parent.parent / "fixtures" / "hw"


def _boards(name):
    return inventory.boards(Root(FIX / name))


def test_te410p_is_a_four_span_e1_board_with_its_driver_bound():
    (b,) = _boards("te410p_e1")
    assert (b.address, b.model, b.driver, b.loaded_driver) == \
        ("0000:05:08.0", "TE410P (5th Gen)", "wct4xxp", "wct4xxp")
    assert b.supported and b.driver_ok
    assert (b.kind, b.spans, b.echo) == ("E1/T1", 4, "optional hardware")
    assert b.dahdi_devices == ["pci:0000:05:08.0"]


def test_openvox_d115_and_a1200():
    (d,) = _boards("d115_r2")
    assert (d.model, d.driver, d.spans, d.vendor) == ("D115P/D115E", "opvxd115", 1, "OpenVox")
    (a,) = _boards("a1200_analog")
    assert (a.model, a.driver, a.kind, a.ports) == ("A1200P/A800P", "opvxa1200", "analog", 12)


def test_ordinary_devices_are_not_boards():
    # a host bridge, an Intel MEI (a "communication controller") and a NIC
    assert _boards("empty") == []
    assert _boards("dynamic_loc") == []     # the test VM: spans without any board


def test_unknown_board_is_listed_as_unsupported_with_its_ids():
    (b,) = _boards("unknown_board")
    assert not b.supported and b.model == "unsupported"
    assert (b.vendor_id, b.device_id) == ("1923", "0100")
    assert "1923:0100" in b.ids and b.vendor == "Sangoma"
    assert b.driver is None and b.loaded_driver is None


def test_lookup_prefers_the_most_specific_key():
    assert table.lookup("0xd161", "0x0410", "0x0004", "0x0000").model == "TE410P (4th Gen)"
    assert table.lookup("0xd161", "0x0410", "0x0000", "0x0000").model == "TE410P (2nd Gen)"
    assert table.lookup("e159", "0001", "9500", "0003").model == "A800P"
    assert table.lookup("e159", "0001", "9500", "0001").model == "A1200P/A800P"
    assert table.lookup("e159", "0001", "b100", "0000").driver == "wctdm"
    assert table.lookup("e159", "0001", "1234", "0000") is None   # a Tiger Jet we do not know
    assert table.lookup("1397", "08b4", "1397", "e888").model == "B400P"
    assert table.lookup("", "", "", "") is None


def test_table_is_well_formed():
    drivers = {"wct4xxp", "wcte11xp", "wcte12xp", "wcte13xp", "wcte43x", "wctdm", "wctdm24xxp",
               "wcaxx", "wcb4xxp", "opvxd115", "opvxa1200", "opvxa24xx"}
    for key, m in table.MODELS.items():
        assert re.fullmatch(r"[0-9a-f]{4}:[0-9a-f]{4}(/[0-9a-f]{4}(:[0-9a-f]{4})?)?", key), key
        assert m.driver in drivers, key
        assert m.kind in ("E1/T1", "analog", "BRI")
        assert m.echo in ("hardware", "optional hardware", "software")
        assert (m.spans is None) != (m.ports is None) or m.kind == "E1/T1"
    models = " ".join(m.model for m in table.MODELS.values())
    for family in ("TE410P", "TE205P", "TE820", "TE131", "TE435", "TDM800P", "TDM410P", "A4A",
                   "A8B", "AEX800", "TDM400P", "D115P", "D130P", "D210E", "D410E", "A1200P",
                   "A800P", "B200P", "B400P", "B410P"):
        assert family in models, family


def test_garbage_in_sysfs_never_crashes(tmp_path):
    dev = tmp_path / "sys/bus/pci/devices"
    (dev / "0000:01:00.0").mkdir(parents=True)                 # no attribute files at all
    bad = dev / "0000:02:00.0"
    bad.mkdir()
    (bad / "vendor").write_text("garbage\n")
    (bad / "device").write_text("\n")
    d = dev / "0000:03:00.0"
    d.mkdir()
    (d / "vendor").write_text("0xd161\n")                    # Digium, an ID nobody knows
    (d / "device").write_text("0xfff0\n")
    found = inventory.boards(Root(tmp_path))
    assert [(b.address, b.supported) for b in found] == [("0000:03:00.0", False)]


def test_missing_root_means_no_boards(tmp_path):
    assert inventory.boards(Root(tmp_path / "nothing")) == []


def test_root_from_environment(monkeypatch):
    monkeypatch.setenv("KORUND_HW_ROOT", str(FIX / "te410p_e1"))
    assert [b.model for b in inventory.boards()] == ["TE410P (5th Gen)"]
    assert not Root().is_live


@pytest.mark.parametrize("name", ["te410p_e1", "d115_r2", "a1200_analog", "unknown_board"])
def test_as_dict_is_json_ready(name):
    import json
    json.dumps([b.as_dict() for b in _boards(name)])

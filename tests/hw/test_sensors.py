"""Sensors through a fake SMBus at the smbus2 seam and hwmon in a fixture
root; missing chips read as "absent", never an exception; the health sweep
stores readings and raises/clears alarms."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from appliance.health import store as health
from appliance.base import store
from drivers import sensor_models, sensors
from drivers.root import Root


class FakeChips:
    """Answers like the chips on one I2C bus: {address: {register: value}}.
    Words are given as the SMBus read returns them (LSB first)."""

    def __init__(self, chips):
        self.chips = chips
        self.opened = []
        self.writes = []

    def __call__(self, path):
        self.opened.append(path)
        return self

    def _chip(self, addr):
        if addr not in self.chips:
            raise OSError(121, "Remote I/O error")     # what i2c-dev says on a NAK
        return self.chips[addr]

    def read_byte_data(self, addr, reg):
        return self._chip(addr)[reg] & 0xFF

    def read_word_data(self, addr, reg):
        return self._chip(addr)[reg] & 0xFFFF

    def write_byte_data(self, addr, reg, value):
        self._chip(addr)[reg] = value
        self.writes.append((addr, reg, value))

    def close(self):
        pass


def emc2101(rpm: int | None, duty: int = 40):
    count = 0xFFFF if not rpm else round(sensors.EMC2101_TACH_CLOCK / rpm)
    return {0xFE: 0x5D, 0xFD: 0x16, 0x46: count & 0xFF, 0x47: count >> 8, 0x4C: duty}


def appliance_chips(inlet=25.0, board=40.5, pci=-3.5, rpm=3000, status_word=0x0000):
    return {0x48: {0: sensors.lm75_word(inlet)}, 0x49: {0: sensors.lm75_word(board)},
            0x4a: {0: sensors.lm75_word(pci)}, 0x4c: emc2101(rpm), 0x58: {0x79: status_word}}


@pytest.fixture
def root(tmp_path):
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "i2c-0").touch()
    return Root(tmp_path)


def by_id(readings):
    return {r.id: r for r in readings}


def test_lm75_conversion_is_9_bit_twos_complement():
    # Datasheet table: 0x7D00 -> +125, 0x0080 -> +0.5, 0xFF80 -> -0.5, 0xC900 -> -55.
    for msb_first, celsius in ((0x7D00, 125.0), (0x1900, 25.0), (0x0080, 0.5), (0x0000, 0.0),
                               (0xFF80, -0.5), (0xE700, -25.0), (0xC900, -55.0)):
        smbus_word = ((msb_first & 0xFF) << 8) | (msb_first >> 8)
        assert sensors.lm75_celsius(smbus_word) == celsius
        assert sensors.lm75_word(celsius) == smbus_word
    assert sensors.lm75_celsius(sensors.lm75_word(25.3)) == 25.5   # 0.5 °C steps


def test_appliance_sensors_read_through_smbus(root):
    bus = FakeChips(appliance_chips())
    r = by_id(sensors.read(root, "korund-1u", smbus=bus))
    assert (r["inlet"].value, r["inlet"].status, r["inlet"].unit) == (25.0, "ok", "°C")
    assert r["board"].value == 40.5 and r["pci"].value == -3.5
    assert r["fan1"].value == 3000 and r["fan1"].status == "ok" and "63%" in r["fan1"].detail
    assert r["psu1"].status == "ok"
    assert bus.opened[0] == str(root.path("/dev/i2c-0"))
    assert r["inlet"].source == "i2c-0@0x48"


def test_thresholds_fan_stall_and_psu_fault(root):
    chips = appliance_chips(inlet=47.0, board=81.0, rpm=None, status_word=0x0808)
    r = by_id(sensors.read(root, smbus=FakeChips(chips)))
    assert r["inlet"].status == "warning" and r["board"].status == "critical"
    assert r["fan1"].status == "fault" and r["fan1"].value == 0 and "stopped" in r["fan1"].detail
    assert r["psu1"].status == "fault"
    assert "power not good" in r["psu1"].detail and "input undervoltage" in r["psu1"].detail


def test_missing_chips_and_bus_are_reported_not_raised(tmp_path, root):
    chips = appliance_chips()
    del chips[0x49], chips[0x58]
    chips[0x4c][0xFD] = 0x99            # something else at the fan controller's address
    r = by_id(sensors.read(root, smbus=FakeChips(chips)))
    assert r["inlet"].status == "ok"
    for sid in ("board", "psu1", "fan1"):
        assert r[sid].status == "absent" and r[sid].value is None
        assert r[sid].detail.startswith("not present")
    # No /dev/i2c-0 at all: everything absent.
    empty = by_id(sensors.read(Root(tmp_path / "nothing"), smbus=FakeChips({})))
    assert {x.status for x in empty.values()} == {"absent"}
    assert "i2c-0" in empty["inlet"].detail
    # An unknown appliance model has no sensors (and no crash).
    assert sensors.read(root, "no-such-model", smbus=FakeChips({})) == []


def test_hwmon_is_preferred_when_a_driver_is_bound(root):
    hw = root.path("/sys/bus/i2c/devices/0-0048/hwmon/hwmon3")
    hw.mkdir(parents=True)
    (hw / "temp1_input").write_text("31500\n")
    r = by_id(sensors.read(root, smbus=FakeChips(appliance_chips(inlet=99))))
    assert r["inlet"].value == 31.5 and r["inlet"].source.endswith("hwmon3")


def test_named_hwmon_and_bus_by_adapter_name(tmp_path):
    root = Root(tmp_path)
    for n, name, files in ((0, "coretemp", {"temp1_input": "52000"}),
                           (1, "nct6775", {"fan2_input": "0"})):
        d = root.path(f"/sys/class/hwmon/hwmon{n}")
        d.mkdir(parents=True)
        (d / "name").write_text(name + "\n")
        for f, v in files.items():
            (d / f).write_text(v + "\n")
    r = by_id(sensors.read(root, "generic-pc", smbus=FakeChips({})))
    assert r["cpu"].value == 52.0 and r["cpu"].status == "ok"
    assert r["fan1"].status == "fault"
    # The i2c-stub adapter gets a number at load time: found by its name.
    adapter = root.path("/sys/class/i2c-adapter/i2c-7")
    adapter.mkdir(parents=True)
    (adapter / "name").write_text("SMBus stub driver\n")
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "i2c-7").touch()
    assert sensors.resolve_bus(root, "SMBus stub driver") == 7
    bus = FakeChips(appliance_chips())
    r = by_id(sensors.read(root, smbus=bus, bus_override="SMBus stub driver"))
    assert r["inlet"].status == "ok" and bus.opened[0].endswith("dev/i2c-7")


def test_adapter_by_name_on_a_kernel_without_the_adapter_class(tmp_path):
    """Kernel 7.x in the VM has no /sys/class/i2c-adapter: adapters are
    /sys/bus/i2c/devices/i2c-N (chips there too, as B-00AA)."""
    root = Root(tmp_path)
    for entry, name in (("i2c-0", "SMBus PIIX4 adapter port 0"), ("i2c-3", "SMBus stub driver"),
                        ("0-0050", "spd")):
        d = root.path(f"/sys/bus/i2c/devices/{entry}")
        d.mkdir(parents=True)
        (d / "name").write_text(name + "\n")
    assert sensors.resolve_bus(root, "SMBus stub driver") == 3
    assert sensors.resolve_bus(root, "spd") is None
    assert sensors.resolve_bus(root, "no such adapter") is None


def test_fan_drive_is_set_in_63_steps(root):
    bus = FakeChips(appliance_chips())
    sensors.Sensors(root, smbus=bus).set_fan("fan1", 50)
    assert bus.writes == [(0x4c, 0x4C, 32)]
    with pytest.raises(ValueError):
        sensors.Sensors(root, smbus=bus).set_fan("inlet", 50)


def test_every_model_entry_is_well_formed():
    for model, entries in sensor_models.APPLIANCES.items():
        ids = [e["id"] for e in entries]
        assert len(ids) == len(set(ids)), model
        for e in entries:
            assert e["kind"] in ("temperature", "fan", "power")
            assert hasattr(sensors.Sensors, "_read_" + e["chip"])
            if e["chip"] != "hwmon":
                assert 0x03 <= e["address"] <= 0x77


class FakeSpan:
    def __init__(self, number, alarms):
        self.number, self.name, self.alarms = number, f"E1 span {number}", set(alarms)


def test_sweep_stores_history_and_raises_then_clears_alarms(tmp_path, root):
    db = store.open_store(tmp_path / "k.db")
    chips = appliance_chips(inlet=30)
    bus = FakeChips(chips)
    span_alarms = {1: {"RED", "LOS"}, 2: set()}

    def spans_reader(_root):
        return [{"number": n, "name": f"E1 span {n}", "alarms": sorted(a.lower() for a in al)}
                for n, al in span_alarms.items()]

    t0 = datetime(2026, 11, 26, 10, 0, 10, tzinfo=timezone.utc)
    first = health.sweep(db, root, bus, spans_reader, now=t0)
    assert sorted(first["raised"]) == [("span:1", "los"), ("span:1", "red")]
    chips[0x48][0] = sensors.lm75_word(50)          # over the 45 °C warning
    chips[0x4c].update(emc2101(None))               # fan stops
    second = health.sweep(db, root, bus, spans_reader, now=t0 + timedelta(seconds=30))
    assert sorted(second["raised"]) == [("sensor:fan1", "fan_failure"), ("sensor:inlet", "temperature")]
    # Same bucket: averaged, one row.
    assert health.history(db, "inlet", now=t0) == [(int(t0.timestamp()) // 300 * 300, 40.0)]
    span_alarms[1] = set()
    chips[0x48][0] = sensors.lm75_word(30)
    chips[0x4c].update(emc2101(2500))
    third = health.sweep(db, root, bus, spans_reader, now=t0 + timedelta(minutes=6))
    assert sorted(third["cleared"]) == [("sensor:fan1", "fan_failure"), ("sensor:inlet", "temperature"),
                                        ("span:1", "los"), ("span:1", "red")]
    assert health.alarms(db, active_only=True) == []
    log = health.alarms(db)
    assert len(log) == 4 and all(a["cleared_at"] == "2026-11-26T10:06:10+00:00" for a in log)
    assert len(health.history(db, "inlet", now=t0 + timedelta(minutes=6))) == 2
    latest = {s["sensor"]: s for s in health.latest(db)}
    assert latest["inlet"]["value"] == 30 and latest["fan1"]["value"] == 2500


def test_sweep_without_dahdi_keeps_span_alarms_and_reports(tmp_path, root):
    db = store.open_store(tmp_path / "k.db")
    bus = FakeChips(appliance_chips())
    health.sweep(db, root, bus, lambda _r: [{"number": 1, "name": "E1", "alarms": ["red"]}])

    def broken(_root):
        raise OSError("no /proc/dahdi")
    result = health.sweep(db, root, bus, broken)
    assert result["spans_error"] == "OSError: no /proc/dahdi" and result["cleared"] == []
    assert [a["kind"] for a in health.alarms(db, active_only=True)] == ["red"]


def test_sweep_reads_real_drivers_spans_from_a_fixture_root(tmp_path):
    """The default span reader goes through drivers.spans on the same root."""
    db = store.open_store(tmp_path / "k.db")
    store.set_setting(db, "hw.root", str(tmp_path / "hw"))
    result = health.sweep(db, smbus=FakeChips({}))
    assert result["spans"] == [] and result["spans_error"] is None   # no DAHDI: no spans
    assert {r.status for r in result["readings"]} == {"absent"}
    assert {s["status"] for s in health.latest(db)} == {"absent"}


def test_chart_svg_draws_points_and_limits():
    svg = health.chart_svg([(0, 20.0), (300, 25.0), (600, 22.5)], "°C", (45.0, 55.0))
    assert svg.startswith("<svg") and svg.count('class="limit"') == 2 and "<path d=\"M" in svg
    assert health.chart_svg([], "°C") == ""
    assert "<circle" in health.chart_svg([(0, 20.0)], "<b>")
    assert "&lt;b&gt;" in health.chart_svg([(0, 20.0)], "<b>")


def test_hardware_settings_are_checked(tmp_path):
    from appliance.base.errors import ConfigError
    db = store.open_store(tmp_path / "k.db")
    health.set_setting(db, "hw.i2c_bus", "SMBus stub driver")
    health.set_setting(db, "health.interval", "10")
    health.set_setting(db, "frontpanel.size", "16x2")
    assert store.get_setting(db, "hw.i2c_bus") == "SMBus stub driver"
    for key, value in (("hw.model", "nope"), ("health.interval", "0"), ("health.interval", "ten"),
                       ("frontpanel.size", "20"), ("hw.root", "a\nb"), ("sip.port", "5")):
        with pytest.raises(ConfigError):
            health.set_setting(db, key, value)
    assert store.get_setting(db, "health.interval") == "10"


def test_a_model_change_drops_the_old_sensors(tmp_path, root):
    db = store.open_store(tmp_path / "k.db")
    health.sweep(db, root, FakeChips(appliance_chips()), lambda _r: [])
    assert len(health.latest(db)) == 5
    store.set_setting(db, "hw.model", "generic-pc")
    health.sweep(db, root, FakeChips({}), lambda _r: [])
    assert {s["sensor"] for s in health.latest(db)} == {"cpu", "fan1"}

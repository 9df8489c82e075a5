"""Sensors on a real kernel I2C bus: i2c-stub chips at the addresses of
Korund's sensor table (LM75s at 0x48-0x4a, an EMC2101 fan controller at
0x4c, a PMBus supply at 0x58), values written with smbus2 as the chips
would answer, read back by Korund's health service (drivers.sensors through
/dev/i2c-N), and an over-temperature alarm raised and cleared."""
from __future__ import annotations

import hwcheck

import guest

TIMEOUT = 180


def _readings() -> dict[str, dict]:
    return {r["id"]: r for r in hwcheck.sweep()["readings"]}


def check_stub_bus_named_in_settings():
    bus = hwcheck.stub_bus()
    hwcheck.set_settings({"hw.model": "korund-1u", "hw.i2c_bus": hwcheck.STUB_ADAPTER})
    found = guest.run(["i2cdetect", "-y", str(bus)]).stdout
    for addr in hwcheck.STUB_CHIPS:     # i2cdetect prints the address of each chip that answers
        assert f" {addr:02x}" in found, found


def check_values_read_back():
    bus = hwcheck.stub_bus()
    hwcheck.chips(bus, inlet=31.5, board=42.0, pci=-4.5, tach=1800, duty=40, psu_status=0)
    got = _readings()
    assert got["inlet"]["value"] == 31.5 and got["inlet"]["status"] == "ok", got["inlet"]
    assert got["board"]["value"] == 42.0, got["board"]
    assert got["pci"]["value"] == -4.5, got["pci"]       # two's complement, below zero
    for sid, addr in zip(("inlet", "board", "pci", "fan1", "psu1"), hwcheck.STUB_CHIPS):
        assert got[sid]["source"] == f"i2c-{bus}@0x{addr:02x}", got[sid]   # smbus2, not a fixture
    assert got["fan1"]["value"] == round(5_400_000 / 1800) and got["fan1"]["status"] == "ok", got["fan1"]
    assert got["fan1"]["detail"] == f"drive {round(40 * 100 / 63)}%", got["fan1"]
    assert got["psu1"]["status"] == "ok" and got["psu1"]["value"] == 0, got["psu1"]
    # The panel's API shows the stored readings.
    api = {s["sensor"]: s for s in hwcheck.api_health()["sensors"]}
    assert api["inlet"]["value"] == 31.5 and api["fan1"]["value"] == 3000, api
    # A changed value is a changed reading: nothing cached on the way.
    hwcheck.chips(bus, inlet=36.0, board=42.0, pci=20.0, tach=2700)
    got = _readings()
    assert got["inlet"]["value"] == 36.0 and got["fan1"]["value"] == 2000, (got["inlet"], got["fan1"])


def check_fan_drive_written_to_the_chip():
    import smbus2
    from drivers import sensors
    bus = hwcheck.stub_bus()
    with guest.store_session() as db:
        from appliance.health import store as health
        reader = sensors.Sensors(health.hw_root(db), health.hw_model(db), sensors.default_smbus,
                                 hwcheck.STUB_ADAPTER)
    reader.set_fan("fan1", 100)
    with smbus2.SMBus(bus) as dev:
        assert dev.read_byte_data(0x4c, sensors.EMC2101_FAN_SETTING) == 63
    reader.set_fan("fan1", 40)


def check_over_temperature_alarm_raised_and_cleared():
    bus = hwcheck.stub_bus()
    hwcheck.chips(bus, inlet=70.0)                 # the inlet's critical limit is 55 °C
    got = _readings()
    assert got["inlet"]["status"] == "critical", got["inlet"]
    rows = [a for a in hwcheck.open_alarms() if a["source"] == "sensor:inlet"]
    assert len(rows) == 1 and rows[0]["kind"] == "temperature" and rows[0]["severity"] == "critical", rows
    assert "70" in rows[0]["message"], rows
    api = hwcheck.api_health()["alarms"]
    assert any(a["source"] == "sensor:inlet" and a["severity"] == "critical" for a in api), api
    # A still-too-hot second sweep keeps the one alarm (no duplicate).
    hwcheck.sweep()
    assert len([a for a in hwcheck.open_alarms() if a["source"] == "sensor:inlet"]) == 1
    # Warm, not hot: the alarm turns into a warning; cool: it is cleared, with its time.
    hwcheck.chips(bus, inlet=50.0)
    assert _readings()["inlet"]["status"] == "warning"
    hwcheck.chips(bus, inlet=30.0)
    assert _readings()["inlet"]["status"] == "ok"
    assert not [a for a in hwcheck.open_alarms() if a["source"] == "sensor:inlet"]
    last = hwcheck.alarm_rows("sensor:inlet", "temperature")[0]
    assert last["cleared_at"] and last["cleared_at"] >= last["raised_at"], last
    status, page = hwcheck.get("/health/")
    assert status == 200 and "Inlet air" in page, page[:500]


def check_fan_and_power_faults():
    bus = hwcheck.stub_bus()
    hwcheck.chips(bus, tach=0xFFFF, psu_status=0x0800)     # fan stopped, "power not good"
    got = _readings()
    assert got["fan1"]["status"] == "fault" and got["fan1"]["value"] == 0, got["fan1"]
    assert got["psu1"]["status"] == "fault" and "power not good" in got["psu1"]["detail"], got["psu1"]
    kinds = {(a["source"], a["kind"]) for a in hwcheck.open_alarms()}
    assert {("sensor:fan1", "fan_failure"), ("sensor:psu1", "psu_fault")} <= kinds, kinds
    hwcheck.chips(bus)
    _readings()
    kinds = {(a["source"], a["kind"]) for a in hwcheck.open_alarms()}
    assert not kinds & {("sensor:fan1", "fan_failure"), ("sensor:psu1", "psu_fault")}, kinds

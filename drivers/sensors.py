"""Sensor readout: temperatures (LM75-class), fans (EMC2101 or hwmon), power
supply status (PMBus STATUS_WORD or an hwmon alarm file).

Two ways in, both under the configurable filesystem root:
- the kernel's hwmon interface (``/sys/bus/i2c/devices/B-00AA/hwmon/hwmonN``
  for an I2C chip with a bound driver, ``/sys/class/hwmon/hwmonN`` by name),
  preferred when it is there;
- smbus2 on ``/dev/i2c-N`` for chips without a driver. The SMBus object comes
  from a factory passed in (``smbus(bus_path)`` returning something with
  ``read_byte_data``, ``read_word_data``, ``write_byte_data`` and ``close``),
  so tests answer like the chip without any hardware.

A sensor that is not there (no device node, no answer on the bus, unknown
chip id) reads as status ``absent``; nothing here raises for missing hardware.
"""
from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from . import sensor_models

log = logging.getLogger(__name__)

OK, WARNING, CRITICAL, ABSENT, FAULT = "ok", "warning", "critical", "absent", "fault"

# EMC2101 registers (Microchip datasheet DS20002346).
EMC2101_TACH_LOW, EMC2101_TACH_HIGH = 0x46, 0x47
EMC2101_FAN_SETTING = 0x4C
EMC2101_PRODUCT_ID, EMC2101_MANUFACTURER_ID = 0xFD, 0xFE
EMC2101_PRODUCTS = (0x16, 0x28)         # EMC2101, EMC2101-R
EMC2101_SMSC = 0x5D
EMC2101_TACH_CLOCK = 5_400_000          # RPM = 5 400 000 / tach count
# PMBus (Part II, rev 1.3): STATUS_WORD and the bits that mean the supply is
# not delivering (or about to stop delivering) power.
PMBUS_STATUS_WORD = 0x79
PMBUS_FAULT_BITS = {
    0x0800: "power not good", 0x0040: "output off", 0x0020: "output overvoltage",
    0x0010: "output overcurrent", 0x0008: "input undervoltage",
    0x0004: "over temperature", 0x0400: "fan fault", 0x2000: "input fault",
    0x8000: "output voltage fault",
}


@dataclass
class Reading:
    id: str
    label: str
    kind: str              # temperature | fan | power
    status: str            # ok | warning | critical | absent | fault
    value: float | None = None
    unit: str = ""
    detail: str = ""
    source: str = ""       # where it was read (hwmon path or i2c-N@0xAA)

    def as_dict(self) -> dict:
        return asdict(self)


def base_path(root) -> Path:
    """The directory standing for '/' — a drivers.root.Root, a path or None."""
    if root is None:
        return Path("/")
    if isinstance(root, (str, os.PathLike)):
        return Path(root)
    for attr in ("base", "path", "prefix", "root"):
        value = getattr(root, attr, None)
        if isinstance(value, (str, os.PathLike)):
            return Path(value)
    return Path(str(root))


def under(root, path: str) -> Path:
    return base_path(root) / path.lstrip("/")


def default_smbus(bus_path: str):
    import smbus2
    return smbus2.SMBus(bus_path)


# Where the kernel lists I2C adapters with their "name": /sys/bus/i2c/devices/i2c-N
# always; the i2c-adapter class only on kernels built with I2C_COMPAT (not the
# appliance's 7.x kernel); /sys/class/i2c-dev/i2c-N once i2c-dev is loaded.
ADAPTER_DIRS = ("/sys/bus/i2c/devices", "/sys/class/i2c-adapter", "/sys/class/i2c-dev")


def resolve_bus(root, bus) -> int | None:
    """A bus number from a number or an adapter name (e.g. "SMBus stub driver")."""
    if isinstance(bus, int) or (isinstance(bus, str) and bus.isdigit()):
        return int(bus)
    for folder in ADAPTER_DIRS:
        try:
            entries = sorted(under(root, folder).iterdir())
        except OSError:
            continue
        for entry in entries:
            if not entry.name.startswith("i2c-"):
                continue          # 0-0048: a chip on a bus, not an adapter
            try:
                if (entry / "name").read_text().strip() == bus:
                    return int(entry.name.split("-", 1)[1])
            except (OSError, ValueError):
                continue
    return None


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


def _i2c_hwmon(root, bus: int, address: int) -> Path | None:
    """The hwmon directory of a driver bound to the chip at bus/address."""
    dev = under(root, f"/sys/bus/i2c/devices/{bus}-{address:04x}/hwmon")
    try:
        found = sorted(p for p in dev.iterdir() if p.name.startswith("hwmon"))
    except OSError:
        return None
    return found[0] if found else None


def _named_hwmon(root, name: str) -> Path | None:
    base = under(root, "/sys/class/hwmon")
    try:
        entries = sorted(base.iterdir())
    except OSError:
        return None
    for entry in entries:
        try:
            if (entry / "name").read_text().strip() == name:
                return entry
        except OSError:
            continue
    return None


def lm75_celsius(word: int) -> float:
    """Temperature from an SMBus word read of LM75 register 0.

    The chip sends the MSB first, SMBus words arrive LSB first: swap, then the
    top 9 bits are two's complement in 0.5 °C steps."""
    raw = ((word & 0xFF) << 8) | ((word >> 8) & 0xFF)
    t = raw >> 7
    if t & 0x100:
        t -= 0x200
    return t / 2


def lm75_word(celsius: float) -> int:
    """The SMBus word an LM75 answers for *celsius* (for simulators and tests)."""
    t = int(round(celsius * 2)) & 0x1FF
    raw = t << 7
    return ((raw & 0xFF) << 8) | (raw >> 8)


def _judge(spec: dict, value: float) -> str:
    if spec["kind"] == "temperature":
        if spec.get("critical") is not None and value >= spec["critical"]:
            return CRITICAL
        if spec.get("warning") is not None and value >= spec["warning"]:
            return WARNING
        return OK
    if spec["kind"] == "fan":
        return FAULT if value < spec.get("minimum", 1) else OK
    return OK


class Sensors:
    """Reads the sensors of one model under one root through one SMBus factory."""

    def __init__(self, root=None, model: str = sensor_models.DEFAULT_MODEL,
                 smbus=default_smbus, bus_override=None, specs: list[dict] | None = None):
        self.root = root
        self.model = model
        self.smbus = smbus
        self.bus_override = bus_override
        self.specs = specs if specs is not None else sensor_models.sensors_for(model)

    def read_all(self) -> list[Reading]:
        return [self.read(spec) for spec in self.specs]

    def read(self, spec: dict) -> Reading:
        reading = Reading(id=spec["id"], label=spec.get("label", spec["id"]), kind=spec["kind"],
                          status=ABSENT, unit={"temperature": "°C", "fan": "RPM"}.get(spec["kind"], ""))
        try:
            getattr(self, "_read_" + spec["chip"])(spec, reading)
        except (OSError, ValueError, KeyError, AttributeError, TypeError, ImportError) as exc:
            reading.status, reading.value = ABSENT, None
            reading.detail = f"not present ({exc})"
        return reading

    # -- buses ---------------------------------------------------------------
    def _bus(self, spec: dict) -> int:
        bus = resolve_bus(self.root, self.bus_override if self.bus_override not in (None, "")
                          else spec.get("bus", 0))
        if bus is None:
            raise OSError(f"no I2C adapter '{spec.get('bus')}'")
        return bus

    def _open(self, bus: int):
        node = under(self.root, f"/dev/i2c-{bus}")
        if not node.exists():
            raise FileNotFoundError(f"{node} missing")
        return self.smbus(str(node))

    # -- chips -----------------------------------------------------------------
    def _read_lm75(self, spec: dict, r: Reading) -> None:
        bus = self._bus(spec)
        hw = _i2c_hwmon(self.root, bus, spec["address"])
        if hw is not None:
            r.value = _read_int(hw / "temp1_input") / 1000
            r.source = str(hw)
        else:
            dev = self._open(bus)
            try:
                r.value = lm75_celsius(dev.read_word_data(spec["address"], 0))
            finally:
                dev.close()
            r.source = f"i2c-{bus}@0x{spec['address']:02x}"
        r.status = _judge(spec, r.value)

    def _read_emc2101(self, spec: dict, r: Reading) -> None:
        bus = self._bus(spec)
        dev = self._open(bus)
        addr = spec["address"]
        try:
            if (dev.read_byte_data(addr, EMC2101_MANUFACTURER_ID) != EMC2101_SMSC
                    or dev.read_byte_data(addr, EMC2101_PRODUCT_ID) not in EMC2101_PRODUCTS):
                raise OSError("no EMC2101 at this address")
            low = dev.read_byte_data(addr, EMC2101_TACH_LOW)     # low first: latches high
            high = dev.read_byte_data(addr, EMC2101_TACH_HIGH)
            duty = dev.read_byte_data(addr, EMC2101_FAN_SETTING) & 0x3F
        finally:
            dev.close()
        count = (high << 8) | low
        r.value = 0 if count in (0, 0xFFFF) else round(EMC2101_TACH_CLOCK / count)
        r.source = f"i2c-{bus}@0x{addr:02x}"
        r.detail = f"drive {round(duty * 100 / 63)}%"
        r.status = _judge(spec, r.value)
        if r.status == FAULT:
            r.detail = f"fan stopped or below {spec.get('minimum', 1)} RPM; {r.detail}"

    def set_fan(self, sensor_id: str, percent: int) -> None:
        """Set an EMC2101 fan's drive (0-100 %)."""
        spec = next(s for s in self.specs if s["id"] == sensor_id)
        if spec["chip"] != "emc2101":
            raise ValueError(f"{sensor_id} is not a controllable fan")
        percent = max(0, min(100, int(percent)))
        dev = self._open(self._bus(spec))
        try:
            dev.write_byte_data(spec["address"], EMC2101_FAN_SETTING, round(percent * 63 / 100))
        finally:
            dev.close()

    def _read_pmbus(self, spec: dict, r: Reading) -> None:
        bus = self._bus(spec)
        dev = self._open(bus)
        try:
            word = dev.read_word_data(spec["address"], PMBUS_STATUS_WORD)
        finally:
            dev.close()
        r.value = word
        r.source = f"i2c-{bus}@0x{spec['address']:02x}"
        faults = [text for bit, text in PMBUS_FAULT_BITS.items() if word & bit]
        r.status = FAULT if faults else OK
        r.detail = ", ".join(faults) if faults else f"STATUS_WORD 0x{word:04x}"

    def _read_hwmon(self, spec: dict, r: Reading) -> None:
        hw = _named_hwmon(self.root, spec["hwmon"])
        if hw is None:
            raise FileNotFoundError(f"no hwmon device named {spec['hwmon']}")
        raw = _read_int(hw / spec["attribute"])
        r.source = str(hw / spec["attribute"])
        if spec["kind"] == "temperature":
            r.value = raw / 1000
        elif spec["kind"] == "power":            # an *_alarm file: 1 = fault
            r.value = raw
            r.status = FAULT if raw else OK
            r.detail = "alarm" if raw else ""
            return
        else:
            r.value = raw
        r.status = _judge(spec, r.value)
        if r.status == FAULT:
            r.detail = f"fan stopped or below {spec.get('minimum', 1)} RPM"


def read(root=None, model: str = sensor_models.DEFAULT_MODEL, smbus=default_smbus,
         bus_override=None) -> list[Reading]:
    """Every sensor of *model*; missing ones come back as ``absent``."""
    return Sensors(root, model, smbus, bus_override).read_all()

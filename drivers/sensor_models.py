"""Which sensors an appliance model (and a board model) carries: data only.

Each entry names the chip, where it sits (I2C bus and 7-bit address), what it
measures and its limits. ``bus`` is a bus number or the name of the I2C
adapter as the kernel shows it in ``/sys/class/i2c-adapter/i2c-N/name``; the
setting ``hw.i2c_bus`` overrides it (the VM's i2c-stub gets whatever number
is free at load time).

Chips:
- ``lm75``: LM75-class temperature sensor (LM75A/B, TMP75, DS75 ...),
  register 0 holds the temperature as 9-bit two's complement, 0.5 °C steps.
  Read through the kernel's ``lm75`` hwmon driver when it is bound, through
  /dev/i2c-N (smbus2) otherwise.
- ``emc2101``: Microchip EMC2101 fan controller (tachometer on registers
  0x46/0x47, fan setting 0x4C); the kernel has no driver for it, so smbus2.
- ``pmbus``: a PMBus power supply, STATUS_WORD (command 0x79).
- ``hwmon``: any kernel hwmon device found by its ``name`` file, with the
  attribute to read (``fan1_input``, ``temp1_input``, ``in0_alarm`` ...).
"""
from __future__ import annotations

# Limits: temperatures in °C (warning, critical), fans in RPM (minimum).
APPLIANCES: dict[str, list[dict]] = {
    "korund-1u": [
        {"id": "inlet", "label": "Inlet air", "kind": "temperature", "chip": "lm75",
         "bus": 0, "address": 0x48, "warning": 45.0, "critical": 55.0},
        {"id": "board", "label": "Mainboard", "kind": "temperature", "chip": "lm75",
         "bus": 0, "address": 0x49, "warning": 65.0, "critical": 80.0},
        {"id": "pci", "label": "E1 board slot", "kind": "temperature", "chip": "lm75",
         "bus": 0, "address": 0x4a, "warning": 60.0, "critical": 75.0},
        {"id": "fan1", "label": "Chassis fan", "kind": "fan", "chip": "emc2101",
         "bus": 0, "address": 0x4c, "minimum": 800},
        {"id": "psu1", "label": "Power supply", "kind": "power", "chip": "pmbus",
         "bus": 0, "address": 0x58},
    ],
    # A generic PC with a DAHDI board: whatever the kernel's hwmon offers.
    "generic-pc": [
        {"id": "cpu", "label": "CPU package", "kind": "temperature", "chip": "hwmon",
         "hwmon": "coretemp", "attribute": "temp1_input", "warning": 80.0, "critical": 95.0},
        {"id": "fan1", "label": "CPU fan", "kind": "fan", "chip": "hwmon",
         "hwmon": "nct6775", "attribute": "fan2_input", "minimum": 400},
    ],
}

# Sensors carried by a board itself, by the model name the inventory reports.
# DAHDI's E1 and analog boards expose no temperature or fan to the host (their
# drivers have no hwmon part), so the appliance watches the board's slot
# instead ("pci" above); a board that does gets its entries here.
BOARDS: dict[str, list[dict]] = {}

DEFAULT_MODEL = "korund-1u"


def sensors_for(model: str, boards: list[str] = ()) -> list[dict]:
    """The sensor entries of an appliance model plus those of its boards."""
    out = [dict(s) for s in APPLIANCES.get(model, [])]
    for i, board in enumerate(boards):
        for s in BOARDS.get(board, []):
            s = dict(s)
            s["id"] = f"board{i}-{s['id']}"
            out.append(s)
    return out

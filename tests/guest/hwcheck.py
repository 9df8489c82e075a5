"""Shared helpers of the platform checks in the VM (check_10 spans, check_50
alarms, check_60 sensors, check_70 front panel, check_80 diagnostics): the
panel seen through a technician's API token, one health sweep, the front
panel service on the guest's second serial port, the I2C stub chips."""
from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import guest
from appliance.health import store as health
from appliance.base import store
from appliance.base import supervisor
from appliance.users import store as users

PANEL_PORT = "/dev/ttyS1"        # qemu's -serial unix:... socket; the host runs tests/vm/panel_peer.py
STUB_ADAPTER = "SMBus stub driver"
STUB_CHIPS = (0x48, 0x49, 0x4a, 0x4c, 0x58)   # drivers.sensor_models' korund-1u table
_TOKEN: list[str] = []


def token() -> str:
    """An API token of a technician user made for the checks (once per run)."""
    if not _TOKEN:
        with guest.store_session() as db:
            with db.atomic():
                name = "vmcheck" + secrets.token_hex(3)
                user = users.create(db, name, secrets.token_urlsafe(18) + "aA1!", "technician", "en")
                _TOKEN.append(users.create_token(db, user.id, "vm checks"))
    return _TOKEN[0]


def get(path: str, timeout: float = 20) -> tuple[int, str]:
    """GET a panel page or API path as the technician."""
    import urllib.error
    import urllib.request
    req = urllib.request.Request(guest.PANEL + path, headers={"Authorization": f"Bearer {token()}",
                                                              "Accept-Language": "en"})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=guest.panel_context()) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def api_health() -> dict:
    status, body = get("/api/v1/health")
    assert status == 200, (status, body[:300])
    return json.loads(body)


def sweep() -> dict:
    """One health sweep, the health service's own (appliance.health.store.sweep on the
    appliance's store, settings and hardware), in this process: the service
    itself runs one only every health.interval seconds. As `korund health
    --once --json` prints it: readings (dicts), spans, spans_error."""
    with guest.store_session() as db:
        result = health.sweep(db)
    return {"readings": [r.as_dict() for r in result["readings"]], "spans": result["spans"],
            "spans_error": result["spans_error"], "raised": result["raised"], "cleared": result["cleared"]}


def open_alarms(db=None) -> list[dict]:
    if db is None:
        with guest.store_session() as db:
            return health.alarms(db, active_only=True)
    return health.alarms(db, active_only=True)


def alarm_rows(source: str, kind: str | None = None) -> list[dict]:
    """Every health_alarms row (open and cleared) of *source*."""
    with guest.store_session() as db:
        return [a for a in health.alarms(db, limit=1000)
                if a["source"] == source and (kind is None or a["kind"] == kind)]


def set_settings(values: dict[str, str]) -> None:
    """Hardware settings (hw.*, health.*, frontpanel.*), checked like the panel does."""
    with guest.store_session() as db:
        for key, value in values.items():
            health.set_setting(db, key, value)


# -- the front panel -----------------------------------------------------------------
def panel_log() -> Path:
    return guest.instance().log / "frontpanel.log"


def panel_lines() -> list[str]:
    try:
        return panel_log().read_text(errors="replace").splitlines()
    except OSError:
        return []


def ensure_frontpanel(timeout: float = 60) -> None:
    """Korund's front panel service on the guest's ttyS1 (the setting
    frontpanel.port, supervisord's program added), RUNNING and showing."""
    inst = guest.instance()
    with guest.store_session() as db:
        if store.get_setting(db, "frontpanel.port") != PANEL_PORT:
            health.set_setting(db, "frontpanel.port", PANEL_PORT)
    states = guest.services()
    if states.get("frontpanel", {}).get("state") != "RUNNING":
        inst.supervisord_conf.write_text(supervisor.render(inst))
        rpc = supervisor.rpc(inst)
        rpc.supervisor.reloadConfig()
        if "frontpanel" not in states:
            rpc.supervisor.addProcessGroup("frontpanel")
        else:
            rpc.supervisor.startProcess("frontpanel")
    guest.wait_for(lambda: guest.services().get("frontpanel", {}).get("state") == "RUNNING",
                   timeout=timeout, what="the frontpanel service RUNNING")
    guest.wait_for(lambda: any("front panel: shows" in ln for ln in panel_lines()),
                   timeout=timeout, what=f"the front panel drawing a screen ({panel_log()})")


def panel_showed(pattern: str, since: int = 0) -> str | None:
    """The first screen the front panel sent (after log line *since*) matching *pattern*."""
    rx = re.compile(pattern)
    for line in panel_lines()[since:]:
        if "front panel: shows " in line and rx.search(line):
            return line.split("front panel: shows ", 1)[1]
    return None


def panel_keys(since: int = 0) -> list[str]:
    """The keys the front panel obeyed, as 'down -> calls 2/4'."""
    return [ln.split("front panel: key ", 1)[1] for ln in panel_lines()[since:] if "front panel: key " in ln]


# -- the I2C stub -------------------------------------------------------------------
def stub_bus() -> int:
    """Load i2c-stub with the sensor table's chips (once) and i2c-dev; the bus number."""
    from drivers import sensors
    bus = sensors.resolve_bus(None, STUB_ADAPTER)
    if bus is None:
        guest.run(["modprobe", "i2c-dev"])
        guest.run(["modprobe", "i2c-stub", "chip_addr=" + ",".join(f"0x{a:02x}" for a in STUB_CHIPS)])
        bus = guest.wait_for(lambda: sensors.resolve_bus(None, STUB_ADAPTER), timeout=20,
                             what="the i2c-stub adapter (/sys/bus/i2c/devices/i2c-N/name)")
    guest.wait_for(lambda: Path(f"/dev/i2c-{bus}").exists(), timeout=20, what=f"/dev/i2c-{bus}")
    return bus


def chips(bus: int, inlet: float = 31.5, board: float = 42.0, pci: float = 38.5, tach: int = 1800,
          duty: int = 40, psu_status: int = 0) -> None:
    """Write what the chips answer: LM75 temperatures, the EMC2101's identity,
    tachometer count and drive, the PMBus STATUS_WORD."""
    import smbus2
    from drivers import sensors
    with smbus2.SMBus(bus) as dev:
        for addr, value in ((0x48, inlet), (0x49, board), (0x4a, pci)):
            dev.write_word_data(addr, 0, sensors.lm75_word(value))
        dev.write_byte_data(0x4c, sensors.EMC2101_MANUFACTURER_ID, sensors.EMC2101_SMSC)
        dev.write_byte_data(0x4c, sensors.EMC2101_PRODUCT_ID, 0x16)
        dev.write_byte_data(0x4c, sensors.EMC2101_TACH_LOW, tach & 0xFF)
        dev.write_byte_data(0x4c, sensors.EMC2101_TACH_HIGH, tach >> 8)
        dev.write_byte_data(0x4c, sensors.EMC2101_FAN_SETTING, duty)
        dev.write_word_data(0x58, sensors.PMBUS_STATUS_WORD, psu_status)


# -- recording the real tree for the host's tests ----------------------------------------
def record_tree(name: str) -> Path:
    """The kernel's DAHDI /sys and /proc as they are now, written as a tar
    (relative to '/', symlinks kept relative) to the output disk as
    hw-trees/NAME.tar.gz: the host's tests/fixtures/hw/NAME is made from it
    (tests/fixtures/hw/README: recorded, not invented)."""
    import io
    import os
    import tarfile

    files: dict[str, bytes] = {}
    links: dict[str, str] = {}

    def add_dir(real: str) -> None:
        for entry in sorted(os.listdir(real)):
            path = os.path.join(real, entry)
            if os.path.islink(path):
                if entry == "ddev":           # the span's DAHDI device; other links lead out of the tree
                    links[path] = os.path.relpath(os.path.realpath(path), real)
                continue
            if os.path.isfile(path) and entry not in ("uevent",):
                try:
                    with open(path, "rb") as f:
                        files[path] = f.read(65536)
                except OSError:
                    continue          # write-only attributes (assign_span ...)

    for bus in ("/sys/bus/dahdi_spans/devices", "/sys/bus/dahdi_devices/devices"):
        for entry in sorted(os.listdir(bus)) if os.path.isdir(bus) else []:
            link = os.path.join(bus, entry)
            real = os.path.realpath(link)
            links[link] = os.path.relpath(real, bus)
            add_dir(real)
    for entry in sorted(os.listdir("/proc/dahdi")) if os.path.isdir("/proc/dahdi") else []:
        with open(f"/proc/dahdi/{entry}", "rb") as f:
            files[f"/proc/dahdi/{entry}"] = f.read()
    out = guest.out_path(f"hw-trees/{name}.tar.gz")
    with tarfile.open(out, "w:gz") as tar:
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for path, target in sorted(links.items()):
            info = tarfile.TarInfo(path.lstrip("/"))
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return out

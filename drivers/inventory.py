"""Board inventory: the PCI telephony boards in this machine.

On the live system (root "/") the PCI devices come from pyudev; for a recorded
tree (tests/fixtures/hw/..., or $KORUND_HW_ROOT) they come from walking
<root>/sys/bus/pci/devices. Known boards get their model from drivers.boards;
unknown devices from a telephony vendor (or an ISDN-class device, or one a DAHDI
driver has claimed) are listed as unsupported with their IDs.

Example:
    for b in boards(Root("tests/fixtures/hw/te410p_e1")):
        print(b.address, b.model, b.driver, b.supported)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from . import boards as table
from .root import Root

PCI = "sys/bus/pci/devices"


@dataclass
class Board:
    address: str                 # PCI slot, e.g. "0000:05:08.0"
    vendor_id: str               # "d161"
    device_id: str
    subvendor_id: str
    subdevice_id: str
    supported: bool
    model: str                   # the table's model, or "unsupported"
    vendor: str
    driver: str | None           # the DAHDI driver the table names
    loaded_driver: str | None    # the kernel driver bound right now (None = none)
    kind: str | None             # "E1/T1", "analog", "BRI"
    spans: int | None
    ports: int | None
    echo: str | None
    dahdi_devices: list[str] = field(default_factory=list)

    @property
    def ids(self) -> str:
        return f"{self.vendor_id}:{self.device_id} (subsystem {self.subvendor_id}:{self.subdevice_id})"

    @property
    def driver_ok(self) -> bool:
        """The board's driver is the one bound to it."""
        return bool(self.driver) and self.loaded_driver == self.driver

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ids"] = self.ids
        return d


def _hex(v) -> str:
    if isinstance(v, bytes):
        v = v.decode(errors="replace")
    return table._hex4(str(v) if v is not None else "")


def _dahdi_parents(root: Root) -> dict[str, list[str]]:
    """PCI address -> names of the DAHDI devices registered on it."""
    out: dict[str, list[str]] = {}
    for name in root.listdir("sys/bus/dahdi_devices/devices"):
        # DAHDI names a device after its parent: "pci:0000:05:08.0".
        if name.startswith("pci:"):
            out.setdefault(name[4:], []).append(name)
    return out


def _make(root: Root, address: str, attrs: dict, loaded: str | None,
          parents: dict[str, list[str]]) -> Board | None:
    v, d = _hex(attrs.get("vendor")), _hex(attrs.get("device"))
    sv, sd = _hex(attrs.get("subsystem_vendor")), _hex(attrs.get("subsystem_device"))
    klass = (str(attrs.get("class") or "").lower().removeprefix("0x") + "000000")[:4]
    m = table.lookup(v, d, sv, sd)
    ddevs = parents.get(address, [])
    if m is None:
        if not (v in table.TELEPHONY_VENDORS or klass in table.TELEPHONY_CLASSES or ddevs):
            return None
        return Board(address, v, d, sv, sd, False, "unsupported",
                     table.TELEPHONY_VENDORS.get(v, "unknown"), None, loaded,
                     None, None, None, None, ddevs)
    return Board(address, v, d, sv, sd, True, m.model, m.vendor, m.driver, loaded,
                 m.kind, m.spans, m.ports, m.echo, ddevs)


def _from_tree(root: Root) -> list[Board]:
    parents = _dahdi_parents(root)
    found = []
    for address in root.listdir(PCI):
        base = f"{PCI}/{address}"
        attrs = {k: root.read(f"{base}/{k}", "") for k in
                 ("vendor", "device", "subsystem_vendor", "subsystem_device", "class")}
        loaded = root.link_name(f"{base}/driver")
        b = _make(root, address, attrs, loaded, parents)
        if b:
            found.append(b)
    return found


def _from_udev(root: Root, context=None) -> list[Board]:
    import pyudev   # only on the live system
    context = context or pyudev.Context()
    parents = _dahdi_parents(root)
    found = []
    for dev in context.list_devices(subsystem="pci"):
        attrs = {}
        for k in ("vendor", "device", "subsystem_vendor", "subsystem_device", "class"):
            try:
                raw = dev.attributes.get(k)
            except Exception:   # noqa: BLE001 - an unreadable attribute is just absent
                raw = None
            attrs[k] = raw.decode(errors="replace").strip() if isinstance(raw, bytes) else (raw or "")
        b = _make(root, dev.sys_name, attrs, dev.driver, parents)
        if b:
            found.append(b)
    return found


def boards(root: Root | str | None = None, *, context=None) -> list[Board]:
    """The telephony boards, sorted by PCI address; never raises for odd devices."""
    root = Root.of(root)
    found = _from_udev(root, context) if root.is_live and context is not False else _from_tree(root)
    return sorted(found, key=lambda b: b.address)


def device_board(root: Root | str | None, attributes: dict, address: str,
                 loaded: str | None = None) -> Board | None:
    """Classify one device (e.g. from a hot-plug event); None if not telephony."""
    root = Root.of(root)
    return _make(root, address, attributes, loaded, _dahdi_parents(root))

"""Hot-plug: a udev monitor that keeps a hardware view current.

A board added or removed (subsystem "pci"), or DAHDI registering or dropping
a device or a span (subsystems "dahdi", "dahdi_devices", "dahdi_spans"),
re-reads the inventory and the spans and hands the fresh view to a callback.
The monitor comes in from outside (pyudev.Monitor, or any object with the
same filter_by/start/poll API) so tests can drive it through umockdev.

Example:
    view = HardwareView(root)
    watcher = Watcher(view, on_change=lambda v, ev: print(ev.action, v.boards))
    watcher.start()          # a background thread; watcher.stop() ends it
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from . import inventory, spans as spans_mod
from .root import Root

log = logging.getLogger(__name__)

SUBSYSTEMS = ("pci", "dahdi", "dahdi_devices", "dahdi_spans")


@dataclass
class Event:
    action: str          # add / remove / change / bind / unbind / online / offline
    subsystem: str
    sys_path: str
    board: inventory.Board | None = None   # for a telephony PCI device


@dataclass
class HardwareView:
    """The boards and spans as last read; refresh() re-reads them."""
    root: Root | str | None = None
    boards: list = field(default_factory=list)
    spans: list = field(default_factory=list)
    context: object = None        # a pyudev.Context for the live system

    def __post_init__(self):
        self.root = Root.of(self.root)
        self.lock = threading.Lock()

    def refresh(self) -> "HardwareView":
        found_boards = inventory.boards(self.root, context=self.context)
        found_spans = spans_mod.spans(self.root)
        with self.lock:
            self.boards, self.spans = found_boards, found_spans
        return self


def _attributes(device) -> dict:
    out = {}
    for k in ("vendor", "device", "subsystem_vendor", "subsystem_device", "class"):
        try:
            v = device.attributes.get(k)
        except Exception:  # noqa: BLE001 - a removed device has no attributes left
            v = None
        out[k] = v.decode(errors="replace").strip() if isinstance(v, bytes) else (v or "")
    if not out["vendor"]:
        # on "remove" the attributes are gone; the uevent still carries PCI_ID
        pci_id = (device.properties.get("PCI_ID") or "").lower()
        subsys = (device.properties.get("PCI_SUBSYS_ID") or "").lower()
        if ":" in pci_id:
            out["vendor"], out["device"] = pci_id.split(":", 1)
        if ":" in subsys:
            out["subsystem_vendor"], out["subsystem_device"] = subsys.split(":", 1)
        out["class"] = device.properties.get("PCI_CLASS") or ""
    return out


class Watcher:
    """Listens to udev and refreshes the view on every relevant event."""

    def __init__(self, view: HardwareView, on_change=None, monitor=None, context=None):
        self.view = view
        self.on_change = on_change
        self._context = context
        self._monitor = monitor
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def _make_monitor(self):
        import pyudev
        context = self._context or pyudev.Context()
        monitor = pyudev.Monitor.from_netlink(context)
        for sub in SUBSYSTEMS:
            monitor.filter_by(sub)
        return monitor

    def handle(self, device) -> Event:
        """One udev device event: classify, refresh, tell the callback."""
        sub = device.subsystem or ""
        ev = Event(device.action or "change", sub, device.sys_path)
        if sub == "pci":
            ev.board = inventory.device_board(self.view.root, _attributes(device),
                                              device.sys_name, device.driver)
            if ev.board is None:
                return ev      # a NIC or a bridge: nothing to redraw
        try:
            self.view.refresh()
        except Exception:  # noqa: BLE001 - a half-gone device must not kill the watcher
            log.exception("hardware view refresh failed after %s %s", ev.action, ev.sys_path)
        if self.on_change:
            self.on_change(self.view, ev)
        return ev

    def _run(self) -> None:
        monitor = self._monitor
        monitor.start()
        while not self._stop.is_set():
            device = monitor.poll(timeout=0.5)
            if device is not None:
                self.handle(device)

    def start(self) -> "Watcher":
        if self._monitor is None:
            self._monitor = self._make_monitor()
        self.view.refresh()
        self._thread = threading.Thread(target=self._run, name="korund-hotplug", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

"""One configurable filesystem root for every /sys, /proc and /dev read.

The hardware readers never open "/sys/..." directly: they ask a Root, so a
recorded dump of a real machine (tests/fixtures/hw/<name>/) or a VM's tree can
stand in for the live system, the way dahdi-tools use DAHDI_VIRT_TOP.

Example:
    root = Root()                      # "/" or $KORUND_HW_ROOT
    root = Root("tests/fixtures/hw/te410p_e1")
    root.read("sys/bus/dahdi_spans/devices/span-1/name")
"""
from __future__ import annotations

import os
from pathlib import Path

ENV = "KORUND_HW_ROOT"


class Root:
    def __init__(self, path: str | os.PathLike | None = None):
        self.base = Path(path or os.environ.get(ENV) or "/")

    @classmethod
    def of(cls, root: "Root | str | os.PathLike | None") -> "Root":
        """Accept a Root, a path or None (the default root)."""
        return root if isinstance(root, Root) else cls(root)

    @property
    def is_live(self) -> bool:
        """True when reading the running system itself (pyudev can be used)."""
        return self.base.resolve() == Path("/")

    def path(self, rel: str) -> Path:
        return self.base / rel.lstrip("/")

    def exists(self, rel: str) -> bool:
        return self.path(rel).exists()

    def read(self, rel: str, default: str | None = None) -> str | None:
        """A small text file, stripped; default when absent or unreadable."""
        try:
            return self.path(rel).read_text(errors="replace").strip()
        except OSError:
            return default

    def read_raw(self, rel: str, default: str | None = None) -> str | None:
        try:
            return self.path(rel).read_text(errors="replace")
        except OSError:
            return default

    def listdir(self, rel: str) -> list[str]:
        try:
            return sorted(os.listdir(self.path(rel)))
        except OSError:
            return []

    def link_name(self, rel: str) -> str | None:
        """The name of what a symlink points to (e.g. a device's driver), following
        every link on the way as the kernel's sysfs does; None if no such link."""
        p = self.path(rel)
        if not p.is_symlink():
            return None
        return os.path.basename(os.path.realpath(p)) or None

    def __repr__(self) -> str:
        return f"Root({str(self.base)!r})"

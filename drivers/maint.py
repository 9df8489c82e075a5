"""Technicians' maintenance: loopback, timing test, counter reset, firmware.

The panel's Diagnostics page and `korund hw` both call these. DAHDI's own tools
do the work (dahdi-tools 3.4.0):
    dahdi_maint -s N --loopback localhost|networkline|networkpayload|off
    dahdi_maint -s N -r                      (reset the span's error counters)
    dahdi_test -c COUNT                      ("Best: .. -- Worst: .. -- Average: ..")
Each runs with a timeout through a runner that tests replace. When the tool or
the DAHDI kernel module is missing the result says so ("not available") instead
of failing.

Example:
    r = timing_test(Root(), count=5)
    print(r.ok, r.message, r.data)
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field

from . import inventory, spans as spans_mod
from .root import Root

LOOPBACK_MODES = ("localhost", "networkline", "networkpayload", "off")
TOOL_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
# DAHDI's documentation: a healthy timing source scores above 99.975%.
TIMING_THRESHOLD = 99.975
FIRMWARE_DIRS = ("lib/firmware", "usr/lib/firmware")


@dataclass
class Result:
    ok: bool
    available: bool
    message: str
    command: list[str] = field(default_factory=list)
    output: str = ""
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def run_command(cmd: list[str], timeout: float) -> tuple[int, str]:
    """The default runner: (exit code, stdout+stderr); -1 on timeout."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return p.returncode, (p.stdout or "") + (p.stderr or "")
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        return -1, out.decode(errors="replace") if isinstance(out, bytes) else out


def _tool(name: str) -> str | None:
    return shutil.which(name, path=TOOL_PATH)


def dahdi_loaded(root: Root) -> bool:
    return root.exists("proc/dahdi") or root.exists("sys/module/dahdi") or root.exists("dev/dahdi/ctl")


def _unavailable(root: Root, tool: str, which) -> Result | None:
    if not dahdi_loaded(root):
        return Result(False, False, "not available: the DAHDI kernel module is not loaded "
                      "(no /proc/dahdi)")
    if which(tool) is None:
        return Result(False, False, f"not available: {tool} is not installed (dahdi-tools)")
    return None


def _check_span(root: Root, number: int) -> spans_mod.Span | Result:
    try:
        return spans_mod.span(root, number)
    except spans_mod.SpanNotFound:
        known = [s.number for s in spans_mod.spans(root)]
        return Result(False, True, f"no span {number}; spans present: "
                      f"{', '.join(map(str, known)) or 'none'}")


def loopback(root: Root | str | None, number: int, mode: str = "localhost", *,
             seconds: float = 2.0, runner=run_command, which=_tool, sleep=time.sleep) -> Result:
    """Put a span in maintenance loopback, watch its alarms, then end it.

    ok = the span showed no RED/LOS/BLUE alarm while looped (its own signal
    came back), which proves the framer and the line interface of the port.
    mode "off" only ends a loopback left on.
    """
    root = Root.of(root)
    if mode not in LOOPBACK_MODES:
        return Result(False, True, f"unknown loopback mode {mode!r}; use one of "
                      + ", ".join(LOOPBACK_MODES))
    bad = _unavailable(root, "dahdi_maint", which)
    if bad:
        return bad
    span = _check_span(root, number)
    if isinstance(span, Result):
        return span
    cmd = ["dahdi_maint", "-s", str(number), "--loopback", mode]
    code, out = runner(cmd, 15)
    if code != 0:
        return Result(False, True, f"dahdi_maint failed (exit {code})", cmd, out)
    if mode == "off":
        return Result(True, True, f"loopback ended on span {number}", cmd, out)
    sleep(seconds)
    looped = spans_mod.span(root, number)
    off = ["dahdi_maint", "-s", str(number), "--loopback", "off"]
    code_off, out_off = runner(off, 15)
    hard = sorted(looped.alarms & {"RED", "LOS", "BLUE", "LFA", "LMFA"})
    data = {"span": number, "mode": mode, "alarms_while_looped": sorted(looped.alarms),
            "counters_while_looped": looped.counters, "ended": code_off == 0}
    output = out + out_off
    if code_off != 0:
        return Result(False, True, f"loopback could not be ended on span {number}: run "
                      f"'dahdi_maint -s {number} --loopback off'", cmd + ["&&"] + off, output, data)
    if hard:
        return Result(False, True, f"span {number} stayed in alarm while looped "
                      f"({', '.join(hard)}): the port or the board is faulty", cmd, output, data)
    return Result(True, True, f"span {number} passed the {mode} loopback", cmd, output, data)


def reset_counters(root: Root | str | None, number: int | None = None, *,
                   runner=run_command, which=_tool) -> Result:
    """Zero the error counters of one span or of every span."""
    root = Root.of(root)
    bad = _unavailable(root, "dahdi_maint", which)
    if bad:
        return bad
    if number is not None:
        span = _check_span(root, number)
        if isinstance(span, Result):
            return span
        targets = [number]
    else:
        targets = [s.number for s in spans_mod.spans(root) if s.is_digital is not False]
    outputs, failed = [], []
    for n in targets:
        code, out = runner(["dahdi_maint", "-s", str(n), "-r"], 15)
        outputs.append(out)
        if code != 0:
            failed.append(n)
    if failed:
        return Result(False, True, "counter reset failed on span(s) " + ", ".join(map(str, failed)),
                      ["dahdi_maint", "-r"], "".join(outputs), {"spans": targets})
    return Result(True, True, "counters reset on span(s) " + (", ".join(map(str, targets)) or "none"),
                  ["dahdi_maint", "-r"], "".join(outputs), {"spans": targets})


_AVG = re.compile(r"Average:\s*([\d.]+)")
_BEST = re.compile(r"Best:\s*([\d.]+)%?\s*--\s*Worst:\s*([\d.]+)")


def parse_dahdi_test(output: str) -> dict:
    data = {}
    m = _AVG.search(output)
    if m:
        data["average"] = float(m.group(1))
    m = _BEST.search(output)
    if m:
        data["best"], data["worst"] = float(m.group(1)), float(m.group(2))
    return data


def timing_test(root: Root | str | None = None, count: int = 5, *,
                runner=run_command, which=_tool) -> Result:
    """dahdi_test for COUNT one-second passes: how steady DAHDI's timing is."""
    root = Root.of(root)
    if not 1 <= count <= 60:
        return Result(False, True, "count must be between 1 and 60 seconds")
    bad = _unavailable(root, "dahdi_test", which)
    if bad:
        return bad
    cmd = ["dahdi_test", "-c", str(count)]
    code, out = runner(cmd, count + 10)
    data = parse_dahdi_test(out)
    data["timing"] = spans_mod.timing(root)
    if code != 0 or "average" not in data:
        return Result(False, True, f"dahdi_test failed (exit {code})", cmd, out, data)
    ok = data["average"] >= TIMING_THRESHOLD
    msg = (f"timing {data['average']:.3f}% average over {count} s"
           + ("" if ok else f" (below {TIMING_THRESHOLD}%: check the timing source)"))
    return Result(ok, True, msg, cmd, out, data)


_FW_ATTR = re.compile(r"(firmware|fw_?ver|version)", re.I)


def firmware(root: Root | str | None = None) -> dict:
    """Firmware versions the drivers expose in sysfs, and firmware files shipped."""
    root = Root.of(root)
    boards = []
    for b in inventory.boards(root, context=False):
        versions = {}
        base = f"sys/bus/pci/devices/{b.address}"
        for name in root.listdir(base):
            if _FW_ATTR.search(name) and root.path(f"{base}/{name}").is_file():
                versions[name] = root.read(f"{base}/{name}", "")
        for dd in b.dahdi_devices:
            dbase = f"sys/bus/dahdi_devices/devices/{dd}"
            for name in root.listdir(dbase):
                if _FW_ATTR.search(name) and root.path(f"{dbase}/{name}").is_file():
                    versions[f"{dd}/{name}"] = root.read(f"{dbase}/{name}", "")
        rev = root.read(f"{base}/revision")
        boards.append({"address": b.address, "model": b.model, "driver": b.loaded_driver,
                       "pci_revision": rev, "versions": versions,
                       "note": None if versions else "the driver does not expose a firmware "
                       "version in sysfs (see the kernel log at load time)"})
    files = []
    for d in FIRMWARE_DIRS:
        for name in root.listdir(d):
            if "dahdi" in name.lower() and not name.startswith("."):
                p = root.path(f"{d}/{name}")
                if p.is_file():
                    files.append({"path": f"/{d}/{name}", "size": p.stat().st_size})
    return {"boards": boards, "files": files}

"""The whole suite as `make test` runs it: two shards side by side, each in
its own test slot (KORUND_TEST_SLOT: its own addresses, RTP ports and
sandbox), because most of the suite waits on real calls and browsers rather
than on the CPU; then the VM on its own.

    python tests/run.py [--serial] [PYTEST_ARGS...]

Each shard's pytest output goes to build/test-logs/<shard>.log and is printed
whole when the shard ends; the last line sums them all, in pytest's words. The
exit status is 0 only if every shard passed.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
LOGS = TOP / "build" / "test-logs"

# Phases run one after the other; the shards of a phase side by side, as
# (name, slot, paths). The telephony modules are 31 minutes on their own;
# the unit, hardware, panel and security tests 24, and the call-history,
# routing and dialer modules join them: the panel's shard ends last, and
# in the telephony shard, under its load, the call-history module's attended
# transfer once lost its target's name. The VM runs alone: its
# guest plays MFC/R2 signalling in real time under software emulation, and
# with a telephony shard beside it a circuit missed its next call.
BESIDE_THE_PANEL = ["tests/telephony/test_routing.py", "tests/telephony/test_call_history.py",
                    "tests/telephony/test_callback_dialer.py"]
PHASES = (
    (("telephony", 0, ["tests/telephony"] + [f"--ignore={p}" for p in BESIDE_THE_PANEL]),
     ("panel-unit-hw", 1, ["tests/unit", "tests/hw", "tests/web", "tests/security"] + BESIDE_THE_PANEL)),
    (("vm", 0, ["tests/vm"]),),
)


def counts(junit: Path) -> dict[str, int]:
    out = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if not junit.exists():
        return out
    root = ET.parse(junit).getroot()
    for suite in ([root] if root.tag == "testsuite" else root.iter("testsuite")):
        for key in out:
            out[key] += int(suite.get(key, 0))
    return out


def start(name: str, slot: int, paths: list[str], extra: list[str]) -> tuple[subprocess.Popen, Path, Path]:
    LOGS.mkdir(parents=True, exist_ok=True)
    log, junit = LOGS / f"{name}.log", LOGS / f"{name}.xml"
    junit.unlink(missing_ok=True)
    env = {**os.environ, "KORUND_TEST_SLOT": str(slot)}
    cmd = [sys.executable, "-m", "pytest", "-v", "-ra", "--durations=15", f"--junitxml={junit}", *extra, *paths]
    proc = subprocess.Popen(cmd, cwd=TOP, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    print(f"[{name}] slot {slot}: {' '.join(paths)} (log: {log.relative_to(TOP)})", flush=True)
    return proc, log, junit


def run_phase(shards, extra: list[str], serial: bool, began: float, results: dict) -> None:
    running = []
    for name, slot, paths in shards:
        running.append((name, *start(name, slot, paths, extra)))
        if serial:
            running[-1][1].wait()
    while running:
        for item in list(running):
            name, proc, log, junit = item
            if proc.poll() is None:
                continue
            running.remove(item)
            print(f"\n===== {name}: pytest exited {proc.returncode} after {time.monotonic() - began:.0f} s =====",
                  flush=True)
            sys.stdout.write(log.read_text(errors="replace"))
            results[name] = (proc.returncode, counts(junit))
        time.sleep(2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--serial", action="store_true", help="every shard after the other")
    args, extra = ap.parse_known_args(argv)
    began = time.monotonic()
    results: dict = {}
    for phase in PHASES:
        run_phase(phase, extra, args.serial, began, results)
    passed = sum(c["tests"] - c["failures"] - c["errors"] - c["skipped"] for _, c in results.values())
    failed = sum(c["failures"] + c["errors"] for _, c in results.values())
    skipped = sum(c["skipped"] for _, c in results.values())
    worst = max((rc for rc, _ in results.values()), default=1)
    print(f"\nall shards: {time.monotonic() - began:.0f} s; "
          + ", ".join(f"{n} exit {rc}" for n, (rc, _) in results.items()))
    print(f"total: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 0 if worst == 0 and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""The guest runner of make vm-test: runs INSIDE the appliance VM.

korund-test.service (kernel argument korund.test=1) starts it once the
appliance is up:  /opt/korund/venv/bin/python tests/guest/run.py --out /var/korund-out

It imports tests/guest/check_*.py in name order and runs every top-level
function named check_* in definition order, each with a timeout (module
``TIMEOUT``, a function's ``timeout`` attribute, else --timeout). It prints
``PASS name (seconds)`` or ``FAIL name: reason`` plus the traceback, writes
result.json and the appliance's logs to the output disk, and ends with exactly
``N passed, N failed`` on a line of its own (the host looks for that line).

Only some checks: kernel argument ``korund.only=WORD[,WORD]`` (make vm-test
ONLY=...) or --only: a check runs when its ``module.function`` name contains
one of the words.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOP = HERE.parents[1]
for p in (str(TOP), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)


class CheckTimeout(Exception):
    pass


class Tee:
    """stdout copied to a file (the console's copy on the output disk)."""

    def __init__(self, stream, path: Path):
        self.stream, self.file = stream, path.open("a", encoding="utf-8")

    def write(self, text: str) -> int:
        self.file.write(text)
        self.file.flush()
        return self.stream.write(text)

    def flush(self) -> None:
        self.file.flush()
        self.stream.flush()


def _on_alarm(signum, frame):
    raise CheckTimeout()


def discover(only: list[str], folder: Path = HERE) -> list[tuple[str, object, float | None]]:
    """[(name, function or import error, timeout)] in the order they run."""
    found = []
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    for path in sorted(folder.glob("check_*.py")):
        modname = path.stem
        try:
            mod = importlib.import_module(modname)
        except Exception as exc:  # noqa: BLE001 - a broken module is one failure
            found.append((f"{modname}.<import>", exc, None))
            continue
        for name, fn in vars(mod).items():
            if name.startswith("check_") and inspect.isfunction(fn) and fn.__module__ == modname:
                full = f"{modname}.{name}"
                if only and not any(word in full for word in only):
                    continue
                found.append((full, fn, getattr(fn, "timeout", getattr(mod, "TIMEOUT", None))))
    return found


def run_one(fn, timeout: float) -> tuple[bool, str, str]:
    """(passed, reason, traceback)."""
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        fn()
        return True, "", ""
    except CheckTimeout:
        return False, f"timed out after {timeout:g} s", traceback.format_exc()
    except BaseException as exc:  # noqa: BLE001 - SystemExit from a check is a failure too
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return False, f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__, \
            traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def collect_logs(out: Path) -> None:
    """What a person needs to read a failure on the host: journal, kernel log,
    the appliance's logs and generated DAHDI files."""
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for name, argv in (("journal.log", ["journalctl", "-b", "--no-pager", "-o", "short-monotonic"]),
                       ("dmesg.log", ["dmesg"]),
                       ("services.log", ["systemctl", "--no-pager", "--all", "status", "korund*"]),
                       ("lsmod.log", ["lsmod"]),
                       ("boot-blame.log", ["systemd-analyze", "blame"]),
                       ("boot-chain.log", ["systemd-analyze", "critical-chain", "korund-test.service"])):
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            (logs / name).write_text(done.stdout + done.stderr)
        except (OSError, subprocess.SubprocessError) as exc:
            (logs / name).write_text(f"{argv}: {exc}\n")
    for src, dest in ((Path("/var/lib/korund/appliance/log"), "appliance"),
                      (Path("/etc/dahdi"), "etc-dahdi"),
                      (Path("/var/lib/korund/appliance/etc/asterisk"), "etc-asterisk")):
        if src.is_dir():
            shutil.copytree(src, logs / dest, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*.db", "*.sqlite*"))


def kernel_arg(name: str) -> str:
    try:
        words = Path("/proc/cmdline").read_text().split()
    except OSError:
        return ""
    for w in words:
        if w.startswith(f"korund.{name}="):
            return w.split("=", 1)[1]
    return ""


def kernel_only() -> list[str]:
    return [x for x in kernel_arg("only").split(",") if x]


def uptime() -> float:
    try:
        return float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


# Kept back from the host's limit for copying the logs and powering off.
RESERVE = 45


def start_watchdog(out: Path, at_uptime: float) -> int:
    """A separate process that, should a check hang where the per-check alarm
    cannot reach it (a C call with signals blocked, a stuck device), stops the
    runner at *at_uptime* and still prints the results so far and the summary,
    built from runner.log. Returns its pid (it exits when the runner does)."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    try:
        while uptime() < at_uptime:
            if os.getppid() != parent:
                os._exit(0)
            time.sleep(0.5)
        os.kill(parent, signal.SIGKILL)
        checks, running = [], None
        for line in (out / "runner.log").read_text(errors="replace").splitlines():
            if line.startswith("RUN  "):
                running = line[5:].strip()
            elif line.startswith(("PASS ", "FAIL ")):
                name, _, reason = line[5:].partition(": ")
                name = name.split(" (")[0]
                checks.append({"name": name, "passed": line.startswith("PASS"), "reason": reason})
                running = None
        if running:
            checks.append({"name": running, "passed": False,
                           "reason": "hung past the run's time limit: the runner was stopped"})
            print(f"FAIL {running}: hung past the run's time limit: the runner was stopped", flush=True)
        passed = sum(c["passed"] for c in checks)
        (out / "result.json").write_text(json.dumps({
            "passed": passed, "failed": len(checks) - passed, "watchdog": True, "checks": checks},
            indent=2))
        os.sync()
        print(f"{passed} passed, {len(checks) - passed} failed", flush=True)
    finally:
        os._exit(0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("KORUND_OUT", "/var/korund-out")))
    ap.add_argument("--only", action="append", default=[], help="run checks whose name contains this")
    ap.add_argument("--timeout", type=float, default=180, help="default seconds per check")
    ap.add_argument("--no-logs", action="store_true", help="do not copy the logs to --out")
    ap.add_argument("--checks", type=Path, default=HERE, help="folder of check_*.py (tests)")
    ap.add_argument("--limit", type=float, default=float(kernel_arg("limit") or 0),
                    help="seconds since boot by which the host stops the machine (kernel "
                         "argument korund.limit): checks that would run past it fail unrun, "
                         "so the results still come out")
    ap.add_argument("--reserve", type=float, default=RESERVE,
                    help="seconds kept back from --limit for copying the logs and powering off")
    args = ap.parse_args(argv)
    os.environ["KORUND_OUT"] = str(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    sys.stdout = Tee(sys.stdout, args.out / "runner.log")
    only = args.only or kernel_only()
    started = datetime.now(timezone.utc)
    # A fresh line: the console may hold a getty's half-written prompt.
    print(f"\nkorund guest runner: {TOP} at {started:%H:%M:%S} UTC"
          + (f", only {','.join(only)}" if only else ""), flush=True)
    watchdog = None
    if args.limit and args.limit - args.reserve / 2 > uptime():
        watchdog = start_watchdog(args.out, args.limit - args.reserve / 2)
    results = []
    for name, fn, timeout in discover(only, args.checks):
        print(f"RUN  {name}", flush=True)
        t0 = time.monotonic()
        left = args.limit - args.reserve - uptime() if args.limit else float("inf")
        if isinstance(fn, BaseException):
            ok, reason = False, f"cannot import: {type(fn).__name__}: {fn}"
            tb = "".join(traceback.format_exception(fn))
        elif left < 5:
            ok, reason, tb = False, f"not run: the run's time limit ({args.limit:g} s from boot) is near", ""
        else:
            own = float(timeout or args.timeout)
            ok, reason, tb = run_one(fn, min(own, left))
            if not ok and left < own and reason.startswith("timed out"):
                reason += " (cut short by the run's time limit)"
        secs = time.monotonic() - t0
        results.append({"name": name, "passed": ok, "reason": reason, "seconds": round(secs, 2),
                        "traceback": tb})
        if ok:
            print(f"PASS {name} ({secs:.1f} s)", flush=True)
        else:
            print(f"FAIL {name}: {reason}", flush=True)
            print("    " + tb.rstrip().replace("\n", "\n    "), flush=True)
    passed = sum(r["passed"] for r in results)
    failed = len(results) - passed
    (args.out / "result.json").write_text(json.dumps({
        "started": started.isoformat(timespec="seconds"),
        "ended": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "passed": passed, "failed": failed, "only": only, "checks": results}, indent=2))
    if not args.no_logs:
        try:
            collect_logs(args.out)
        except Exception as exc:  # noqa: BLE001 - the summary matters more
            print(f"(could not copy the logs: {exc})", flush=True)
    if watchdog:
        os.kill(watchdog, signal.SIGKILL)   # one summary line, this one
        os.waitpid(watchdog, 0)
    os.sync()
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

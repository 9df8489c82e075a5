"""The VM's guest runner (tests/guest/run.py) on the host: order, PASS/FAIL
lines, timeouts, import errors, --only, the JSON result and the summary line
the host side of make vm-test looks for."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
RUNNER = TOP / "tests" / "guest" / "run.py"


def _run(tmp_path: Path, files: dict[str, str], *extra: str) -> tuple[int, list[str], dict]:
    checks = tmp_path / "checks"
    checks.mkdir()
    for name, text in files.items():
        (checks / name).write_text(text)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(RUNNER), "--checks", str(checks), "--out", str(out),
                           "--no-logs", *extra], capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout.splitlines(), json.loads((out / "result.json").read_text())


def test_runs_checks_in_order_and_reports(tmp_path):
    code, lines, result = _run(tmp_path, {
        "check_20_b.py": "def check_z():\n    pass\n\ndef check_a():\n    assert 1 == 2, 'one is not two'\n",
        "check_10_a.py": "import time\nTIMEOUT = 1\n\ndef helper():\n    pass\n\n"
                         "def check_slow():\n    time.sleep(30)\n\ndef check_fast():\n    pass\n",
        "check_30_broken.py": "import no_such_module_here\n",
        "other.py": "def check_never():\n    raise SystemExit(3)\n",
    })
    marks = [line for line in lines if line.startswith(("PASS ", "FAIL "))]
    assert [m.split(":")[0].split(" (")[0] for m in marks] == [
        "FAIL check_10_a.check_slow", "PASS check_10_a.check_fast", "PASS check_20_b.check_z",
        "FAIL check_20_b.check_a", "FAIL check_30_broken.<import>"]
    assert "timed out after 1 s" in marks[0]
    assert "AssertionError: one is not two" in marks[3]
    assert "ModuleNotFoundError" in marks[4]
    assert lines[-1] == "2 passed, 3 failed"
    assert code == 1
    assert (result["passed"], result["failed"]) == (2, 3)
    assert [c["name"] for c in result["checks"] if c["passed"]] == [
        "check_10_a.check_fast", "check_20_b.check_z"]


def test_only_and_all_passing(tmp_path):
    code, lines, result = _run(tmp_path, {
        "check_10_x.py": "def check_pri_call():\n    pass\n\ndef check_r2_call():\n    raise RuntimeError('no')\n",
    }, "--only", "pri")
    assert lines[-1] == "1 passed, 0 failed"
    assert code == 0
    assert [c["name"] for c in result["checks"]] == ["check_10_x.check_pri_call"]


def test_checks_past_the_time_limit_fail_unrun_and_results_still_come_out(tmp_path):
    # --limit counts from boot (/proc/uptime): on this long-running host, 1 s is long gone.
    code, lines, result = _run(tmp_path, {"check_10_x.py": "def check_a():\n    pass\n"},
                               "--limit", "1")
    assert any(line.startswith("FAIL check_10_x.check_a: not run: the run's time limit")
               for line in lines), lines
    assert lines[-1] == "0 passed, 1 failed"
    assert code == 1 and result["failed"] == 1


def test_a_check_the_alarm_cannot_reach_is_stopped_and_the_summary_still_printed(tmp_path):
    up = float(Path("/proc/uptime").read_text().split()[0])
    blocked = ("import signal, time\n\ndef check_ok():\n    pass\n\n"
               "def check_stuck():\n    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])\n"
               "    time.sleep(120)\n")
    # The limit leaves the check a few seconds; the watchdog stops it half the reserve before the limit.
    code, lines, result = _run(tmp_path, {"check_10_x.py": blocked}, "--limit", str(up + 12), "--reserve", "4")
    assert "FAIL check_10_x.check_stuck: hung past the run's time limit: the runner was stopped" in lines
    assert lines[-1] == "1 passed, 1 failed"
    assert result["watchdog"] is True and result["failed"] == 1

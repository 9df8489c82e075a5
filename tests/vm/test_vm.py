"""make vm-test inside make test: boot the appliance image under qemu (real
kernel, real DAHDI modules, real Asterisk), run tests/guest/check_*.py in the
guest and assert on what it printed on its console and left on its output
disk (image-build/vm.py test).

The first run builds the image (several minutes, cached by recipe hash); with
a warm cache the boot and checks take a few minutes on 2 cores.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
LAST = Path(os.environ.get("KORUND_CACHE", "/var/cache/korund")) / "vm-test" / "last"


@pytest.mark.timeout(3600)   # a cold image build, then the run's own 25-minute limit
def test_guest_checks_pass_in_the_vm():
    # Results exactly where this test reads them (whatever KORUND_VM_RESULTS says), never
    # a previous run's; the 25-minute limit make test promises.
    shutil.rmtree(LAST, ignore_errors=True)
    done = subprocess.run([sys.executable, str(TOP / "image-build" / "vm.py"), "test",
                           "--results", str(LAST), "--limit", "1500"],
                          cwd=TOP, capture_output=True, text=True, timeout=3500)
    where = f"console log: {LAST / 'console.log'}; results: {LAST / 'result.json'}"
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
    result_file = LAST / "result.json"
    assert result_file.exists(), f"the guest runner left no result ({where}):\n{tail}"
    result = json.loads(result_file.read_text())
    failed = [f"{c['name']}: {c['reason']}" for c in result["checks"] if not c["passed"]]
    assert not failed, f"{len(failed)} guest check(s) failed ({where}):\n" + "\n".join(failed)
    console = (LAST / "console.log").read_text(errors="replace")
    summary = f"{result['passed']} passed, 0 failed"
    assert any(line.strip() == summary for line in console.splitlines()), \
        f"no summary line '{summary}' on the console ({where}):\n{tail}"
    assert done.returncode == 0, f"vm.py test failed ({where}):\n{tail}"
    names = {c["name"] for c in result["checks"]}
    assert "check_00_boot.check_services_running" in names, sorted(names)
    # The front panel's host peer saw the screens and its presses were obeyed.
    peer_log = LAST / "panel.jsonl"
    if (TOP / "tests" / "guest" / "check_70_frontpanel.py").exists():
        sys.path.insert(0, str(TOP / "tests" / "vm"))
        import panel_peer
        assert peer_log.exists(), f"the front-panel peer left no log ({where})"
        problems = panel_peer.verify(peer_log)
        assert not problems, f"front-panel peer: {problems}"

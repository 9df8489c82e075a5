"""The technicians' diagnostics (firmware-tools/korund-hw, the same as
`korund hw`) against the real /sys and /proc of the looped DAHDI spans, and
their support bundle written to the output disk (it comes out to the host in
/var/cache/korund/vm-test/last/)."""
from __future__ import annotations

import json
import sys
import tarfile

import hwcheck
import loop

import guest

TIMEOUT = 240
TOOL = str(guest.SRC / "firmware-tools/korund-hw")
_CONFIGURED: list[str] = []


def hw(*args: str, check: bool = True):
    return guest.run([sys.executable, TOOL, *args], check=check, timeout=120)


def _pri_up():
    """The loop as a PRI pair (earlier checks may have left it CAS), once for
    this module, and both spans without alarms."""
    if not _CONFIGURED:
        loop.configure("pri")
        _CONFIGURED.append("pri")
    guest.wait_for(lambda: len(_spans()) >= 2 and all(s.ok for s in _spans()[:2]),
                   timeout=60, what="spans 1 and 2 without alarms")


def _spans():
    from drivers import spans
    return spans.spans()


def check_spans_and_counters_from_the_real_kernel():
    _pri_up()
    out = json.loads(hw("--json", "spans").stdout)
    assert [s["number"] for s in out][:2] == [1, 2], out
    for s in out[:2]:
        assert s["alarms"] == [] and s["ok"], s
        assert s["name"].startswith("DYN/loc/"), s
        assert len(s["channels"]) == 31, s
        assert s["line_config"] == "", s         # dynamic spans: no span= line, no framing
        assert set(s["counters"]) >= {"bpv", "crc4", "fas", "ebit", "slips"}, s
    text = hw("span", "2").stdout
    assert "counters: bpv=" in text and "DYN/loc/1:1/16" in text, text
    assert "dchan" in text and "bchan" in text, text
    counters = json.loads(hw("--json", "counters").stdout)
    assert set(counters) >= {"1", "2"}, counters
    inventory = hw("inventory")
    assert inventory.returncode == 0, inventory.stdout


def check_timing_test_runs():
    r = hw("--json", "timing", "--count", "3", check=False)
    result = json.loads(r.stdout)
    # dahdi_test measures DAHDI's timing source: on the VM's software spans it
    # runs for real (a TCG guest's timing may well be poor; it must have run).
    assert result["available"], result
    assert result["command"][:1] == ["dahdi_test"], result
    assert "average" in result["data"], result            # it measured
    assert 0 < result["data"]["average"] <= 100, result


def check_bundle_comes_out_with_spans_alarms_inventory():
    _pri_up()
    out = guest.out_path("diagnostics/korund-support.tar.gz")
    r = guest.korund("hw", "bundle", str(out))
    assert "support bundle written" in r.stdout, r.stdout
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        read = lambda n: tar.extractfile(f"korund-support/{n}").read().decode()  # noqa: E731
        for part in ("hardware/inventory.json", "hardware/spans.json", "hardware/alarms.json",
                     "hardware/counters.json", "hardware/timing.json", "hardware/firmware.json",
                     "hardware/proc-dahdi/1", "hardware/proc-dahdi/2", "MANIFEST.json"):
            assert f"korund-support/{part}" in names, (part, sorted(names))
        spans = json.loads(read("hardware/spans.json"))
        assert [s["name"] for s in spans][:2] == ["DYN/loc/1:0", "DYN/loc/1:1"], spans
        alarms = json.loads(read("hardware/alarms.json"))
        assert alarms["spans"] >= 2 and alarms["ok"], alarms
        assert "Dynamic 'loc' span" in read("hardware/proc-dahdi/1")
        assert any(n.startswith("korund-support/config/dahdi/system.conf") for n in names), sorted(names)
        assert "dynamic=loc,1:0,31,0" in read("config/dahdi/system.conf")
        assert any(n.startswith("korund-support/logs/") for n in names), sorted(names)
        assert "korund-support/kernel/dmesg-dahdi.txt" in names, sorted(names)
        assert "dahdi" in read("kernel/dmesg-dahdi.txt").lower()
        # Secrets stay out: no database, the AMI secret nowhere.
        secret = guest.settings()["ami.secret"]
        for member in tar.getmembers():
            assert not member.name.endswith((".db", ".sqlite")), member.name
            if member.isfile():
                assert secret not in tar.extractfile(member).read().decode(errors="replace"), member.name
    # The stand-alone tool (no instance) writes one too.
    alone = guest.out_path("diagnostics/korund-hw-support.tar.gz")
    assert "support bundle written" in hw("bundle", str(alone)).stdout
    with tarfile.open(alone) as tar:
        assert "korund-support/hardware/spans.json" in tar.getnames()


def check_diagnostics_page():
    _pri_up()
    status, page = hwcheck.get("/diagnostics/")
    assert status == 200, (status, page[:300])
    assert "DYN/loc/1:0" in page and "DYN/loc/1:1" in page, page[:2000]

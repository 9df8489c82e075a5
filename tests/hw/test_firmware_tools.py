"""Technicians' tools: loopback, timing, counter reset, firmware, the support
bundle (secrets removed) and the CLI, with DAHDI's tools replaced by a
recording runner."""
from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest

from korund import cli as korund_cli
from drivers import bundle, cli, maint
from drivers.root import Root

FIX = Path(__file__).parent.parent / "fixtures" / "hw"
TE = Root(FIX / "te410p_e1")


class Runner:
    def __init__(self, results=None):
        self.calls = []
        self.results = results or {}

    def __call__(self, cmd, timeout):
        self.calls.append(cmd)
        assert timeout > 0
        return self.results.get(cmd[0], (0, ""))


def have(_name):
    return "/usr/sbin/" + _name


def missing(_name):
    return None


def test_loopback_passes_on_a_clear_span():
    run = Runner()
    r = maint.loopback(TE, 2, "localhost", runner=run, which=have, sleep=lambda s: None)
    assert r.ok and r.available and "passed" in r.message
    assert run.calls == [["dahdi_maint", "-s", "2", "--loopback", "localhost"],
                         ["dahdi_maint", "-s", "2", "--loopback", "off"]]
    assert r.data["ended"] is True


def test_loopback_fails_when_the_span_stays_red_and_is_always_ended():
    run = Runner()
    r = maint.loopback(TE, 1, "networkline", runner=run, which=have, sleep=lambda s: None)
    assert not r.ok and "RED" in r.message and "LOS" in r.message
    assert run.calls[-1] == ["dahdi_maint", "-s", "1", "--loopback", "off"]


def test_loopback_bad_input_and_tool_failure():
    r = maint.loopback(TE, 9, runner=Runner(), which=have)
    assert not r.ok and "no span 9" in r.message and "1, 2, 3, 4" in r.message
    r = maint.loopback(TE, 1, "sideways", runner=Runner(), which=have)
    assert not r.ok and "unknown loopback mode" in r.message
    r = maint.loopback(TE, 1, runner=Runner({"dahdi_maint": (1, "Unable to open")}), which=have)
    assert not r.ok and "exit 1" in r.message and r.output == "Unable to open"


def test_not_available_without_tools_or_kernel_module():
    r = maint.loopback(TE, 1, runner=Runner(), which=missing)
    assert (r.ok, r.available) == (False, False) and "dahdi_maint is not installed" in r.message
    r = maint.timing_test(Root(FIX / "empty"), runner=Runner(), which=have)
    assert r.available is False and "DAHDI kernel module is not loaded" in r.message
    r = maint.reset_counters(Root(FIX / "empty"), runner=Runner(), which=have)
    assert r.available is False


DAHDI_TEST_OUT = """Opened pseudo dahdi interface, measuring accuracy...
99.987% 99.975% 99.994% 99.981% 99.990%
--- Results after 5 passes ---
Best: 99.994% -- Worst: 99.975% -- Average: 99.985400%
Cummulative Accuracy (not per pass): 99.985
"""


def test_timing_test_parses_dahdi_test():
    run = Runner({"dahdi_test": (0, DAHDI_TEST_OUT)})
    r = maint.timing_test(TE, 5, runner=run, which=have)
    assert r.ok and run.calls == [["dahdi_test", "-c", "5"]]
    assert r.data["average"] == pytest.approx(99.9854) and r.data["worst"] == 99.975
    assert r.data["timing"]["master"] == 2
    bad = DAHDI_TEST_OUT.replace("Average: 99.985400%", "Average: 97.5%")
    r = maint.timing_test(TE, 5, runner=Runner({"dahdi_test": (0, bad)}), which=have)
    assert not r.ok and "below" in r.message
    r = maint.timing_test(TE, 5, runner=Runner({"dahdi_test": (-1, "")}), which=have)
    assert not r.ok and "failed" in r.message
    assert not maint.timing_test(TE, 0, runner=Runner(), which=have).ok


def test_counter_reset_one_or_all_spans():
    run = Runner()
    assert maint.reset_counters(TE, 3, runner=run, which=have).ok
    assert run.calls == [["dahdi_maint", "-s", "3", "-r"]]
    run = Runner()
    r = maint.reset_counters(TE, runner=run, which=have)
    assert r.ok and [c[2] for c in run.calls] == ["1", "2", "3", "4"]
    # analog spans have no line counters: only digital ones are reset
    run = Runner()
    maint.reset_counters(Root(FIX / "a1200_analog"), runner=run, which=have)
    assert run.calls == []
    r = maint.reset_counters(TE, runner=Runner({"dahdi_maint": (1, "err")}), which=have)
    assert not r.ok and "1, 2, 3, 4" in r.message


def test_firmware_versions_and_files(tmp_path):
    fw = maint.firmware(TE)
    assert fw["files"] == [{"path": "/lib/firmware/dahdi-fw-oct6114-128-1.05.01.bin", "size": 0}]
    (b,) = fw["boards"]
    assert b["model"] == "TE410P (5th Gen)" and b["pci_revision"] == "0x01"
    assert b["versions"] == {} and "does not expose" in b["note"]
    # a driver that exposes a version attribute is reported
    root = tmp_path / "r"
    shutil.copytree(FIX / "te410p_e1", root, symlinks=True)
    (root / "sys/devices/pci0000:00/0000:00:1e.0/0000:05:08.0/firmware_version").write_text("1.2.3\n")
    assert maint.firmware(Root(root))["boards"][0]["versions"] == {"firmware_version": "1.2.3"}


SECRETS = ["S3cretSip!", "AmiPa55", "krd_abcdefghijklmnop", "eyJhbGciOiJIUzI1NiJ9.x.y",
           "hunter22", "WebhookT0ken", "urlpass99"]


def _instance_dirs(tmp_path):
    etc = tmp_path / "inst/etc/asterisk"
    etc.mkdir(parents=True)
    (etc / "pjsip.conf").write_text(
        "; generated by Korund\n[pstn-auth]\ntype=auth\nauth_type=userpass\nusername=pstn\n"
        "password=S3cretSip!\n[1001]\ntype=endpoint\ncontext=from-operators\n")
    (etc / "manager.conf").write_text("[general]\nenabled = yes\n[korund]\nsecret = AmiPa55\n"
                                      "read = all\n")
    (etc / "chan_dahdi.conf").write_text("[channels]\nswitchtype=euroisdn\nsignalling=pri_cpe\n")
    (etc / "korund.db").write_bytes(b"SQLite format 3\0 hunter22")
    log = tmp_path / "inst/log"
    log.mkdir(parents=True)
    (log / "web.log").write_text(
        "GET /api/v1/calls Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x.y\n"
        "token krd_abcdefghijklmnop used by admin\n"
        '{"event": "webhook", "token": "WebhookT0ken", "url": "https://u:urlpass99@crm.example/hook"}\n'
        "login ok for admin\n")
    (log / "agi.log").write_text("DB_PASSWORD=hunter22 started agi\ncall 42 answered\n")
    dahdi = tmp_path / "root/etc/dahdi"
    dahdi.mkdir(parents=True)
    (dahdi / "system.conf").write_text("# generated\nspan=1,1,0,ccs,hdb3,crc4\nbchan=1-15,17-31\n")
    return [dahdi, etc], [log]


def test_bundle_has_everything_and_no_secret(tmp_path):
    configs, logs = _instance_dirs(tmp_path)
    dmesg = "[ 1.0] dahdi: Telephony Interface Registered\n[ 1.1] usb 1-1: new device\n" \
            "[ 2.0] wct4xxp 0000:05:08.0: Firmware Version: 01000031\n"
    out = tmp_path / "out/support.tar.gz"
    manifest = bundle.make_bundle(out, TE, config_dirs=configs, log_dirs=logs,
                                  runner=Runner({"dmesg": (0, dmesg)}))
    with tarfile.open(out) as tar:
        names = tar.getnames()
        texts = {n: tar.extractfile(n).read().decode() for n in names if tar.getmember(n).isfile()}
    everything = "\n".join(texts.values())
    for secret in SECRETS:
        assert secret not in everything, secret
    prefix = "korund-support/"
    for expected in ("hardware/inventory.json", "hardware/spans.json", "hardware/counters.json",
                     "hardware/timing.json", "hardware/firmware.json", "hardware/proc-dahdi/1",
                     "config/dahdi/system.conf", "config/asterisk/pjsip.conf",
                     "config/asterisk/manager.conf", "config/asterisk/chan_dahdi.conf",
                     "logs/web.log", "logs/agi.log", "kernel/dmesg-dahdi.txt", "MANIFEST.json"):
        assert prefix + expected in names, expected
    assert not any(n.endswith("korund.db") for n in names)
    pjsip = texts[prefix + "config/asterisk/pjsip.conf"]
    assert "password=[REDACTED]" in pjsip and "username=pstn" in pjsip and "auth_type=userpass" in pjsip
    assert "secret = [REDACTED]" in texts[prefix + "config/asterisk/manager.conf"]
    assert "span=1,1,0,ccs,hdb3,crc4" in texts[prefix + "config/dahdi/system.conf"]
    assert "login ok for admin" in texts[prefix + "logs/web.log"]
    kern = texts[prefix + "kernel/dmesg-dahdi.txt"]
    assert "Firmware Version" in kern and "usb 1-1" not in kern
    counters = json.loads(texts[prefix + "hardware/counters.json"])
    assert counters["1"]["bpv"] == 1843
    assert manifest["missing"] == [] and not out.with_name("support.tar.gz.part").exists()


def test_bundle_without_dahdi_or_dmesg_says_what_is_missing(tmp_path):
    out = tmp_path / "b.tar.gz"
    manifest = bundle.make_bundle(out, Root(FIX / "empty"), config_dirs=[tmp_path / "nope"],
                                  runner=Runner({"dmesg": (1, "dmesg: read kernel buffer failed")}))
    assert any("no DAHDI spans" in m for m in manifest["missing"])
    assert any("config directory" in m for m in manifest["missing"])
    assert any("kernel log" in m for m in manifest["missing"])
    with tarfile.open(out) as tar:
        assert "korund-support/hardware/inventory.json" in tar.getnames()


@pytest.mark.parametrize("line,expected", [
    ("secret=abc", "secret=[REDACTED]"),
    ("  md5secret => 0123abcd", "  md5secret => [REDACTED]"),
    ("outbound_auth_password: x y z", "outbound_auth_password: [REDACTED]"),
    ("api_key = K", "api_key = [REDACTED]"),
    ('{"password": "p\\"q", "user": "anna"}', '{"password": "[REDACTED]", "user": "anna"}'),
    ("curl -H 'Authorization: Basic dXNlcjpwYXNz'", "curl -H 'Authorization: Basic [REDACTED]'"),
    ("04:00 web: reset token=abc123 for anna", "04:00 web: reset token=[REDACTED] for anna"),
    ("GET /hook?x=1&secret=s3&y=2", "GET /hook?x=1&secret=[REDACTED]&y=2"),
    ("DB_PASSWORD=hunter22 started", "DB_PASSWORD=[REDACTED]"),   # a config value runs to the end
    ("[pstn-auth]", "[pstn-auth]"),
    ("auth_type=userpass", "auth_type=userpass"),
    ("username=pstn", "username=pstn"),
    ("span=1,1,0,ccs,hdb3,crc4", "span=1,1,0,ccs,hdb3,crc4"),
])
def test_redact(line, expected):
    assert bundle.redact(line + "\n") == expected + "\n"


def test_cli_reads_a_recorded_machine(capsys):
    root = str(FIX / "te410p_e1")
    assert cli.main(["--root", root, "inventory"]) == 0
    assert "TE410P (5th Gen)" in capsys.readouterr().out
    assert cli.main(["--root", root, "spans"]) == 0
    out = capsys.readouterr().out
    assert "LOS,RED" in out and "master clock-source" in out
    assert cli.main(["--root", root, "span", "1"]) == 0
    assert "bpv=1843" in capsys.readouterr().out
    assert cli.main(["--root", root, "span", "7"]) == 1
    assert "no DAHDI span 7" in capsys.readouterr().err
    assert cli.main(["--root", root, "--json", "counters", "--span", "4"]) == 0
    assert json.loads(capsys.readouterr().out) == {"4": {"bpv": 0, "crc4": 0, "ebit": 15, "fas": 0,
                                                         "irq_misses": 0, "slips": 0}}
    assert cli.main(["--root", str(FIX / "unknown_board"), "inventory"]) == 0
    assert "unsupported board 1923:0100" in capsys.readouterr().out
    assert cli.main(["--root", str(FIX / "empty"), "timing"]) == 2
    assert "not available" in capsys.readouterr().out
    assert cli.main(["--root", str(FIX / "no-such-machine"), "spans"]) == 1
    assert "is not a directory" in capsys.readouterr().err


def test_korund_hw_subcommand_bundles_the_instance(tmp_path, capsys):
    configs, logs = _instance_dirs(tmp_path)
    base = tmp_path / "inst"
    out = tmp_path / "s.tar.gz"
    assert korund_cli.main(["-i", str(base), "hw", "--root", str(tmp_path / "root"),
                            "bundle", str(out)]) == 0
    assert "secrets removed" in capsys.readouterr().out
    with tarfile.open(out) as tar:
        names = tar.getnames()
        text = "".join(tar.extractfile(n).read().decode() for n in names if tar.getmember(n).isfile())
    assert "korund-support/config/asterisk/pjsip.conf" in names
    assert "korund-support/config/dahdi/system.conf" in names
    assert "korund-support/logs/web.log" in names
    assert not any(s in text for s in SECRETS)
    assert korund_cli.main(["hw", "--root", str(FIX / "d115_r2"), "spans"]) == 0
    assert "HDB3/CAS" in capsys.readouterr().out

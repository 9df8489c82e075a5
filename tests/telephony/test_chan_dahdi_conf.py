"""The generated chan_dahdi.conf is loaded by the real Asterisk 22 of the
root filesystem (chan_dahdi with PRI, SS7 and openr2).

There is no DAHDI kernel here, so every channel fails to open ("Unable to
open '/dev/dahdi/channel'") and chan_dahdi skips it (ignore_failed_channels);
everything else chan_dahdi says about the file -- an unknown dial plan,
signalling, MFC/R2 variant or a malformed value -- would be a warning or an
error of its own, and the test fails on any of those. chan_dahdi accepts
unknown option names silently at load, so each option we write is also looked
up among the option names compiled into chan_dahdi.so.
Run with KORUND_TEST_SLOT=<n> beside other suites (own sandbox directory).
"""
from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import SLOT
from tests.harness import ROOTFS_SH, in_root, wait_for
from tests.hw.test_dahdi_conf import render_case

pytestmark = pytest.mark.telephony

MODULE = "/usr/lib/x86_64-linux-gnu/asterisk/modules/chan_dahdi.so"
# What chan_dahdi says because there is no DAHDI kernel -- not about our file.
NO_HARDWARE = re.compile(r"Unable to open '/dev/dahdi/channel'|Unable to open channel \d+|"
                         r"Unable to register channel|failure ignored: ignore_failed_channels")


def asterisk_conf(box: str) -> str:
    return f"""[directories]
astetcdir => {box}/etc
astmoddir => /usr/lib/x86_64-linux-gnu/asterisk/modules
astvarlibdir => /usr/share/asterisk
astdbdir => {box}/lib
astkeydir => {box}/lib
astdatadir => /usr/share/asterisk
astspooldir => {box}/spool
astrundir => {box}/run
astlogdir => {box}/log
astsbindir => /usr/sbin

[options]
"""


def load_in_asterisk(root, chan_dahdi_text: str) -> tuple[list[str], list[str]]:
    """Start Asterisk with only chan_dahdi and our file; (chan_dahdi's log
    lines, `module show` output)."""
    box = f"/tmp/korund-chan-dahdi-slot{SLOT}"
    host_box = root / box.lstrip("/")
    subprocess.run(["rm", "-rf", str(host_box)], check=True)
    for d in ("etc", "lib", "spool", "run", "log"):
        (host_box / d).mkdir(parents=True)
    (host_box / "etc" / "asterisk.conf").write_text(asterisk_conf(box))
    (host_box / "etc" / "modules.conf").write_text("[modules]\nautoload = no\nload => chan_dahdi.so\n")
    (host_box / "etc" / "logger.conf").write_text("[general]\n[logfiles]\nmessages.log => notice,warning,error,verbose(3)\n")
    (host_box / "etc" / "chan_dahdi.conf").write_text(chan_dahdi_text)
    conf = f"{box}/etc/asterisk.conf"
    proc = subprocess.Popen([str(ROOTFS_SH), "exec", "asterisk", "-C", conf, "-f", "-n", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = host_box / "log" / "messages.log"
    try:
        wait_for(lambda: log.exists() and "Asterisk Ready." in log.read_text(errors="replace"),
                 timeout=60, what="Asterisk with chan_dahdi to start")
        shown = in_root("asterisk", "-C", conf, "-rx", "module show like chan_dahdi").stdout.splitlines()
    finally:
        in_root("asterisk", "-C", conf, "-rx", "core stop now", check=False)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    said = [ln for ln in log.read_text(errors="replace").splitlines() if "chan_dahdi.c:" in ln]
    return said, shown


@pytest.fixture(scope="module")
def option_names(root):
    """chan_dahdi.so's bytes: its option names are NUL-terminated strings in it
    (the linker may share one string's tail with a longer one, so an option
    is looked for as "<name>\\0")."""
    return (root / MODULE.lstrip("/")).read_bytes()


@pytest.mark.parametrize("case", ["mixed", "pri_net", "fxs"])
def test_asterisk_parses_the_generated_chan_dahdi_conf(root, option_names, case):
    text = render_case(case)["chan_dahdi.conf"]
    said, shown = load_in_asterisk(root, text)
    assert any("chan_dahdi.so" in ln and "Running" in ln for ln in shown), shown
    complaints = [ln for ln in said if ("WARNING" in ln or "ERROR" in ln) and not NO_HARDWARE.search(ln)]
    assert not complaints, "\n".join(complaints)
    # chan_dahdi really read the file: it tried every channel we listed.
    tried = {int(n) for n in re.findall(r"Unable to open channel (\d+)", "\n".join(said))}
    firsts = {int(r.split("-")[0].split(",")[0]) for r in re.findall(r"^channel => (\S+)$", text, re.M)}
    assert firsts <= tried
    keys = set(re.findall(r"^([a-z0-9_]+) = ", text, re.M))
    unknown = sorted(k for k in keys if k.encode() + b"\0" not in option_names)
    assert not unknown, f"chan_dahdi does not know these options: {unknown}"


def test_a_bad_value_would_be_caught(root):
    """The check above is not blind: chan_dahdi's complaints do reach it."""
    text = render_case("r2")["chan_dahdi.conf"].replace("mfcr2_variant = itu", "mfcr2_variant = ru")
    said, _ = load_in_asterisk(root, text)
    assert any("Unknown MFC/R2 variant 'ru'" in ln for ln in said), said


SPAN_IN = """
import sys
from appliance.lines import store as spans
from appliance.base.instance import Instance
db = Instance.at(sys.argv[1]).open_store()
with db.atomic():
    db.execute("DELETE FROM spans")
    if sys.argv[2] == "add":
        spans.save(db, spans.validate({"span": 1, "name": "PRI", "signalling": "pri_cpe"}), create=True)
"""


def test_an_instance_with_a_span_loads_chan_dahdi_and_still_applies(appliance, carrier):
    """With a span enabled the generated set lets Asterisk load chan_dahdi,
    the usual apply (reload + verify) still succeeds with chan_dahdi loaded,
    and the DAHDI apply's check against the real chan_dahdi works (and rolls
    back). Without spans chan_dahdi is back on the noload list."""
    base = appliance.base
    try:
        in_root("/opt/korund/venv/bin/python", "-c", SPAN_IN, base, "add")
        assert "applied" in in_root("korund", "-i", base, "apply").stdout
        conf = (appliance.host_base / "etc" / "asterisk" / "chan_dahdi.conf").read_text()
        assert conf.startswith("; Generated by Korund") and "channel => 1-15,17-31" in conf
        modules = (appliance.host_base / "etc" / "asterisk" / "modules.conf").read_text()
        assert "noload => chan_dahdi.so" not in modules
        # The DAHDI apply loads chan_dahdi, finds none of the span's channels
        # (no DAHDI here), puts the previous file back and says why.
        r = in_root("korund", "-i", base, "dahdi", "apply", "--no-dahdi-cfg", check=False)
        assert r.returncode == 1 and "chan_dahdi has no channel 1-15,17-31" in r.stderr, r.stderr
        shown = appliance.cli("module show like chan_dahdi")
        assert any("chan_dahdi.so" in ln and "Running" in ln for ln in shown), shown
        assert (appliance.host_base / "etc" / "asterisk" / "chan_dahdi.conf").read_text() == conf
        assert "applied" in in_root("korund", "-i", base, "apply").stdout
    finally:
        in_root("/opt/korund/venv/bin/python", "-c", SPAN_IN, base, "remove")
        in_root("korund", "-i", base, "apply")
    assert "noload => chan_dahdi.so" in (appliance.host_base / "etc" / "asterisk" / "modules.conf").read_text()

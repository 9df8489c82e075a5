"""The looped-span test bench (devtools/dahdi_loop.py) against the real
Asterisk 22 of the root filesystem, which has chan_dahdi but no DAHDI
kernel (the calls themselves run in the VM, tests/guest/check_20..40):

- each loop kind's chan_dahdi.conf is read by chan_dahdi without a warning
  of its own (as tests/telephony/test_chan_dahdi_conf.py does for the
  golden cases);
- `korund dahdi loop-demo` stores the pair, applies Asterisk's
  configuration (the test carrier's context and the DAHDI lines of the
  inbound context are loaded by the dialplan), loads chan_dahdi and then
  reports -- here, with no kernel -- that the channels are missing.
Run with KORUND_TEST_SLOT=<n> beside other suites.
"""
from __future__ import annotations

import pytest

from devtools import dahdi_loop
from appliance.lines import store as spans
from appliance.base import dialplan_names as dn
from appliance.lines import render as dahdi
from tests.harness import in_root
from tests.telephony.test_chan_dahdi_conf import NO_HARDWARE, load_in_asterisk, option_names  # noqa: F401

pytestmark = pytest.mark.telephony


@pytest.mark.parametrize("kind", dahdi_loop.KINDS)
def test_chan_dahdi_reads_each_loop_kind(root, option_names, kind):  # noqa: F811
    pair = [spans.validate(raw) for raw in dahdi_loop.settings(kind)]
    text = dahdi.render(pair, dahdi.Hardware())["chan_dahdi.conf"]
    said, shown = load_in_asterisk(root, text)
    assert any("chan_dahdi.so" in ln and "Running" in ln for ln in shown), shown
    complaints = [ln for ln in said if ("WARNING" in ln or "ERROR" in ln) and not NO_HARDWARE.search(ln)]
    assert not complaints, "\n".join(complaints)
    assert f"context = {dn.CTX_TEST_CARRIER}" in text


CLEAR = """
import sys
from appliance.base.instance import Instance
db = Instance.at(sys.argv[1]).open_store()
with db.atomic():
    db.execute("DELETE FROM spans")
"""


def test_loop_demo_applies_the_dialplan_and_reports_missing_channels(appliance, carrier):
    base = appliance.base
    try:
        r = in_root("korund", "-i", base, "dahdi", "loop-demo", "r2", "--no-dahdi-cfg", "--timeout", "3",
                    check=False)
        # No DAHDI kernel here: chan_dahdi loads but has none of the channels.
        assert r.returncode == 1 and "chan_dahdi has no channel" in r.stderr, (r.stdout, r.stderr)
        carrier_ctx = "\n".join(appliance.cli(f"dialplan show {dn.CTX_TEST_CARRIER}"))
        assert "SendDTMF" in carrier_ctx and "Answer()" in carrier_ctx, carrier_ctx
        inbound = "\n".join(appliance.cli(f"dialplan show s@{dn.CTX_INBOUND}"))
        for needle in (f"__{dn.VAR_SPAN}=", "CHANNEL(dahdi_channel)", f"__{dn.VAR_CALLER_CATEGORY}=",
                       "[lang]"):
            assert needle in inbound, (needle, inbound)
        chan = (appliance.host_base / "etc" / "asterisk" / "chan_dahdi.conf").read_text()
        assert "signalling = mfcr2" in chan
    finally:
        in_root("/opt/korund/venv/bin/python", "-c", CLEAR, base)
        in_root("korund", "-i", base, "apply")
    assert dn.CTX_TEST_CARRIER not in "\n".join(appliance.cli("dialplan show"))

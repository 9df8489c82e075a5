"""Asterisk's apply on the real Asterisk 22 reloads only the modules whose
files changed (AMI 'Reload' events name each one), never `core reload`
(Module: All) and never chan_dahdi -- reloading chan_dahdi under live MFC/R2
links crashes Asterisk 22 (tests/guest/check_30_r2.py checks the
R2 side). The mapping itself: tests/unit/test_apply_reloads.py.
Run with KORUND_TEST_SLOT=<n> beside other suites."""
from __future__ import annotations

import re
import time

import pytest

from appliance import apply
from appliance.operators import store as operators
from tests.harness import configure, in_root, korund, wait_for
from tests.telephony.test_chan_dahdi_conf import SPAN_IN

pytestmark = pytest.mark.telephony


def reloads(appliance, since: int, last: str, timeout: float = 30) -> dict[str, str]:
    """{module: status} of the Reload events after *since*, once the one of
    *last* came (and a moment for any stray one after it)."""
    appliance.events.wait(since, timeout, Event="Reload", Module=last)
    time.sleep(1.0)   # no stray Reload after it: nothing to poll for
    return {e["Module"]: e.get("Status") for e in appliance.events.find(since, Event="Reload")}


def running_generation(appliance) -> str:
    shown = "\n".join(appliance.cli("dialplan show globals"))
    return re.search(rf"{apply.GENERATION_VAR}=(\w+)", shown).group(1)


def file_generation(appliance) -> str:
    text = (appliance.host_base / "etc" / "asterisk" / "extensions.conf").read_text()
    return re.search(rf"^{apply.GENERATION_VAR} = (\w+)", text, re.M).group(1)


def test_a_queue_change_reloads_app_queue_alone_and_calls_follow_it(appliance, carrier):
    mark = appliance.events.mark()
    configure(appliance, lambda db: operators.update_group(db, "support", "Support", "ringall", 15, True))
    got = reloads(appliance, mark, "app_queue.so")
    assert got == {"app_queue.so": "0"}, got   # no res_pjsip.so, pbx_config.so, All, chan_dahdi.so
    assert "'ringall' strategy" in "\n".join(appliance.cli("queue show support"))
    # The dialplan was not reloaded, yet it carries the new set's generation.
    assert running_generation(appliance) == file_generation(appliance)
    # A caller now rings both phones at once (ringall), and is answered.
    before, mark = appliance.last_call_id(), appliance.events.mark()
    call = carrier.call(ani="4951112233")
    call.answered_by_phone()
    for phone in ("PJSIP/1001", "PJSIP/1002"):   # the appliance's events may trail the carrier's
        appliance.events.wait(mark, 10, Event="AgentCalled", Queue="support", Interface=phone)
    call.ended()
    assert appliance.call_row(ani="4951112233", since_id=before)["outcome"] == "answered"

    # An operator's new name: the endpoint (caller ID) and the queue member, no dialplan.
    mark = appliance.events.mark()
    configure(appliance, lambda db: operators.update_operator(db, "1002", "Boris Renamed",
                                                          f"sip:1002@{carrier.address}:5060", True))
    got = reloads(appliance, mark, "app_queue.so")
    assert got == {"res_pjsip.so": "0", "app_queue.so": "0"}, got
    events = [e["Module"] for e in appliance.events.find(mark, Event="Reload")]
    assert events == ["res_pjsip.so", "app_queue.so"]   # endpoints first
    assert "Boris Renamed" in "\n".join(appliance.cli("queue show support"))


def test_a_full_apply_reloads_every_module_but_never_chan_dahdi(appliance, carrier):
    base = appliance.base
    try:
        # chan_dahdi loaded (a span; no DAHDI kernel here, so it has no channels).
        in_root("/opt/korund/venv/bin/python", "-c", SPAN_IN, base, "add")
        assert "applied" in korund(appliance, "apply").stdout
        korund(appliance, "dahdi", "apply", "--no-dahdi-cfg", check=False)
        shown = appliance.cli("module show like chan_dahdi")
        assert any("chan_dahdi.so" in ln and "Running" in ln for ln in shown), shown

        # No last good set: what Asterisk runs is unknown, so everything is reloaded.
        for stale in appliance.inst.last_good.glob("*.conf"):
            stale.unlink()
        mark = appliance.events.mark()
        said = korund(appliance, "apply").stdout
        assert "applied (reloaded in Asterisk: logger, acl, manager," in said, said
        got = reloads(appliance, mark, "pbx_config.so")
        assert got == {module: "0" for module, _ in apply.RELOADS}, got   # Asterisk has each, each took it
        assert "chan_dahdi.so" not in got and "All" not in got

        # A change of chan_dahdi.conf alone (the span's channels): nothing is reloaded here.
        def narrower(db):
            db.execute("UPDATE spans SET channels = '1-10'")
        mark = appliance.events.mark()
        configure(appliance, narrower)
        conf = (appliance.host_base / "etc" / "asterisk" / "chan_dahdi.conf").read_text()
        assert "channel => 1-10" in conf
        time.sleep(2.0)   # no Reload comes (chan_dahdi.conf alone): nothing to poll for
        assert appliance.events.find(mark, Event="Reload") == []
        assert running_generation(appliance) == file_generation(appliance)
        shown = appliance.cli("module show like chan_dahdi")
        assert any("chan_dahdi.so" in ln and "Running" in ln for ln in shown), shown
    finally:
        in_root("/opt/korund/venv/bin/python", "-c", SPAN_IN, base, "remove")
        korund(appliance, "apply")
    # Calls still work after it all.
    before = appliance.last_call_id()
    call = carrier.call(ani="4952223344")
    call.answered_by_phone()
    call.ended()
    wait_for(lambda: appliance.call_row(ani="4952223344", since_id=before)["outcome"] == "answered", 30,
             what="the call answered in the history")

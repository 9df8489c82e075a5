"""The demo IVR `make run` loads (number 200) works on a real call: the caller
presses 1, enters account 4242, hears the balance and reaches an operator."""
from __future__ import annotations

import json

from tests.harness import in_root


def test_the_demo_ivr_reads_a_balance_and_reaches_an_operator(appliance, carrier):
    out = in_root("korund", "-i", appliance.base, "init", "--demo", "--demo-ivr", "--address",
                  appliance.address, "--carrier", appliance.carrier, "--rtp-start", str(appliance.rtp),
                  "--rtp-end", str(appliance.rtp + 999), timeout=300).stdout
    assert "demo IVR scenario bound to number 200" in out
    before = appliance.last_call_id()
    call = carrier.call(ani="4957770001", dnis="200", hold=40, dtmf="1wwwwwwww4242#", dtmf_delay=1)
    call.answered_by_phone(timeout=60)
    call.ended(timeout=90)
    row = appliance.call_row(ani="4957770001", since_id=before)
    with appliance.db() as conn:
        steps = [json.loads(r[0]) for r in conn.execute(
            "SELECT step FROM call_steps WHERE uniqueid = ? ORDER BY seq", [row["uniqueid"]])]
    assert [s["node"] for s in steps if "type" in s] == ["menu", "account", "find", "balance", "amount",
                                                         "operators"]
    assert {"node": "find", "set": "client_balance", "value": "98000"} in steps
    assert row["dnis"] == "200" and row["outcome"] == "answered"

"""A caller ID full of dialplan metacharacters neither breaks routing nor
reaches the dialplan, the operator's phone or the history unfiltered."""
from __future__ import annotations

import re

import pytest

from tests.harness import wait_for

HOSTILE = [
    ("12&34,56|78;90", 'Evil", Name; x|y'),
    ("+7(495)\"'`$[1]${EXTEN}", "Robert'); DROP TABLE calls;--"),
    ("555\n123\r\n4", "Tab\tand\x01control"),
    (",,,;;;|||&&&", "''''\"\"\"\""),
]


@pytest.mark.parametrize("ani,name", HOSTILE)
def test_hostile_caller_id_is_filtered_and_the_call_still_routes(appliance, carrier, ani, name):
    before = appliance.last_call_id()
    mark = appliance.events.mark()
    call = carrier.call(ani=ani, name=name, hold=8)
    rang = call.wait("SimPhoneRang", timeout=30)
    call.answered_by_phone()
    call.ended()

    # The operator's phone was shown only digits and a harmless name.
    assert re.fullmatch(r"[0-9+]*", rang["CallerNum"]), rang["CallerNum"]
    assert re.fullmatch(r"[a-zA-Z0-9 ._-]*", rang.get("CallerName", "")), rang["CallerName"]
    # The dialplan variables the AGI and the queue see are filtered too.
    ani_vars = appliance.events.find(mark, Event="VarSet", Variable="__KORUND_ANI")
    assert ani_vars and all(re.fullmatch(r"[0-9+]*", e["Value"]) for e in ani_vars)

    row = appliance.call_row(since_id=before)
    assert [r["id"] for r in appliance.calls() if r["id"] > before] == [row["id"]]
    assert re.fullmatch(r"[0-9+]*", row["ani"])
    assert row["outcome"] == "answered"
    assert row["route_source"] == "agi"
    assert row["grp"] == "support"


def test_a_header_injected_through_the_caller_name_is_dropped(appliance, carrier):
    """A line break in the caller's name would smuggle a SIP header in: the
    appliance drops the malformed INVITE, and keeps serving other calls."""
    before = appliance.last_call_id()
    log = appliance.host_base / "log" / "messages.log"
    log_start = log.stat().st_size
    carrier.call(ani="5551234", name="line\nX-Injected: yes", hold=5)
    wait_for(lambda: "Dropping" in log.read_text(errors="replace")[log_start:], 15,
             what="the appliance to drop the malformed INVITE")
    good = carrier.call(ani="4954445566", hold=8)
    good.answered_by_phone()
    good.ended()
    row = appliance.call_row(since_id=before)
    assert row["ani"] == "4954445566"
    assert [r["id"] for r in appliance.calls() if r["id"] > before] == [row["id"]]
    carrier.cli("channel request hangup all")

"""Every path that rings one operator directly rings the phone the operator
really uses: an IP phone's PJSIP/<ext>, or an analog telephone on an FXS
port (operators.device 'DAHDI/<n>', appliance.operators.devices) -- a scenario's
"route to operator", the routing's personal operator (F7), a blind transfer
(the same korund-route step) and the callback dialer's operator leg.

The host's Asterisk has no DAHDI hardware (chan_dahdi is not even loaded),
so here the FXS operator's call is *attempted* on DAHDI/18 -- the Dial the
caller's channel runs, the dialer's Originate -- and then goes on as the
route says: unanswered, the group takes the call and a simulated IP phone
answers. The call itself reaching the FXS telephone runs in the VM
(tests/guest/check_40_analog.py). Run with KORUND_TEST_SLOT=<n>.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from appliance.clients import store as clients
from appliance.operators import store as operators
from appliance.base import dialplan_names as dn
from tests.harness import configure, wait_for
from tests.telephony.test_scenarios import publish_and_bind

pytestmark = pytest.mark.telephony

FXS_EXT, FXS_PORT, FXS_GROUP = "1003", "DAHDI/18", "analog"


@pytest.fixture(scope="module")
def fxs(pbx):
    """Operator 1003 on the FXS port DAHDI/18 (stored as the panel stores it;
    the port check wants a span this host has no hardware for), alone in
    group 'analog'; scenarios routing to 1003 (number 301) and to the IP
    phone 1002 (number 302)."""
    appliance, _ = pbx

    def change(db):
        operators.add_operator(db, FXS_EXT, "Analog Operator")
        db.execute("UPDATE operators SET device = ? WHERE extension = ?", [FXS_PORT, FXS_EXT])
        operators.add_group(db, FXS_GROUP, "Analog", strategy="ringall", ring_timeout=15)
        operators.add_member(db, FXS_GROUP, FXS_EXT)
    configure(appliance, change)
    for name, ext, dnis in (("to-analog", FXS_EXT, "301"), ("to-ip", "1002", "302")):
        publish_and_bind(appliance, name, {"start": "op", "nodes": {
            "op": {"type": "route", "to": "operator", "operator": ext}}}, dnis)
    return appliance


def dials(appliance, since: int, uniqueid: str | None = None) -> list[str]:
    """The dial strings Dial() ran with on the appliance since *since*."""
    return [e.get("AppData", "").split(",", 1)[0] for e in appliance.events.find(since, Event="Newexten",
                                                                                  Application="Dial")
            if uniqueid is None or e.get("Linkedid") == uniqueid]


def test_the_rendered_dialplan_names_the_fxs_operators_port(fxs):
    globals_ = "\n".join(fxs.cli("dialplan show globals"))
    assert f"{dn.VAR_DEVICE_PREFIX}{FXS_EXT}={FXS_PORT}" in globals_, globals_
    assert f"{dn.VAR_DEVICE_PREFIX}1001" not in globals_          # IP phones: PJSIP/<ext>
    route = "\n".join(fxs.cli(f"dialplan show operator@{dn.CTX_ROUTE}"))
    assert f"Dial(${{{dn.VAR_OPERATOR_DIAL}}}," in route, route


def test_a_scenario_routing_to_the_fxs_operator_tries_the_port_then_the_group(fxs, carrier):
    before, mark = fxs.last_call_id(), fxs.events.mark()
    call = carrier.call(ani="4968000001", dnis="301", hold=8)
    phone = call.answered_by_phone(timeout=40)["Phone"]
    call.ended()
    row = fxs.call_row("4968000001", since_id=before)
    # The operator's own device was dialled, not an IP phone named 1003 ...
    assert dials(fxs, mark, row["uniqueid"])[0] == FXS_PORT, dials(fxs, mark)
    assert not fxs.events.find(mark, Event="DialBegin", DestChannel=f"PJSIP/{FXS_EXT}")
    assert not [d for d in dials(fxs, mark) if d == f"PJSIP/{FXS_EXT}"]
    # ... and with no DAHDI here it was unavailable: the default group took the call.
    assert phone in ("1001", "1002")
    assert row["outcome"] == "answered" and row["operator"] == phone, row


def test_a_scenario_routing_to_an_ip_phone_operator_still_dials_pjsip(fxs, carrier):
    before, mark = fxs.last_call_id(), fxs.events.mark()
    call = carrier.call(ani="4968000002", dnis="302", hold=8)
    assert call.answered_by_phone(timeout=40)["Phone"] == "1002"
    call.ended()
    row = fxs.call_row("4968000002", since_id=before)
    assert dials(fxs, mark, row["uniqueid"])[0] == "PJSIP/1002"
    assert row["operator"] == "1002" and row["outcome"] == "answered", row


def test_a_client_whose_personal_operator_is_on_the_fxs_port_rings_the_port(fxs, carrier):
    configure(fxs, lambda db: clients.save(db, {"name": "Vera", "phones": "4968000003",
                                               "personal_operator": FXS_EXT}))
    before, mark = fxs.last_call_id(), fxs.events.mark()
    call = carrier.call(ani="4968000003", hold=8)          # number 100: welcome, then routing (F7)
    phone = call.answered_by_phone(timeout=40)["Phone"]
    call.ended()
    row = fxs.call_row("4968000003", since_id=before)
    assert row["route_source"] == "personal", row
    assert dials(fxs, mark, row["uniqueid"])[0] == FXS_PORT, dials(fxs, mark)
    assert phone in ("1001", "1002") and row["operator"] == phone, row


def test_the_callback_dialer_originates_the_operator_leg_on_the_fxs_port(fxs, carrier):
    with fxs.db() as conn:
        conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('dialer.operator_ring', '6')")
        now = datetime.now(timezone.utc)
        oid = conn.execute(
            "INSERT INTO callbacks (grp, number, ani, asap, slot_from, status, uniqueid, created_at) "
            "VALUES (?, '74957770901', '74957770901', 0, ?, 'new', '', ?)",
            [FXS_GROUP, (now - timedelta(seconds=5)).isoformat(timespec="seconds"),
             now.isoformat(timespec="seconds")]).lastrowid

    def first_attempt():
        with fxs.db() as conn:
            r = conn.execute("SELECT operator, result, uniqueid FROM callback_attempts WHERE callback_id = ? "
                             "ORDER BY id LIMIT 1", [oid]).fetchone()
        return dict(r) if r and r["result"] else None
    try:
        attempt = wait_for(first_attempt, 45, what="the dialer's first attempt of the order")
        # Asterisk was asked for the operator's port, and said it cannot have it.
        resp = fxs.events.wait(0, 10, Event="OriginateResponse", ActionID=attempt["uniqueid"])
        assert resp["Channel"] == FXS_PORT and resp["Response"] == "Failure", resp
        assert attempt["operator"] == FXS_EXT and attempt["result"] == "operator_unreachable", attempt
        assert not fxs.events.find(0, Event="OriginateResponse", Channel=f"PJSIP/{FXS_EXT}")
    finally:
        with fxs.db() as conn:
            conn.execute("UPDATE callbacks SET status = 'cancelled' WHERE id = ?", [oid])

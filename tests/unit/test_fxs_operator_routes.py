"""An operator on an analog FXS port (operators.device 'DAHDI/<n>') is rung
on that port wherever Korund rings one operator directly: korund-route's
``operator`` step (a scenario's route to an operator, the routing's
personal/last operator, a blind transfer) dials the port named in
[globals], the callback dialer originates the operator's leg on it; the
call history, the desktop's callback pop and the recordings index map the
port's channel back to the operator. The calls themselves:
tests/telephony/test_fxs_operator_routes.py (host) and
tests/guest/check_40_analog.py (the VM, real DAHDI)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from appliance.recordings import service as archive_service
from appliance.callbacks import store as callbacks
from devtools import dahdi_loop
from appliance.clients import desktop
from appliance.callbacks import service as dialer
from appliance.history import store as history
from appliance.operators import store as operators
from appliance.base import dialplan_names as dn
from appliance.render import dialplan
from appliance.render import config as render_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hw"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def no_board(monkeypatch):
    monkeypatch.setenv("KORUND_HW_ROOT", str(FIXTURES / "empty"))


@pytest.fixture
def fxs_db(demo_db):
    """The demo plus operator 1005 on the analog loop's FXS port DAHDI/49."""
    dahdi_loop.store(demo_db, "analog")
    operators.add_operator(demo_db, "1005", "Vera Analog", device="DAHDI/49")
    operators.add_member(demo_db, "support", "1005")
    return demo_db


def section(text: str, name: str) -> str:
    return text.split(f"[{name}]\n", 1)[1].split("\n[", 1)[0]


def test_globals_name_the_port_of_each_enabled_fxs_operator_only(fxs_db):
    globals_ = section(dialplan.render(render_config.load(fxs_db)), "globals")
    assert globals_ == f"{dn.VAR_DEVICE_PREFIX}1005 = DAHDI/49\n"     # IP phones: PJSIP/<ext>, the default
    fxs_db.execute("UPDATE operators SET enabled = 0 WHERE extension = '1005'")
    assert section(dialplan.render(render_config.load(fxs_db)), "globals") == ""   # a disabled operator is rung nowhere


def test_the_operator_step_dials_the_operators_device_not_always_pjsip(fxs_db):
    text = dialplan.render(render_config.load(fxs_db))
    route = section(text, dn.CTX_ROUTE)
    step = route.split("exten => operator,1,", 1)[1].split("exten => outside", 1)[0]
    target = f"${{FILTER(0-9,${{{dn.VAR_TARGET_OPERATOR}}})}}"
    var = dn.VAR_OPERATOR_DIAL
    assert f"Set({var}=${{{dn.VAR_DEVICE_PREFIX}{target}}})" in step
    assert f'Set({var}=${{IF($["${{{var}}}" = ""]?PJSIP/{target}:${{{var}}})}})' in step
    assert f"Dial(${{{var}}},${{IF(" in step and "Dial(PJSIP/" not in step
    # Not answered: still on to the group, as before.
    assert step.index(f"Dial(${{{var}}}") < step.index(f"Set({dn.VAR_TARGET_OPERATOR}=)") < step.index("Goto(s,1)")


class Ok:
    def get_header(self, name):
        return "Success"


class FakeAmi:
    def __init__(self):
        self.actions = []

    def send_action(self, action):
        self.actions.append(action)
        return Ok()


def test_the_dialer_originates_the_operator_leg_on_the_fxs_port(fxs_db):
    oid = callbacks.add(fxs_db, "support", "74951234567", "4950000000", "u1", T0 - timedelta(minutes=1), None)
    callbacks.add(fxs_db, "support", "74951234568", "4950000000", "u2", T0 - timedelta(minutes=1), None)
    d = dialer.Dialer(fxs_db, FakeAmi(), clock=lambda: T0, ready=lambda _db, _grp: ["1005", "1001"])
    started = d.tick()
    assert [a["operator"] for a in started] == ["1005", "1001"]
    originated = [a for a in d.mgr.actions if a["Action"] == "Originate"]
    assert [a["Channel"] for a in originated] == ["DAHDI/49", "PJSIP/1001"]
    assert f"{dn.VAR_CALLBACK_ORDER}={oid}" in originated[0]["Variable"]
    # before ringing, the port's own device state was asked (is it on another call?)
    asked = [a["Variable"] for a in d.mgr.actions if a["Action"] == "Getvar"]
    assert "DEVICE_STATE(DAHDI/49)" in asked and "DEVICE_STATE(PJSIP/1001)" in asked


def test_the_callback_leg_on_the_port_is_the_operators_in_history_and_desktop(fxs_db):
    callbacks.add(fxs_db, "support", "74951234567", "4950000000", "u1", T0 - timedelta(minutes=1), None)
    d = dialer.Dialer(fxs_db, FakeAmi(), clock=lambda: T0, ready=lambda _db, _grp: ["1005"])
    attempt = d.tick()[0]
    event = {"Event": "Newchannel", "Channel": "DAHDI/49-1", "Uniqueid": attempt["uniqueid"],
             "Linkedid": attempt["uniqueid"], "Context": dn.CTX_CALLBACK, "Timestamp": "1772442000.0"}
    history.CallHistory(fxs_db).handle(event)
    assert fxs_db.execute("SELECT operator, direction FROM calls WHERE uniqueid = ?",
                          [attempt["uniqueid"]]).fetchone() == ("1005", "outbound")
    desktop.on_event(fxs_db, event)
    assert fxs_db.execute("SELECT extension, dest_channel FROM offers WHERE uniqueid = ?",
                          [attempt["uniqueid"]]).fetchone() == ("1005", "DAHDI/49-1")


def test_a_recording_on_the_port_is_indexed_under_its_operator(fxs_db):
    assert archive_service._operator_of(fxs_db, "DAHDI/49-1") == "1005"
    assert archive_service._operator_of(fxs_db, "DAHDI/48-1") == ""          # the FXO line: nobody's
    assert archive_service._operator_of(fxs_db, "PJSIP/1002-0000001f") == "1002"

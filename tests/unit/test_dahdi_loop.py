"""The looped-span test bench (devtools/dahdi_loop.py) as generated files:
the three kinds of loop, the "test carrier" span role, the DAHDI parts of
the dialplan, MFC/R2 'ru' refused, and analog operator phones on FXS ports
as queue members. The calls themselves run in the VM (tests/guest/)."""
from __future__ import annotations

from pathlib import Path

import pytest

from devtools import dahdi_loop
from appliance.operators import store as operators
from appliance.lines import store as spans
from appliance.base import dialplan_names as dn
from appliance.base.errors import ConfigError
from appliance.lines import render as dahdi
from appliance.render import dialplan
from appliance.operators import render as queues
from appliance.render import config as render_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hw"


@pytest.fixture(autouse=True)
def no_board(monkeypatch):
    monkeypatch.setenv("KORUND_HW_ROOT", str(FIXTURES / "empty"))


def rendered(db):
    return dahdi.render(spans.load_all(db), dahdi.hardware())


def test_pri_loop_pairs_network_and_cpe_sides(db):
    loop = dahdi_loop.store(db, "pri")
    files = rendered(db)
    system, chan = files["system.conf"], files["chan_dahdi.conf"]
    assert "dynamic=loc,1:0,31,0\ndynamic=loc,1:1,31,0\n" in system
    assert "bchan=1-15\nbchan=17-31\ndchan=16\n" in system
    assert "bchan=32-46\nbchan=48-62\ndchan=47\n" in system
    assert "echocanceller" not in system          # a software loop has no echo
    assert files["modules"].splitlines()[-2:] == ["dahdi_dynamic", "dahdi_dynamic_loc"]
    carrier, trunk = chan.split("; span 2:")
    assert "signalling = pri_net" in carrier and f"context = {dn.CTX_TEST_CARRIER}" in carrier
    assert "(test carrier of a loop-back test)" in carrier
    assert "signalling = pri_cpe" in trunk and f"context = {dn.CTX_INBOUND}" in trunk
    assert "channel => 32-46,48-62" in trunk
    assert loop.carrier_dial("1;00") == "DAHDI/g1/100"
    assert loop.trunk_channels[0] == 32 and len(loop.trunk_channels) == 30


def test_r2_loop_uses_itu_and_the_carrier_hunts_downward(db):
    loop = dahdi_loop.store(db, "r2", category="national_priority_subscriber")
    files = rendered(db)
    assert "cas=1-15:1101\ncas=17-31:1101\n" in files["system.conf"]
    assert "cas=32-46:1101\ncas=48-62:1101\n" in files["system.conf"]
    assert "dchan" not in files["system.conf"]
    # A-law, as an E1 board's channels are (dahdi_dynamic's spans would be mu-law):
    # chan_dahdi takes R2 calls in A-law and sets each channel back to its span's law
    assert "alaw=1-15,17-31\n" in files["system.conf"] and "alaw=32-46,48-62\n" in files["system.conf"]
    chan = files["chan_dahdi.conf"]
    assert chan.count("signalling = mfcr2") == 2 and chan.count("mfcr2_variant = itu") == 2
    assert "mfcr2_category = national_priority_subscriber" in chan
    assert loop.carrier_dial("100") == "DAHDI/G1/100"      # glare: the appliance hunts upward


def test_analog_loop_is_fxo_line_and_fxs_port_against_their_opposites(db):
    loop = dahdi_loop.store(db, "analog")
    files = rendered(db)
    system = files["system.conf"]
    # carrier: 17 rings the appliance's line (FXO-signalled), 18 is the phone
    assert "fxsks=18\nfxoks=17\n" in system
    # appliance: 48 its FXO line (FXS-signalled), 49 its FXS operator port
    assert "fxsks=48\nfxoks=49\n" in system
    chan = files["chan_dahdi.conf"]
    carrier, trunk = chan.split("; span 2:", 1)
    assert carrier.count(f"context = {dn.CTX_TEST_CARRIER}") == 2
    assert f"context = {dn.CTX_INBOUND}" in trunk and f"context = {dn.CTX_OPERATORS}" in trunk
    assert "cidsignalling = bell" in trunk
    assert (loop.fxo_line, loop.fxs_phone, loop.telephone) == ("DAHDI/17", "DAHDI/49", "DAHDI/18")
    assert loop.carrier_dial() == "DAHDI/17"


def test_switching_kinds_replaces_the_pair_and_keeps_other_spans(db):
    spans.save(db, spans.validate({"span": 3, "name": "Real E1", "timing": "0"}), create=True)
    dahdi_loop.store(db, "pri")
    dahdi_loop.store(db, "analog")
    stored = {s.span: s for s in spans.load_all(db)}
    assert sorted(stored) == [1, 2, 3]
    assert stored[1].role == "test_carrier" and stored[2].role == "trunk"
    assert stored[2].signalling == "analog" and stored[3].signalling == "pri_cpe"
    with pytest.raises(ValueError):
        dahdi_loop.settings("ss7")


def test_span_role_is_validated_and_defaults_to_trunk():
    assert spans.validate({"span": 1, "name": "E1"}).role == "trunk"
    with pytest.raises(ConfigError) as err:
        spans.validate({"span": 1, "name": "E1", "role": "carrier-ish"})
    assert err.value.field == "role"


def test_mfcr2_russian_variant_is_refused_with_a_reason():
    with pytest.raises(ConfigError) as err:
        spans.validate({"span": 1, "name": "R2", "signalling": "mfcr2", "framing": "cas",
                        "mfcr2_variant": "ru"})
    assert err.value.field == "mfcr2_variant" and "no Russian" in err.value.message


def test_dialplan_reads_span_channel_and_category_and_has_the_carrier_context(db):
    text = dialplan.render(render_config.load(db))
    assert dn.CTX_TEST_CARRIER not in text            # no test carrier span: no test context
    dahdi_loop.store(db, "r2")
    text = dialplan.render(render_config.load(db))
    inbound = text.split(f"[{dn.CTX_ROUTE}]")[0]
    for line in (f"Set(__{dn.VAR_SPAN}=${{FILTER(0-9,${{CHANNEL(dahdi_span)}})}})",
                 f"Set(__{dn.VAR_DAHDI_CHANNEL}=${{FILTER(0-9,${{CHANNEL(dahdi_channel)}})}})",
                 f"Set(__{dn.VAR_CALLER_CATEGORY}=${{FILTER({dn.CATEGORY_ALLOWED},${{MFCR2_CATEGORY}})}})",
                 'GotoIf($["${CHANNEL(dahdi_type)}" != "mfc/r2"]?lang)'):
        assert inbound.count(line) == 3, line        # s, any number, and "more digits may follow"
    assert inbound.count('GotoIf($["${CHANNEL(channeltype)}" != "DAHDI"]?lang)') == 3
    assert inbound.count("same => n(lang),Set(CHANNEL(language)=") == 3
    # chan_dahdi keeps asking an R2 caller for DNIS digits while a pattern can match more
    assert "exten => _[0-9+*#].,1,Set(" in inbound and "exten => _[0-9+*#]!,1,Set(" in inbound
    # an MFC/R2 caller's keys are listened for, as on any line
    assert "digitdetect" not in text
    carrier = text.split(f"[{dn.CTX_TEST_CARRIER}]")[1]
    # a call from the appliance is reported with what the far end received, then answered
    assert f"exten => s,1,UserEvent({dn.EVENT_TEST_CARRIER_CALL},Dialled: " in carrier
    assert "Category: ${FILTER(A-Za-z ,${MFCR2_CATEGORY})}" in carrier and "\n same => n,Answer()" in carrier
    for pattern in ("_[0-9*#+]!", "_[0-9*#+]."):    # the "." one: more digits may follow
        assert f"exten => {pattern},1,Set({dn.VAR_TEST_DIALLED}=${{FILTER(0-9*#+,${{EXTEN}})}})" in carrier
    assert f"SendDTMF(${{FILTER(0-9*#ABCDw,${{{dn.VAR_TEST_DTMF}}})}},250)" in carrier


class FakeAmi:
    def __init__(self, outputs):
        self.outputs, self.actions = outputs, []

    def send_action(self, action):
        self.actions.append(action)
        return type("R", (), {"headers": {"Response": "Success"}})()


def test_wait_up_polls_until_both_pri_spans_are_active(db, monkeypatch):
    loop = dahdi_loop.describe(dahdi_loop.store(db, "pri") and db, "pri")
    shown = iter([["PRI span 1/0: Down, Active"], ["PRI span 1/0: Up, Active", "PRI span 2/0: Up, Active"]])
    monkeypatch.setattr(dahdi_loop.ami, "command", lambda mgr, cli: next(shown))
    said = dahdi_loop.wait_up(object(), loop, timeout=10, sleep=lambda s: None)
    assert "span 2/0: Up, Active" in said
    monkeypatch.setattr(dahdi_loop.ami, "command", lambda mgr, cli: ["PRI span 1/0: Down, Active"])
    ticks = iter(range(100))
    with pytest.raises(TimeoutError, match="pri loop did not come up"):
        dahdi_loop.wait_up(object(), loop, timeout=3, clock=lambda: next(ticks), sleep=lambda s: None)


def test_r2_is_up_when_every_channel_is_idle_both_ways(db, monkeypatch):
    loop = dahdi_loop.store(db, "r2")
    header = "Chan Link# Variant Max ANI Max DNIS ANI First Immediate Accept Tx CAS   Rx CAS"
    monkeypatch.setattr(dahdi_loop.ami, "command", lambda mgr, cli: [
        header, "   1    0 ITU     10      4        No        No               IDLE     IDLE",
        "  32    1 ITU     10      4        No        No               IDLE     BLOCK"])
    assert dahdi_loop.is_up(object(), loop)[0] is False
    monkeypatch.setattr(dahdi_loop.ami, "command", lambda mgr, cli: [
        header, "   1    0 ITU     10      4        No        No               IDLE     IDLE"])
    assert dahdi_loop.is_up(object(), loop)[0] is True
    # a circuit forced idle keeps the name "CLEAR FO" for the far end's idle bits: up;
    # one still sending a clear back is not, and the message names it
    monkeypatch.setattr(dahdi_loop.ami, "command", lambda mgr, cli: [
        header, "  31    1 ITU     10      4        No        No               IDLE     CLEAR FO",
        "  62    2 ITU     10      4        No        No               CLEAR BA CLEAR FO"])
    up, said = dahdi_loop.is_up(object(), loop)
    assert up is False and "62: CLEAR BA/CLEAR FO" in said and "31:" not in said


def test_put_in_service_runs_dahdi_cfg_on_korunds_own_files(inst, db, monkeypatch, tmp_path):
    monkeypatch.setenv("KORUND_DAHDI_ETC", str(tmp_path / "dahdi"))
    dahdi_loop.store(db, "pri")
    ran = []
    dahdi_loop.put_in_service(inst, db, None, run=lambda argv: (ran.append(argv), (0, ""))[1])
    assert ran and ran[0][-1] == str(tmp_path / "dahdi" / "system.conf")
    assert "dynamic=loc,1:1,31,0" in (tmp_path / "dahdi" / "system.conf").read_text()
    assert f"context = {dn.CTX_TEST_CARRIER}" in (inst.etc / "chan_dahdi.conf").read_text()
    assert f"[{dn.CTX_TEST_CARRIER}]" in (inst.etc / "extensions.conf").read_text()


# --- analog operator phones on FXS ports ---------------------------------------

def analog_operator(db):
    from devtools import demo
    demo.seed(db)
    dahdi_loop.store(db, "analog")
    operators.add_operator(db, "1005", "Vera Analog", device="DAHDI/49")
    operators.add_member(db, "support", "1005")
    return render_config.load(db)


def test_fxs_operator_is_a_queue_member_ringing_the_port(db):
    cfg = analog_operator(db)
    q = queues.render(cfg)
    assert "member => DAHDI/49,0,Vera Analog,DAHDI/49\n" in q.split("[support]")[1]
    assert "member => PJSIP/1001," in q                   # IP phones as before
    text = dialplan.render(cfg)
    local = text.split("[korund-operators-local]")[1]
    assert "exten => 1005,1,Dial(DAHDI/49,30" in local and "exten => 1001,1,Dial(PJSIP/1001,30" in local
    # the port's own calls (feature codes) come into the operators' context
    assert f"context = {dn.CTX_OPERATORS}" in rendered(db)["chan_dahdi.conf"].split("; span 2:", 1)[1]


@pytest.mark.parametrize("device, words", [
    ("DAHDI/48", "is not an operators' phone (FXS) port"),      # the FXO line, not a phone port
    ("DAHDI/17", "is not an operators' phone (FXS) port"),      # the test carrier's port
    ("Local/1@x", "is not an IP phone or an analog port"),
    ("DAHDI/49", "already the phone of operator 1005"),
])
def test_operator_device_must_be_a_free_fxs_port(db, device, words):
    analog_operator(db)
    with pytest.raises(ConfigError) as err:
        operators.add_operator(db, "1006", "Gleb", device=device)
    assert err.value.field == "device"
    assert words in err.value.message.format(**err.value.params)
    operators.update_operator(db, "1005", "Vera Analog", None, device="")   # back to an IP phone
    assert next(o for o in render_config.load(db).operators if o.extension == "1005").device == ""


def test_events_on_the_port_find_the_operator(db):
    from appliance.operators import states as operator_states
    from appliance.clients import desktop
    from appliance.operators import devices
    analog_operator(db)
    assert devices.extension_of(db, "DAHDI/49-1") == "1005"
    assert devices.extension_of(db, "PJSIP/1001-0000002a") == "1001"
    assert devices.extension_of(db, "DAHDI/48-1") is None
    desktop.on_event(db, {"Event": "AgentCalled", "Queue": "support", "DestChannel": "DAHDI/49-1",
                          "DestUniqueid": "77.2", "Linkedid": "77.1", "CallerIDNum": "5551234",
                          "Channel": "DAHDI/48-1"})
    assert db.execute("SELECT extension, dest_channel FROM offers WHERE uniqueid = '77.2'").fetchone() == \
        ("1005", "DAHDI/49-1")
    sent = []
    fake = type("A", (), {"send_action": lambda self, a: sent.append(a) or
                          type("R", (), {"get_header": lambda self, k: "Success"})()})()
    operator_states.login(db, fake, "1005")
    operator_states.ready(db, fake, "1001")
    assert [a["Interface"] for a in sent] == ["DAHDI/49", "PJSIP/1001"]
    assert operator_states.sync(db, fake) >= 2 and {"DAHDI/49", "PJSIP/1001"} <= {a["Interface"] for a in sent[2:]}


def test_call_history_names_the_fxs_operator_and_keeps_span_channel_category(db):
    from appliance.history.store import CallHistory
    analog_operator(db)
    h = CallHistory(db, clock=lambda: 1_800_000_000.0)
    base = {"Uniqueid": "88.1", "Linkedid": "88.1"}
    h.handle(dict(base, Event="Newchannel", Context=dn.CTX_INBOUND, Channel="DAHDI/48-1",
                  CallerIDNum="5551234", Exten="s"))
    for var, value in ((dn.VAR_SPAN, "2"), (dn.VAR_DAHDI_CHANNEL, "48"),
                       (dn.VAR_CALLER_CATEGORY, "National Subscriber")):
        h.handle(dict(base, Event="VarSet", Variable=f"__{var}", Value=value))
    h.handle(dict(base, Event="AgentConnect", Queue="support", DestChannel="DAHDI/49-1",
                  DestUniqueid="88.2", MemberName="Vera Analog", Interface="DAHDI/49"))
    row = db.execute("SELECT ani, span, dahdi_channel, caller_category, operator FROM calls "
                     "WHERE uniqueid = '88.1'").fetchone()
    assert row == ("5551234", "2", "48", "National Subscriber", "1005")


class FakeAgi:
    def __init__(self, action, variables):
        self.env = {"agi_arg_1": action, "agi_uniqueid": "99.1"}
        self.variables, self.played = variables, []

    def get_variable(self, name):
        return self.variables.get(name, "")

    def answer(self):
        pass

    def stream_file(self, name):
        self.played.append(name)


def test_feature_codes_from_the_fxs_port_act_for_its_operator(db, monkeypatch, tmp_path):
    from appliance.operators import states as operator_states
    from appliance.base import ami
    from appliance.agi import feature_codes
    from appliance.agi.registry import CallContext
    analog_operator(db)
    monkeypatch.setattr(ami, "connect", lambda *a, **k: (_ for _ in ()).throw(ami.AmiError("no AMI here")))
    ctx = CallContext(db, {}, tmp_path)
    port = {"CHANNEL(channeltype)": "DAHDI", "CHANNEL(dahdi_channel)": "49"}
    call = FakeAgi("login", port)
    feature_codes.feature_codes(call, ctx)
    assert operator_states.state(db, "1005")["state"] == "ready" and call.played == ["agent-loginok"]
    feature_codes.feature_codes(FakeAgi("logout", port), ctx)
    assert operator_states.state(db, "1005")["state"] == "logged_out"
    # a DAHDI channel that is nobody's phone (the FXO line) changes nothing
    stranger = FakeAgi("login", {"CHANNEL(channeltype)": "DAHDI", "CHANNEL(dahdi_channel)": "48"})
    feature_codes.feature_codes(stranger, ctx)
    assert stranger.played == ["agent-incorrect"] and operator_states.state(db, "1005")["state"] == "logged_out"

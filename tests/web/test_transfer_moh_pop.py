"""Without Asterisk: completing and cancelling an attended transfer (the AMI
actions sent, the session's edits, the refusals), the callback dialer's leg
popping the order's session, music on hold in the rendered configuration
and the group form, and the generated callback-offer scenario."""
from __future__ import annotations

import json

import pytest

from appliance.clients import desktop
from appliance.operators import store as operators
from appliance.prompts import moh
from appliance.callbacks import overflow_offer
from appliance.base.instance import Instance
from appliance.render import core
from appliance.scenarios import store as scenarios
from appliance.scenarios.graph import check
from tests.web.test_desktop import _db, _post, call  # noqa: F401
from tests.web.conftest import as_role
from appliance.base.errors import ConfigError
from appliance.render import config as render_config


class FakeAmi:
    def __init__(self, response="Success"):
        self.sent = []
        self.response = response

    def send_action(self, action):
        self.sent.append(action)
        value = self.response
        return type("R", (), {"get_header": lambda self, k: value if k == "Response" else "refused"})()


def test_attended_transfer_is_completed_or_cancelled(panel, call):
    db = _db(panel)
    mgr = FakeAmi()
    with pytest.raises(ConfigError):   # still ringing: nothing to complete
        desktop.finish_attended(db, mgr, call, "complete", "anna", "1001")
    desktop.on_event(db, {"Event": "DialEnd", "DestUniqueid": f"{call}-1001", "DialStatus": "ANSWER"})
    desktop.transfer(db, mgr, call, "attended", "1002", "anna", "1001")
    assert desktop.finish_attended(db, mgr, call, "cancel", "anna", "1001") == {"done": "cancel", "target": "1002"}
    assert mgr.sent[-1] == {"Action": "CancelAtxfer", "Channel": "PJSIP/1001-0000000a"}
    desktop.transfer(db, mgr, call, "attended", "1002", "anna", "1001")
    assert desktop.finish_attended(db, mgr, call, "complete", "anna", "1001")["target"] == "1002"
    assert mgr.sent[-1] == {"Action": "Hangup", "Channel": "PJSIP/1001-0000000a", "Cause": "16"}
    edits = desktop.edits(db, call)
    assert [e["what"] for e in edits] == ["consulting", "transfer cancelled", "consulting", "transferred"]
    assert edits[-1]["details"] == {"kind": "attended", "to": "operator", "target": "1002"}
    with pytest.raises(ConfigError) as err:
        desktop.finish_attended(db, mgr, call, "park", "anna", "1001")
    assert err.value.field == "action"
    with pytest.raises(ConfigError) as err:
        desktop.finish_attended(db, FakeAmi("Error"), call, "cancel", "anna", "1001")
    assert "refused" in err.value.text
    # The target's offer came from a Local channel; once the transfer is done
    # the caller's own channel is what a further transfer moves.
    desktop.on_event(db, {"Event": "DialBegin", "Channel": "Local/1002@korund-operators-local-00000000;2",
                          "Linkedid": call, "DestChannel": "PJSIP/1002-0000000b", "DestUniqueid": "b1"})
    desktop.on_event(db, {"Event": "AttendedTransfer", "Result": "Success",
                          "TransfereeChannel": "PJSIP/pstn-00000001", "TransfereeLinkedid": call})
    assert db.execute("SELECT channel FROM offers WHERE uniqueid = 'b1'").fetchone()[0] == "PJSIP/pstn-00000001"
    db.close()


def test_finishing_a_transfer_over_http_needs_the_operators_session(panel, call):
    anna = as_role(panel, "anna")
    assert _post(anna, f"/desktop/sessions/{call}/transfer/park", {}).status_code == 404
    boris = as_role(panel, "boris")   # never offered this call
    assert _post(boris, f"/desktop/sessions/{call}/transfer/complete", {}).status_code == 404
    assert as_role(panel, "super").client.post(f"/desktop/sessions/{call}/transfer/complete").status_code in (400, 403)


def test_the_dialers_operator_leg_pops_the_orders_session(panel):
    db = _db(panel)
    original = "1764130000.50"
    order = db.execute("INSERT INTO callbacks (grp, number, ani, asap, slot_from, status, uniqueid, created_at) "
                       "VALUES ('support', '79161234567', '+79161234567', 1, '2026-01-01T00:00:00+00:00', 'new', "
                       "?, '2026-01-01T00:00:00+00:00')", [original]).lastrowid
    db.execute("INSERT INTO callback_attempts (callback_id, at, operator, uniqueid) "
               "VALUES (?, '2026-01-01T00:00:00+00:00', '1001', 'cb-leg-1')", [order])
    # Other variables and channels that are no dialer leg are not offers.
    desktop.on_event(db, {"Event": "VarSet", "Channel": "PJSIP/1001-00000003", "Uniqueid": "cb-leg-1",
                          "Variable": "KORUND_GROUP", "Value": "support"})
    desktop.on_event(db, {"Event": "Newchannel", "Channel": "PJSIP/1001-00000004", "Uniqueid": "other"})
    assert desktop.last_offer_id(db, "1001") == 0
    desktop.on_event(db, {"Event": "Newchannel", "Channel": "PJSIP/1001-00000003", "Uniqueid": "cb-leg-1",
                          "Linkedid": "cb-leg-1"})
    desktop.on_event(db, {"Event": "VarSet", "Channel": "PJSIP/1001-00000003", "Uniqueid": "cb-leg-1",
                          "Variable": "KORUND_CALLBACK_ORDER", "Value": str(order)})   # the same offer
    offers = desktop.offers_after(db, "1001", 0)
    assert [(o["linkedid"], o["ani"], o["group"], o["state"]) for o in offers] == [
        (original, "79161234567", "support", "ringing")]
    s = desktop.session(db, original)
    assert s["callback"]["order"] == order and s["callback"]["number"] == "79161234567" and s["callback"]["asap"]
    desktop.on_event(db, {"Event": "Newstate", "Uniqueid": "cb-leg-1", "ChannelState": "6"})
    assert desktop.current_offer(db, "1001")["state"] == "answered"
    assert desktop.session(db, "1764130000.99") is None
    db.close()


def test_music_on_hold_is_rendered_and_chosen_per_group(panel, tmp_path):
    inst = Instance(tmp_path / "x")
    conf = moh.conf(inst)
    assert "[default]" in conf and "mode = files" in conf and f"directory = {inst.base}/moh/default" in conf
    db = _db(panel)
    files = core.render(render_config.load(db), inst)
    assert files["musiconhold.conf"] == conf
    admin = as_role(panel, "admin")
    page = admin.client.get("/groups/support").get_data(as_text=True)
    assert 'name="moh"' in page and 'value="ringing"' in page and 'value="callback:"' in page
    form = {"title": "Support", "strategy": "rrmemory", "ring_timeout": "15", "is_default": "1", "wrapup": "0",
            "max_wait": "600", "noanswer_after": "1", "members": ["1001", "1002"], "moh": "ringing"}
    assert admin.post("/groups/support", form).status_code == 302
    assert render_config.load(db).default_group.moh == "ringing"
    r = admin.post("/groups/support", {**form, "moh": "jazz"})
    assert r.status_code == 400 and "jazz" in r.get_data(as_text=True)
    assert render_config.load(db).default_group.moh == "ringing"
    from appliance.render import dialplan
    assert dialplan.queue_options(render_config.load(db).default_group) == "tr"
    operators.set_group_acd(db, "support", {"moh": "default"})
    assert dialplan.queue_options(render_config.load(db).default_group) == "t"
    db.close()


def test_the_callback_offer_scenario(panel):
    inst = panel.config["KORUND_INSTANCE"]
    graph = overflow_offer.graph("support")
    assert check(graph, lambda n: True) == []
    for name in overflow_offer.PROMPTS:   # as if spoken already (espeak-ng is in the root filesystem only)
        for lang in ("ru", "en"):
            path = inst.sounds / lang / f"{name}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"RIFF")
    db = _db(panel)
    assert overflow_offer.ensure(db, inst.sounds, "support") == "callback-support"
    assert overflow_offer.ensure(db, inst.sounds, "support") == "callback-support"   # again: a new version
    published = scenarios.published(db, "callback-support")
    assert published["nodes"]["offer"]["group"] == "support"
    assert json.loads(db.execute("SELECT draft FROM scenarios WHERE name = 'callback-support'").fetchone()[0]) == graph
    db.close()

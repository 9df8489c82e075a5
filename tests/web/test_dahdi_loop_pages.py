"""The panel's side of the loop-back test bench and analog operator phones:
the span form's Role (trunk / test carrier), and the operator form's Phone
(IP phone or an analog FXS port) with its errors, over the Flask client."""
from __future__ import annotations

import html
from pathlib import Path

import pytest

from devtools import dahdi_loop
from appliance.lines import store as spans
from appliance.base import store
from tests.web.conftest import as_role
from appliance.render import config as render_config

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hw"


@pytest.fixture
def hw_app(panel, monkeypatch):
    panel.config["KORUND_HW_ROOT"] = str(FIXTURES / "empty")
    monkeypatch.setenv("KORUND_HW_ROOT", str(FIXTURES / "empty"))
    monkeypatch.delenv("KORUND_DAHDI_ETC", raising=False)
    return panel


def with_db(app, fn):
    db = store.open_store(app.config["KORUND_INSTANCE"].db_path)
    try:
        return fn(db)
    finally:
        db.close()


def test_span_form_sets_the_test_carrier_role_and_the_list_shows_it(hw_app):
    tech = as_role(hw_app, "tech")
    page = tech.client.get("/lines/span/new").get_data(as_text=True)
    assert 'name="role"' in page and 'value="test_carrier"' in page
    raw = dict(dahdi_loop.settings("pri")[0], enabled="1", crc4="1")
    assert tech.post("/lines/span/new", raw).status_code == 302
    assert with_db(hw_app, spans.load_all)[0].role == "test_carrier"
    lines = tech.client.get("/lines/").get_data(as_text=True)
    assert 'id="span-1-role"' in lines and "test carrier" in lines
    r = tech.post("/lines/span/1", dict(raw, role="carrier"))
    assert r.status_code == 400 and 'id="error-role"' in r.get_data(as_text=True)


def test_operator_phone_is_an_ip_phone_or_a_free_fxs_port(hw_app):
    with_db(hw_app, lambda db: dahdi_loop.store(db, "analog"))
    admin = as_role(hw_app, "admin")
    page = admin.client.get("/operators/new").get_data(as_text=True)
    assert '<option value="DAHDI/49">analog port 49</option>' in page
    assert "DAHDI/17" not in page and "DAHDI/48" not in page      # the carrier's port, an FXO line
    r = admin.post("/operators/new", {"extension": "1005", "name": "Vera", "device": "DAHDI/48"})
    assert r.status_code == 400
    assert "DAHDI/48 is not an operators&#39; phone (FXS) port" in r.get_data(as_text=True) or \
        "DAHDI/48 is not an operators' phone (FXS) port" in html.unescape(r.get_data(as_text=True))
    assert admin.post("/operators/new", {"extension": "1005", "name": "Vera", "device": "DAHDI/49"}
                      ).status_code == 302
    ops = {o.extension: o for o in with_db(hw_app, lambda db: render_config.load(db).operators)}
    assert ops["1005"].device == "DAHDI/49" and ops["1001"].device == ""
    page = admin.client.get("/operators/1005").get_data(as_text=True)
    assert '<option value="DAHDI/49" selected>' in page
    api = admin.client.get("/api/v1/operators/1005").get_json()
    assert api["device"] == "DAHDI/49"
    assert admin.post("/operators/1005", {"name": "Vera", "device": "", "enabled": "1"}).status_code == 302
    assert with_db(hw_app, lambda db: render_config.load(db).operators)[-1].device == ""

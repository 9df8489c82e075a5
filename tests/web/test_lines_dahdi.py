"""The Lines page's span form grows the DAHDI settings (PRI side, numbering,
overlap; R2 category, ANI first, digit counts; CRC4/framing/coding/timing;
analog ports), shows live status through drivers/, and applies to DAHDI."""
from __future__ import annotations

import html
import stat
from pathlib import Path

import pytest

from appliance.lines import store as spans
from appliance.base import store
from tests.web.conftest import as_role

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hw"

PRI = {"span": "1", "name": "Rostelecom", "line_type": "e1", "signalling": "pri_cpe",
       "switchtype": "euroisdn", "framing": "ccs", "coding": "hdb3", "crc4": "1", "timing": "1",
       "carrier": "RT", "lbo": "0", "echocanceller": "oslec", "channels": "1-15,17-31", "dchannel": "16",
       "pri_dialplan": "national", "pri_local_dialplan": "unknown", "overlapdial": "incoming",
       "enabled": "1"}


@pytest.fixture
def hw_app(panel, monkeypatch):
    panel.config["KORUND_HW_ROOT"] = str(FIXTURES / "empty")
    monkeypatch.delenv("KORUND_DAHDI_ETC", raising=False)
    return panel


def stored(app):
    db = store.open_store(app.config["KORUND_INSTANCE"].db_path)
    try:
        return {s.span: s for s in spans.load_all(db)}
    finally:
        db.close()


def test_technician_configures_a_pri_span_with_numbering_and_overlap(hw_app):
    tech = as_role(hw_app, "tech")
    page = tech.client.get("/lines/span/new").get_data(as_text=True)
    for name in ("pri_dialplan", "overlapdial", "mfcr2_category", "mfcr2_get_ani_first", "phones",
                 "cidsignalling", "busydetect", "polarity_hangup", "carrier", "line_type"):
        assert f'name="{name}"' in page
    r = tech.post("/lines/span/new", PRI)
    assert r.status_code == 302
    s = stored(hw_app)[1]
    assert (s.signalling, s.pri_dialplan, s.overlapdial, s.carrier) == ("pri_cpe", "national", "incoming", "RT")
    files = tech.client.get("/lines/dahdi").get_data(as_text=True)
    assert "pridialplan = national" in files and "hardhdlc=16" in files


def test_r2_and_analog_settings_are_stored(hw_app):
    tech = as_role(hw_app, "tech")
    r2 = {"span": "1", "name": "City R2", "line_type": "e1", "signalling": "mfcr2", "framing": "cas",
          "coding": "hdb3", "crc4": "1", "timing": "1", "channels": "1-15,17-31", "mfcr2_variant": "ITU",
          "mfcr2_category": "national_priority_subscriber", "mfcr2_get_ani_first": "1",
          "mfcr2_max_ani": "7", "mfcr2_max_dnis": "3", "enabled": "1"}
    assert tech.post("/lines/span/new", r2).status_code == 302
    analog = {"span": "2", "name": "Analog", "line_type": "analog", "signalling": "analog",
              "channels": "1-2", "phones": "3-4", "cidsignalling": "dtmf", "cidstart": "polarity",
              "busydetect": "1", "timing": "0", "enabled": "1"}   # polarity_hangup unticked
    assert tech.post("/lines/span/new", analog).status_code == 302
    got = stored(hw_app)
    assert (got[1].mfcr2_category, got[1].mfcr2_get_ani_first, got[1].mfcr2_max_ani) == \
        ("national_priority_subscriber", True, 7)
    assert (got[2].phones, got[2].cidsignalling, got[2].busydetect, got[2].polarity_hangup) == \
        ("3-4", "dtmf", True, False)
    # The edit form shows what is stored.
    page = tech.client.get("/lines/span/2").get_data(as_text=True)
    assert 'value="3-4"' in page and '<option value="dtmf" selected>' in page


@pytest.mark.parametrize("change, field, words", [
    ({"signalling": "mfcr2"}, "framing", "MFC/R2 needs CAS framing, not CCS"),
    ({"mfcr2_variant": "ru", "signalling": "mfcr2", "framing": "cas"}, "mfcr2_variant",
     "openr2 has no Russian MFC/R2 variant"),
    ({"line_type": "t1", "framing": "esf", "coding": "b8zs", "channels": "1-23", "dchannel": "24"},
     "crc4", "CRC4 exists only on E1 lines"),
    ({"dchannel": "1", "channels": "2-15,17-31"}, "dchannel", "the PRI D channel is timeslot 16"),
    ({"channels": "1-15,17-40"}, "channels", "timeslots 1-31"),
    ({"overlapdial": "maybe"}, "overlapdial", "one of no, yes, incoming, outgoing"),
])
def test_bad_settings_are_refused_with_the_message_and_nothing_is_stored(hw_app, change, field, words):
    tech = as_role(hw_app, "tech")
    r = tech.post("/lines/span/new", PRI | change)
    assert r.status_code == 400
    page = html.unescape(r.get_data(as_text=True))
    assert f'id="error-{field}"' in page and words in page
    assert stored(hw_app) == {}


def test_two_timing_masters_of_one_carrier_are_refused(hw_app):
    tech = as_role(hw_app, "tech")
    assert tech.post("/lines/span/new", PRI).status_code == 302
    r = tech.post("/lines/span/new", PRI | {"span": "2", "name": "Second"})
    assert r.status_code == 400
    assert "spans 1 and 2 both take their timing from carrier" in html.unescape(r.get_data(as_text=True))
    assert tech.post("/lines/span/new", PRI | {"span": "2", "name": "Second", "timing": "2"}).status_code == 302


def test_fxs_settings_on_an_fxo_module_are_refused(hw_app):
    hw_app.config["KORUND_HW_ROOT"] = str(FIXTURES / "a1200_analog")
    tech = as_role(hw_app, "tech")
    r = tech.post("/lines/span/new", {"span": "1", "name": "A", "line_type": "analog",
                                      "signalling": "analog", "channels": "", "phones": "5-6",
                                      "timing": "0", "enabled": "1"})
    assert r.status_code == 400
    assert "port 5 of span 1 is an FXO module (for a line); a phone needs an FXS module" in \
        html.unescape(r.get_data(as_text=True))


def test_live_status_from_the_drivers(hw_app):
    hw_app.config["KORUND_HW_ROOT"] = str(FIXTURES / "dynamic_loc_down")
    tech = as_role(hw_app, "tech")
    assert tech.post("/lines/span/new", PRI | {"span": "2", "name": "Appliance side", "timing": "2",
                                               "dynamic": "loc,1:1,31,0"}).status_code == 302
    page = tech.client.get("/lines/").get_data(as_text=True)
    row = page.split('id="span-2"')[1].split("</tr>")[0]
    assert '<strong class="error">RED</strong>' in row      # span 2 is in red alarm in this dump
    form = tech.client.get("/lines/span/2").get_data(as_text=True)
    assert 'id="span-alarms">RED<' in form and 'id="span-in-use">0<' in form
    hw_app.config["KORUND_HW_ROOT"] = str(FIXTURES / "dynamic_loc")
    row = tech.client.get("/lines/").get_data(as_text=True).split('id="span-2"')[1].split("</tr>")[0]
    assert 'class="error"' not in row and "OK" in row


def test_roles(hw_app):
    sup = as_role(hw_app, "super")
    assert sup.client.get("/lines/").status_code == 200          # supervisors see the status
    assert sup.client.get("/lines/span/new").status_code == 403
    assert sup.client.get("/lines/dahdi").status_code == 403
    assert sup.post("/lines/span/new", PRI, token_from="/").status_code == 403
    assert sup.post("/lines/dahdi/apply", {}, token_from="/").status_code == 403
    op = as_role(hw_app, "anna")
    assert op.client.get("/lines/").status_code == 403
    admin = as_role(hw_app, "admin")
    assert admin.client.get("/lines/span/new").status_code == 200
    # CSRF: a form post without the token is refused.
    tech = as_role(hw_app, "tech")
    assert tech.client.post("/lines/span/new", data=PRI).status_code == 400
    assert stored(hw_app) == {}


def fake_dahdi_cfg(tmp_path, rc, said):
    tool = tmp_path / "fake_dahdi_cfg"
    tool.write_text(f"#!/bin/sh\necho '{said}'\nexit {rc}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return str(tool)


def test_apply_to_dahdi_writes_the_files_or_says_why_not(hw_app, tmp_path, monkeypatch):
    inst = hw_app.config["KORUND_INSTANCE"]
    tech = as_role(hw_app, "tech")
    assert 'id="dahdi-pending"' not in tech.client.get("/lines/").get_data(as_text=True)
    assert tech.post("/lines/span/new", PRI).status_code == 302
    # saved, not in service yet: the page says so until the DAHDI apply
    assert 'id="dahdi-pending"' in tech.client.get("/lines/").get_data(as_text=True)
    monkeypatch.setenv("KORUND_DAHDI_CFG", fake_dahdi_cfg(tmp_path, 0, "ok"))
    r = tech.post("/lines/dahdi/apply", {}, token_from="/lines/")
    assert r.status_code == 302
    system = inst.base / "etc" / "dahdi" / "system.conf"
    assert "span=1,1,0,ccs,hdb3,crc4" in system.read_text()
    page = tech.client.get("/lines/").get_data(as_text=True)
    assert "DAHDI configuration written" in page and 'id="dahdi-pending"' not in page
    tech.post("/lines/span/1", PRI | {"signalling": "mfcr2", "framing": "cas"})
    assert 'id="dahdi-pending"' in tech.client.get("/lines/").get_data(as_text=True)
    monkeypatch.setenv("KORUND_DAHDI_CFG", fake_dahdi_cfg(tmp_path, 1, "line 5: Unable to open master device"))
    tech.post("/lines/dahdi/apply", {}, token_from="/lines/")
    page = html.unescape(tech.client.get("/lines/").get_data(as_text=True))
    assert "DAHDI did not take the new configuration" in page
    assert "line 5: Unable to open master device" in page
    assert "hardhdlc=16" in system.read_text()              # the previous file is back
    assert 'id="dahdi-pending"' in page                      # and the change is still not in service

"""Hardware health and Diagnostics pages: roles, charts, alarms (also on the
status page), diagnostics with the tools missing, the JSON twin."""
from __future__ import annotations

import time

from datetime import datetime, timedelta, timezone

from pathlib import Path

import pytest

from appliance.health import store as health
from appliance.base import store
from drivers import sensors
from web import health as health_web

from .conftest import as_role


class Chips:
    def __init__(self, inlet):
        self.inlet = inlet

    def __call__(self, _path):
        return self

    def read_word_data(self, addr, reg):
        if addr == 0x48:
            return sensors.lm75_word(self.inlet)
        raise OSError(121, "Remote I/O error")

    def read_byte_data(self, addr, reg):
        raise OSError(121, "Remote I/O error")

    def close(self):
        pass


@pytest.fixture
def seeded(panel, tmp_path):
    inst = panel.config["KORUND_INSTANCE"]
    hw = tmp_path / "hw"
    (hw / "dev").mkdir(parents=True)
    (hw / "dev" / "i2c-0").touch()
    db = store.open_store(inst.db_path)
    store.set_setting(db, "hw.root", str(hw))
    now = datetime.now(timezone.utc)
    for i, t in enumerate((30, 34, 38, 58)):
        health.sweep(db, smbus=Chips(t),
                     spans_reader=lambda _r: [{"number": 1, "name": "E1 carrier", "alarms": ["red"]}],
                     now=now - timedelta(minutes=30 - 10 * i))
    db.close()
    return panel


def test_roles(seeded):
    assert as_role(seeded, "anna").client.get("/health/").status_code == 403
    assert as_role(seeded, "anna").client.get("/diagnostics/").status_code == 403
    assert as_role(seeded, "super").client.get("/health/").status_code == 200
    assert as_role(seeded, "super").client.get("/diagnostics/").status_code == 403
    sup = as_role(seeded, "super")
    assert sup.post("/health/refresh", {}, token_from="/health/").status_code == 403
    for who in ("tech", "admin"):
        b = as_role(seeded, who)
        assert b.client.get("/health/").status_code == 200
        assert b.client.get("/diagnostics/").status_code == 200
    assert seeded.test_client().get("/health/").status_code in (302, 401)


def test_health_page_shows_sensors_charts_and_alarm_log(seeded):
    page = as_role(seeded, "tech").client.get("/health/").get_data(as_text=True)
    assert 'data-sensor="inlet"' in page and "58 °C" in page
    assert page.count("<svg") == 1 and 'class="limit"' in page      # only the inlet has history
    assert "not present" in page                                       # the other chips
    assert 'data-source="span:1" data-kind="red"' in page and "E1 carrier: RED alarm" in page
    assert "Inlet air: 58 °C is over the critical limit" in page
    assert 'id="nav-health"' in page and 'id="to-diagnostics"' in page
    sup = as_role(seeded, "super").client.get("/health/").get_data(as_text=True)
    assert 'id="health-refresh"' not in sup and 'id="to-diagnostics"' not in sup


def test_alarms_on_the_status_page_and_in_the_api(seeded):
    page = as_role(seeded, "admin").client.get("/").get_data(as_text=True)
    assert 'id="hardware-alarms"' in page and "E1 carrier: RED alarm" in page
    data = as_role(seeded, "tech").client.get("/api/v1/health").get_json()
    assert {a["kind"] for a in data["alarms"]} == {"red", "temperature"}
    assert {s["sensor"]: s["status"] for s in data["sensors"]}["inlet"] == "critical"


def test_refresh_reads_now_and_clears(seeded):
    inst = seeded.config["KORUND_INSTANCE"]
    tech = as_role(seeded, "tech")
    assert tech.client.post("/health/refresh", data={}).status_code == 400     # no CSRF token
    r = tech.post("/health/refresh", {}, token_from="/health/")
    assert r.status_code == 302
    db = store.open_store(inst.db_path)
    # Nothing answers at 0x48 through the real smbus2 on a plain file: absent,
    # so the temperature alarm clears; the span alarm stays (no DAHDI readable
    # is not "span recovered" — the drivers report no spans at all here).
    assert {s["status"] for s in health.latest(db)} == {"absent"}
    kinds = {a["kind"] for a in health.alarms(db, active_only=True)}
    assert "temperature" not in kinds
    assert db.execute("SELECT COUNT(*) FROM audit WHERE action = 'health read'").fetchone()[0] == 1


def test_diagnostics_without_the_maintenance_module(seeded, monkeypatch):
    monkeypatch.setattr(health_web, "_maint", lambda: (None, "No module named 'drivers.maint'"))
    tech = as_role(seeded, "tech")
    page = tech.client.get("/diagnostics/").get_data(as_text=True)
    assert 'id="maint-missing"' in page
    r = tech.post("/diagnostics/", {"test": "firmware"})
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and "not available" in text
    assert "the diagnostics module (drivers.maint) is not installed" in text
    r = tech.post("/diagnostics/bundle", {}, token_from="/diagnostics/")
    assert r.status_code == 302
    assert "not installed" in tech.client.get("/diagnostics/").get_data(as_text=True)
    assert tech.post("/diagnostics/", {"test": "rm -rf"}).status_code == 400
    assert tech.post("/diagnostics/", {"test": "loopback", "span": "1", "mode": "x;y"}).status_code == 400


def test_diagnostics_say_not_available_when_dahdi_or_tools_are_missing(seeded, monkeypatch, tmp_path):
    from drivers import maint
    monkeypatch.setattr(maint, "TOOL_PATH", str(tmp_path / "no-tools"))
    tech = as_role(seeded, "tech")
    # The fixture root has no DAHDI at all.
    text = tech.post("/diagnostics/", {"test": "timing"}).get_data(as_text=True)
    assert "not available: the DAHDI kernel module is not loaded" in text
    # DAHDI loaded, dahdi-tools missing.
    inst = seeded.config["KORUND_INSTANCE"]
    db = store.open_store(inst.db_path)
    (Path(store.get_setting(db, "hw.root")) / "proc" / "dahdi").mkdir(parents=True)
    for test, tool in (("timing", "dahdi_test"), ("loopback", "dahdi_maint"), ("counters", "dahdi_maint")):
        text = tech.post("/diagnostics/", {"test": test, "span": "1"}).get_data(as_text=True)
        assert f"not available: {tool} is not installed" in text, test
        assert 'id="diag-result" data-ok="0"' in text
    text = tech.post("/diagnostics/", {"test": "loopback", "span": "zero"}).get_data(as_text=True)
    assert "Choose a span." in text
    text = tech.post("/diagnostics/", {"test": "firmware"}).get_data(as_text=True)
    assert "passed" in text and "&#34;boards&#34;: []" in text
    runs = db.execute("SELECT COUNT(*) FROM audit WHERE action = 'diagnostics run'").fetchone()[0]
    assert runs == 5


def test_diagnostics_run_the_real_tools_through_maint(seeded, monkeypatch):
    """A test's result page shows the command, its verdict and output."""
    from drivers import maint
    seen = []

    def fake_loopback(root, number, mode="localhost"):
        seen.append((number, mode))
        return maint.Result(True, True, f"span {number} passed the {mode} loopback",
                            ["dahdi_maint", "-s", str(number), "--loopback", mode], "ok\n",
                            {"alarms_while_looped": []})
    monkeypatch.setattr(maint, "loopback", fake_loopback)
    text = as_role(seeded, "tech").post("/diagnostics/", {"test": "loopback", "span": "1",
                                                         "mode": "networkline"}).get_data(as_text=True)
    assert seen == [(1, "networkline")]
    assert "span 1 passed the networkline loopback" in text and "dahdi_maint -s 1 --loopback networkline" in text


def test_support_bundle_download(seeded):
    import io
    import tarfile
    r = as_role(seeded, "tech").post("/diagnostics/bundle", {}, token_from="/diagnostics/")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    with tarfile.open(fileobj=io.BytesIO(r.data), mode="r:gz") as tar:
        names = tar.getnames()
    assert "korund-support/MANIFEST.json" in names and "korund-support/hardware/spans.json" in names


def test_storage_shows_free_space_and_what_korund_keeps(seeded, monkeypatch):
    inst = seeded.config["KORUND_INSTANCE"]
    (inst.base / "recordings" / "2026").mkdir(parents=True, exist_ok=True)
    (inst.base / "recordings" / "2026" / "a.wav").write_bytes(b"\0" * 3 * 1048576)
    from appliance.recordings import store as recordings
    db = store.open_store(inst.db_path)
    # what the archive service does with a file it finds (here one that stopped growing an hour ago)
    recordings.sweep(db, inst, set(), days=None, clock=lambda: time.time() + 3600)
    db.close()
    inst.log.mkdir(parents=True, exist_ok=True)
    (inst.log / "messages.log").write_bytes(b"x" * 1048576)
    page = as_role(seeded, "tech").client.get("/health/").get_data(as_text=True)
    assert 'id="storage" data-state="' in page
    assert '<tr data-part="recordings"><td>Call recordings</td><td>1</td><td>3.0</td></tr>' in page
    assert 'data-part="logs"' in page and 'data-part="database"' in page
    data = as_role(seeded, "super").client.get("/api/v1/health").get_json()["storage"]
    parts = {p["name"]: p for p in data["parts"]}
    assert parts["recordings"] == {"name": "recordings", "files": 1, "bytes": 3 * 1048576}
    assert parts["logs"]["bytes"] >= 1048576 and parts["database"]["bytes"] > 0
    assert 0 < data["free"] <= data["total"]
    # a nearly full disk: below the delete floor, said in the page's state and words
    from appliance.recordings import store as recordings
    monkeypatch.setattr(recordings, "free_space", lambda _p: (2 * 1073741824, 100 * 1073741824))
    page = as_role(seeded, "tech").client.get("/health/").get_data(as_text=True)
    assert 'data-state="critical"' in page and "Free: 2.0 of 100.0 GiB (2.0 %)" in page
    assert "the disk guard deletes the oldest recordings" in page

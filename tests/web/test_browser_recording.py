"""Record on demand from the operator's desktop, in a real headless Chromium
against a real appliance and carrier: with the 'demand' policy nothing is
recorded until the operator presses Record; Pause and Resume follow; the
file holds the call with the paused stretch silent, and the supervisor's
status page lists the live call with its recording state."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from appliance.base import store
from appliance.users import store as users
from tests import audio
from tests.harness import in_root, wait_for
from tests.web.browser import chromium, logged_in  # noqa: F401 (fixtures)

PASSWORD = "Operat0r-Pa55word"


@pytest.fixture(scope="module")
def site(pbx):
    appliance, _carrier = pbx
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        users.create(db, "admin", PASSWORD, "admin")
        users.create(db, "sveta", PASSWORD, "supervisor", language="en")
        op = db.execute("SELECT id FROM operators WHERE extension = '1001'").fetchone()[0]
        users.create(db, "anna", PASSWORD, "operator", language="en", operator_id=op)
        with db.atomic():
            db.execute("UPDATE recording_policies SET mode = 'demand' WHERE scope = 'default'")
            db.execute("DELETE FROM group_members WHERE operator_id != ?", [op])   # 1001 takes the call
    finally:
        db.close()
    in_root("korund", "-i", appliance.base, "apply")
    return appliance.panel_url()


def recording_rows(appliance):
    with appliance.db() as conn:
        return [dict(r) for r in conn.execute("SELECT * FROM recordings ORDER BY id")]


def test_the_operator_records_pauses_and_resumes_from_the_desktop(chromium, site, appliance, carrier):
    anna_ctx, anna = logged_in(chromium, site, "anna", PASSWORD, "/desktop")
    sveta_ctx, sveta = logged_in(chromium, site, "sveta", PASSWORD, "/")
    try:
        expect(anna.locator("#waiting")).to_be_visible()
        call = carrier.call(ani="4957770001", hold=30, tone=450)
        call.wait("SimPhoneAnswered", timeout=40, Phone="1001")
        card = anna.locator("#recording-card")
        expect(card).to_be_visible()
        expect(anna.locator("#rec-state")).to_have_text("Not recorded")
        assert recording_rows(appliance) == []
        sveta.reload()
        expect(sveta.locator("#live-calls")).to_contain_text("4957770001")
        expect(sveta.locator("#live-calls")).to_contain_text("Not recorded")

        anna.click("#rec-start")
        expect(anna.locator("#rec-state")).to_have_text("Recording")
        expect(anna.locator("#rec-start")).to_be_hidden()
        anna.wait_for_timeout(3000)   # 3 s recorded before the pause
        anna.click("#rec-pause")
        expect(anna.locator("#rec-state")).to_contain_text("paused")
        sveta.reload()
        expect(sveta.locator("#live-calls")).to_contain_text("paused")
        anna.wait_for_timeout(3000)   # 3 s paused: the silence measured below
        anna.click("#rec-resume")
        expect(anna.locator("#rec-state")).to_have_text("Recording")
        call.ended(timeout=60)
    finally:
        anna_ctx.close()
        sveta_ctx.close()
    rec = wait_for(lambda: next((r for r in recording_rows(appliance) if r["status"] != "recording"), None),
                   30, what="the recording finalised")
    assert rec["status"] == "good" and rec["mode"] == "demand" and rec["operator"] == "1001"
    assert rec["ani"] == "4957770001"
    with appliance.db() as conn:
        pause = dict(conn.execute("SELECT * FROM recording_pauses WHERE recording_id = ?", [rec["id"]]).fetchone())
        who = {r[0] for r in conn.execute("SELECT username FROM audit WHERE action LIKE 'recording %'")}
    assert who == {"anna"}
    data = audio.samples(appliance.host_base / "recordings" / rec["path"])
    start, length = audio.longest_silence(data)
    assert abs(start - pause["offset_start"]) < 1.5 and 1.5 < length < 5.5, (start, length, pause)
    assert audio.tone_seconds(data, 450, threshold=0.25) > 2

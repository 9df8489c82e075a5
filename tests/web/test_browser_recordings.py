"""The recording archive and quality review in a real headless Chromium
against a real appliance: a supervisor builds an evaluation form, filters
the archive, plays a recording (the <audio> element plays and its time
advances, fed by the Range-capable stream) and scores it beside the player;
an operator then sees only their own recording and their own score."""
from __future__ import annotations

import hashlib
import math
import re
import struct
import urllib.request

import pytest
from playwright.sync_api import expect

from appliance.recordings import store as recordings
from appliance.base import store
from appliance.users import store as users
from tests.harness import wait_for
from tests.web.browser import launch, logged_in

PASSWORD = "Superv1sor-Pa55"


def tone_wav(seconds: float, freq: float = 440) -> bytes:
    n = int(8000 * seconds)
    pcm = struct.pack(f"<{n}h", *(int(6000 * math.sin(2 * math.pi * freq * i / 8000)) for i in range(n)))
    return (b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) + b"data" + struct.pack("<I", len(pcm)) + pcm)


# (key, started_at, operator, ani, seconds)
RECORDED = [("anna1", "2026-03-02T07:00:00.000+00:00", "1001", "4951234567", 12),
            ("anna2", "2026-03-01T07:00:00.000+00:00", "1001", "4951112233", 3),
            ("boris", "2026-03-02T08:00:00.000+00:00", "1002", "4957654321", 5)]


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        # Playback is started from the test, not by a click on the native controls.
        browser = launch(p, "--autoplay-policy=no-user-gesture-required")
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(pbx):
    appliance, _carrier = pbx
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    ids = {}
    try:
        users.create(db, "admin", PASSWORD, "admin")
        users.create(db, "vera", PASSWORD, "supervisor", language="en")
        for name, ext in (("anna", "1001"), ("boris", "1002")):
            op = db.execute("SELECT id FROM operators WHERE extension = ?", [ext]).fetchone()[0]
            users.create(db, name, PASSWORD, "operator", language="en", operator_id=op)
        for key, started, op, ani, seconds in RECORDED:
            audio = tone_wav(seconds)
            rel = f"seeded/{key}-1.wav"      # not under a YYYY folder Asterisk writes into
            path = recordings.file_of(appliance.inst, {"path": rel})
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(audio)
            path.chmod(0o644)
            cur = db.execute(
                "INSERT INTO recordings (linkedid, path, started_at, ended_at, duration, size, sha256, channels, "
                "operator, grp, ani, dnis, policy, status) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, 'support', ?, '100', "
                "'default', 'good')",
                [f"1772000000.{len(ids)}", rel, started, started, float(seconds), len(audio),
                 hashlib.sha256(audio).hexdigest(), op, ani])
            ids[key] = cur.lastrowid
        db.conn.commit()
    finally:
        db.close()
    url = appliance.panel_url()
    wait_for(lambda: answers(url + "/login"), 60, what="the panel to listen")
    return url, ids


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except OSError:
        return False


def player(page) -> dict:
    return page.evaluate("(() => { const a = document.getElementById('player'); "
                         "return {time: a.currentTime, paused: a.paused, duration: a.duration}; })()")


def test_a_supervisor_scores_while_listening_and_the_operator_sees_only_their_own(chromium, site, appliance):
    url, ids = site
    ctx, page = logged_in(chromium, url, "vera", PASSWORD)
    try:
        # An evaluation form with two weighted criteria.
        page.click("#nav-quality")
        page.click("#add-form")
        page.fill("#f-name", "Standard call")
        page.fill("#crit-name-1", "Greeting")
        page.fill("#crit-weight-1", "3")
        page.fill("#crit-max_points-1", "5")
        page.fill("#crit-description-1", "Company and own name")
        page.fill("#crit-name-2", "Solution")
        page.fill("#crit-weight-2", "1")
        page.fill("#crit-max_points-2", "10")
        page.click("#save-form")
        expect(page.locator("#form-list")).to_contain_text("Greeting, Solution")

        # Filter the archive: by caller number, then by operator.
        page.click("#nav-recordings")
        expect(page.locator("#recording-list tr[id^=recording-]")).to_have_count(3)
        page.fill("#f-ani", "1234")
        page.click("#filter")
        expect(page.locator("#recording-list tr[id^=recording-]")).to_have_count(1)
        page.fill("#f-ani", "")
        page.select_option("#f-operator", "1001")
        page.click("#filter")
        rows = page.locator("#recording-list tr[id^=recording-]")
        expect(rows).to_have_count(2)
        expect(rows.first).to_have_id(f"recording-{ids['anna1']}")     # newest first
        page.click(f"#recording-{ids['anna1']} a >> nth=0")

        # Play it: the element starts playing and its time moves on.
        expect(page.locator("h1")).to_contain_text("4951234567")
        page.evaluate("document.getElementById('player').play()")
        wait_for(lambda: player(page)["time"] > 1.0 and not player(page)["paused"], 20, what="playback")
        # Seek (a Range request) and keep playing from there.
        page.evaluate("document.getElementById('player').currentTime = 8")
        wait_for(lambda: player(page)["time"] > 8.5, 20, what="playback after seeking")
        assert player(page)["duration"] == pytest.approx(12, abs=0.2)

        # Score beside the player, listening from the start again: 100 * (3 * 4/5 + 1 * 5/10) / 4 = 72.5.
        page.evaluate("document.getElementById('player').currentTime = 0.5")
        page.fill("input[name^=points_] >> nth=0", "4")
        page.fill("input[name^=comment_] >> nth=0", "Forgot the company name")
        page.fill("input[name^=points_] >> nth=1", "5")
        page.fill("#f-comment", "Solved, but slowly")
        before = player(page)["time"]
        page.click("#save-score")
        expect(page.locator(".flash").first).to_contain_text("72.5")
        expect(page.locator(".score-entry .total")).to_have_text("72.5")
        # Saved in place: the player went on playing meanwhile.
        wait_for(lambda: player(page)["time"] > before + 0.5 and not player(page)["paused"], 10,
                 what="the player to go on while scoring")
        assert page.evaluate("document.querySelectorAll('#player').length") == 1
        page.click("#nav-quality")
        expect(page.locator("#no-operator-scores")).to_be_visible()     # the last 30 days: none
        page.fill("#f-start", "2026-03-01")
        page.fill("#f-end", "2026-03-31")
        page.click("#show")
        expect(page.locator('#by-operator tr[data-key="1001"] .avg')).to_have_text("72.5")
    finally:
        ctx.close()
    with appliance.db() as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit WHERE username = 'vera' ORDER BY id")]
    assert "recording played" in actions and "recording scored" in actions

    ctx, page = logged_in(chromium, url, "anna", PASSWORD)
    try:
        page.click("#nav-recordings")
        rows = page.locator("#recording-list tr[id^=recording-]")
        expect(rows).to_have_count(2)
        expect(page.locator("#recording-list")).not_to_contain_text("4957654321")
        expect(page.locator("#f-operator")).to_have_count(0)
        page.click("#nav-my-scores")
        entry = page.locator(".score-entry")
        expect(entry).to_have_count(1)
        expect(entry).to_contain_text("Forgot the company name")
        expect(entry).to_contain_text("Solved, but slowly")
        expect(entry.locator(".total")).to_have_text("72.5")
        response = page.goto(url + f"/recordings/{ids['boris']}")
        assert response.status == 404
        response = page.goto(url + f"/recordings/{ids['boris']}/audio")
        assert response.status == 404
        page.goto(url + f"/recordings/{ids['anna1']}")
        expect(page.locator("#player")).to_be_attached()
        page.evaluate("document.getElementById('player').play()")
        wait_for(lambda: player(page)["time"] > 0.5, 20, what="the operator's playback")
        assert re.search(r"72\.5", page.locator("#scoring").inner_text())
    finally:
        ctx.close()


def test_a_real_recorded_call_shows_up_in_the_archive_and_plays(chromium, site, appliance, carrier):
    """The capture side records a real call (default policy: all calls); the
    operator who answered finds it in the archive and hears it."""
    url, _ids = site
    call = carrier.call(ani="4953332211", hold=15, tone=450)
    phone = call.answered_by_phone()["Phone"]
    call.ended()

    def recorded():
        with appliance.db() as conn:
            row = conn.execute("SELECT * FROM recordings WHERE ani = ? AND status != 'recording'",
                               ["4953332211"]).fetchone()
        return dict(row) if row else None
    rec = wait_for(recorded, 60, what="the call's recording indexed")
    assert rec["status"] == "good" and rec["operator"] == phone and rec["duration"] > 2, rec
    ctx, page = logged_in(chromium, url, {"1001": "anna", "1002": "boris"}[phone], PASSWORD)
    try:
        page.click("#nav-recordings")
        page.fill("#f-ani", "3332211")
        page.click("#filter")
        row = page.locator(f"#recording-{rec['id']}")
        expect(row).to_contain_text("4953332211")
        row.locator("a").first.click()
        expect(page.locator("#player")).to_be_attached()
        page.evaluate("document.getElementById('player').play()")
        wait_for(lambda: player(page)["time"] > 1.0, 20, what="the recorded call playing")
        assert player(page)["duration"] == pytest.approx(rec["duration"], abs=1.0)
    finally:
        ctx.close()

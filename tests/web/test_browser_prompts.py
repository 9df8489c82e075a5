"""The prompt library in a real headless Chromium against a real appliance:
speak a Russian prompt, upload an English WAV, listen to both through the
page's players, see a bad upload refused; a real call plays the prompt made
in the panel; deleting it is refused while a scenario uses it."""
from __future__ import annotations

import re
import wave

import pytest
from playwright.sync_api import expect

from appliance.base import store
from appliance.scenarios import store as scenarios
from tests import audio
from tests.unit.test_prompt_library import wav_bytes
from tests.web.browser import ADMIN_PASSWORD, chromium, login, page, site  # noqa: F401 (fixtures)


TEXT = "Добрый день! Это проверка библиотеки голосовых фраз."


@pytest.fixture(scope="module")
def admin(pbx):
    appliance, _ = pbx
    appliance.add_user("admin", "admin", ADMIN_PASSWORD)
    return appliance


def player_loads(page, element_id: str) -> dict:
    """Let the <audio> element fetch and decode its source; what it found."""
    return page.evaluate("""async (id) => {
        const el = document.getElementById(id);
        const r = await fetch(el.currentSrc || el.src);
        const ready = new Promise((ok, bad) => {
            el.addEventListener('loadedmetadata', () => ok(el.duration));
            el.addEventListener('error', () => bad(new Error('media error ' + (el.error && el.error.code))));
        });
        el.preload = 'auto';
        el.load();
        return {status: r.status, type: r.headers.get('content-type'), duration: await ready};
    }""", element_id)


def test_speak_russian_upload_english_and_listen(page, site, admin, tmp_path):
    login(page, site)
    page.click("#nav-prompts")
    expect(page).to_have_url(re.compile(r"/prompts$"))
    page.fill("#say-name", "greeting")
    page.select_option("#say-language", "ru")
    page.fill("#say-text", TEXT)
    page.click("#say")
    expect(page.locator("[role=status]")).to_contain_text("greeting (ru)")
    expect(page.locator("#variant-greeting-en")).to_contain_text("en: звучит вариант ru")
    heard = player_loads(page, "play-greeting-ru")
    assert heard["status"] == 200 and heard["type"] == "audio/wav" and 2 < heard["duration"] < 10
    # A file that is not audio is refused, and the form says why.
    junk = tmp_path / "greeting.wav"
    junk.write_bytes(b"<html>definitely not a recording</html>" * 40)
    page.fill("#upload-name", "greeting")
    page.select_option("#upload-language", "en")
    page.set_input_files("#upload-file", str(junk))
    page.click("#upload")
    expect(page.locator("#upload-error-file")).to_contain_text("не удалось декодировать")
    expect(page.locator("#variant-greeting-en")).to_contain_text("звучит вариант ru")
    # A real English recording (44.1 kHz stereo) becomes the English variant.
    good = tmp_path / "hello-en.wav"
    good.write_bytes(wav_bytes(1.5, rate=44100, channels=2, freq=700))
    page.fill("#upload-name", "greeting")
    page.select_option("#upload-language", "en")
    page.set_input_files("#upload-file", str(good))
    page.click("#upload")
    expect(page.locator("#variant-greeting-en")).to_contain_text("hello-en.wav")
    heard = player_loads(page, "play-greeting-en")
    assert heard["status"] == 200 and heard["type"] == "audio/wav" and abs(heard["duration"] - 1.5) < 0.1
    wav = admin.host_base / "sounds" / "en" / "greeting.wav"
    with wave.open(str(wav), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)


def test_a_call_plays_the_prompt_made_in_the_panel(admin, carrier):
    graph = {"start": "hello", "nodes": {
        "hello": {"type": "play", "prompts": ["greeting"], "next": {"next": "ops"}},
        "ops": {"type": "route", "to": "group", "group": "support"}}}
    db = store.open_store(admin.host_base / "korund.db", migrate=False)
    try:
        scenarios.create(db, "greet", "Greet", graph)
        scenarios.publish(db, "greet", "test",
                          prompt_exists=lambda n: (admin.host_base / "sounds" / "ru" / f"{n}.wav").exists())
        scenarios.bind(db, "100", scenario="greet")
    finally:
        db.close()
    call = carrier.call(ani="4951237777", hold=12)
    call.answered_by_phone(timeout=40)
    call.ended()
    heard = audio.samples(call.recording())
    prompt = audio.samples(admin.host_base / "sounds" / "ru" / "greeting.wav")
    match, _offset = audio.find_prompt(heard, prompt)
    assert match > 0.9, f"the panel's prompt was not heard (envelope correlation {match:.2f})"


def test_delete_is_refused_while_a_scenario_plays_it(page, site, admin):
    login(page, site)
    page.goto(site + "/prompts")
    expect(page.locator("#prompt-greeting")).to_contain_text("greet")
    page.click("#delete-greeting")
    expect(page.locator(".flash.error")).to_contain_text("greet")
    assert (admin.host_base / "sounds" / "ru" / "greeting.wav").exists()
    # The English variant may go: the Russian one remains to fall back to.
    page.click("#delete-greeting-en")
    expect(page.locator("#variant-greeting-en")).to_contain_text("en: звучит вариант ru")
    db = store.open_store(admin.host_base / "korund.db", migrate=False)
    try:
        db.execute("DELETE FROM scenarios WHERE name = 'greet'")
    finally:
        db.close()
    page.reload()
    page.click("#delete-greeting")
    expect(page.locator("#prompt-list")).not_to_contain_text("greeting")
    assert not (admin.host_base / "sounds" / "ru" / "greeting.wav").exists()

"""The Prompts page and GET /api/v1/prompts with Flask's test client: roles,
CSRF, uploads and spoken texts, bad uploads refused with nothing lost, the
player's WAV route, deletion guarded by the scenarios that use a prompt."""
from __future__ import annotations

import io
import wave

import pytest

from appliance.scenarios import store as scenarios
from tests.unit.test_prompt_library import FAKE, wav_bytes
from tests.web.conftest import Browser, as_role


@pytest.fixture
def app(panel):
    panel.config["KORUND_PROMPT_TOOLS"] = FAKE
    return panel


@pytest.fixture
def sounds(app):
    return app.config["KORUND_INSTANCE"].sounds


def say(b: Browser, name="menu", language="ru", text="Нажмите один", **extra):
    return b.post("/prompts/say", {"name": name, "language": language, "text": text, **extra},
                  token_from="/prompts")


def upload(b: Browser, data: bytes, filename="menu.wav", name="menu", language="en", **extra):
    return b.post("/prompts/upload", {"name": name, "language": language,
                                      "file": (io.BytesIO(data), filename), **extra}, token_from="/prompts")


def listing(b: Browser) -> dict:
    return {p["name"]: p for p in b.client.get("/api/v1/prompts").get_json()}


@pytest.mark.parametrize("login, allowed", [("admin", True), ("super", True), ("tech", False), ("anna", False)])
def test_only_admins_and_supervisors_see_the_library(app, sounds, login, allowed):
    admin = as_role(app, "admin")
    assert say(admin).status_code == 302
    b = admin if login == "admin" else as_role(app, login)
    for path in ("/prompts", "/api/v1/prompts", "/prompts/menu/ru.wav"):
        assert b.client.get(path).status_code == (200 if allowed else 403), path
    if not allowed:
        assert "Prompts" not in b.client.get("/profile").get_data(as_text=True)
        assert say(b, name="other", token_from="/profile").status_code == 403
        r = b.client.post("/prompts/menu/delete", data={"csrf_token": b.token("/profile")})
        assert r.status_code == 403 and (sounds / "ru" / "menu.wav").exists()


def test_anonymous_visitors_are_sent_to_login(app):
    c = app.test_client()
    assert c.get("/prompts").headers["Location"].startswith("/login")
    assert c.get("/prompts/menu/ru.wav").headers["Location"].startswith("/login")
    assert c.get("/api/v1/prompts").status_code == 401


def test_speak_a_text_then_upload_english_and_listen(app, sounds):
    b = as_role(app, "super")
    r = say(b)
    assert r.status_code == 302
    page = b.client.get("/prompts").get_data(as_text=True)
    assert "The prompt menu (ru) is saved." in page
    assert 'id="play-menu-ru"' in page and "/prompts/menu/ru.wav" in page
    assert "en: falls back to ru" in page
    assert upload(b, wav_bytes(1.0, rate=44100, channels=2)).status_code == 302
    page = b.client.get("/prompts").get_data(as_text=True)
    assert 'id="play-menu-en"' in page and "falls back" not in page
    r = b.client.get("/prompts/menu/en.wav")
    assert r.status_code == 200 and r.mimetype == "audio/wav"
    with wave.open(io.BytesIO(r.data), "rb") as w:
        assert (w.getframerate(), w.getnchannels()) == (8000, 1)
    p = listing(b)["menu"]
    assert p["languages"] == ["ru", "en"] and p["source"] == "mixed" and p["text"] == "Нажмите один"
    assert [v["source"] for v in p["variants"]] == ["tts", "upload"]
    db = app.config["KORUND_INSTANCE"].open_store()
    assert [r[0] for r in db.execute("SELECT action FROM audit WHERE target = 'menu' ORDER BY id")] == \
        ["prompt spoken", "prompt uploaded"]
    assert b.client.get("/prompts/menu/de.wav").status_code == 404
    assert b.client.get("/prompts/ghost/ru.wav").status_code == 404


@pytest.mark.parametrize("data, filename, message", [
    (b"<html>not audio</html>" * 20, "menu.wav", "could not be decoded as WAV audio"),
    (b"", "menu.wav", "the file is empty"),
    (b"", "", "choose a WAV, MP3 or OGG file"),
    (wav_bytes(), "menu.txt", "only WAV, MP3 or OGG files"),
])
def test_a_bad_upload_is_refused_and_nothing_is_lost(app, sounds, data, filename, message):
    b = as_role(app, "admin")
    assert upload(b, wav_bytes(0.6)).status_code == 302
    before = (sounds / "en" / "menu.wav").read_bytes()
    r = upload(b, data, filename)
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and message in page
    assert 'id="upload-error-file"' in page and 'value="menu"' in page     # the form keeps what was typed
    assert (sounds / "en" / "menu.wav").read_bytes() == before
    assert sorted(p.name for p in (sounds / "en").iterdir()) == ["menu.wav"]
    assert listing(b)["menu"]["variants"][0]["source"] == "upload"


def test_bad_names_and_texts_are_explained(app, sounds):
    b = as_role(app, "admin")
    r = say(b, name="../../etc/passwd")
    assert r.status_code == 400 and 'id="say-error-name"' in r.get_data(as_text=True)
    r = say(b, text="   ")
    assert r.status_code == 400 and "type the text to speak" in r.get_data(as_text=True)
    r = say(b, language="xx")
    assert r.status_code == 400 and 'id="say-error-language"' in r.get_data(as_text=True)
    r = upload(b, wav_bytes(), name="Bad Name")
    assert r.status_code == 400 and 'id="upload-error-name"' in r.get_data(as_text=True)
    assert not any(sounds.rglob("*.wav")) and listing(b) == {}


def test_a_too_large_upload_gets_the_limit(app, sounds):
    b = as_role(app, "admin")
    r = upload(b, b"\0" * (3 * 1024 * 1024))
    assert r.status_code == 413 and "too large" in r.get_data(as_text=True)
    assert listing(b) == {}


def test_forms_without_the_csrf_token_are_refused(app, sounds):
    b = as_role(app, "admin")
    assert say(b).status_code == 302
    assert b.client.post("/prompts/say", data={"name": "x", "language": "ru", "text": "Да"}).status_code == 400
    assert say(b, name="y", csrf_token="forged").status_code == 400
    assert b.client.post("/prompts/menu/delete").status_code == 400
    assert b.client.post("/prompts/upload", data={"name": "z", "language": "ru",
                                                  "file": (io.BytesIO(wav_bytes()), "z.wav")}).status_code == 400
    assert set(listing(b)) == {"menu"} and (sounds / "ru" / "menu.wav").exists()


def test_delete_is_refused_while_a_scenario_plays_the_prompt(app, sounds):
    b = as_role(app, "admin")
    say(b)
    say(b, language="en", text="Press one")
    db = app.config["KORUND_INSTANCE"].open_store()
    scenarios.create(db, "main", "Main", {"start": "p", "nodes": {
        "p": {"type": "play", "prompts": ["menu"], "next": {"next": "r"}},
        "r": {"type": "route", "to": "group", "group": "support"}}})
    assert listing(b)["menu"]["used_by"] == ["main"]
    r = b.post("/prompts/menu/delete", {}, token_from="/prompts")
    page = b.client.get(r.headers["Location"]).get_data(as_text=True)
    assert "is used by the scenarios: main" in page
    assert (sounds / "ru" / "menu.wav").exists() and (sounds / "en" / "menu.wav").exists()
    # One language may go while the other remains to fall back to.
    b.post("/prompts/menu/delete", {"language": "en"}, token_from="/prompts")
    assert listing(b)["menu"]["languages"] == ["ru"] and not (sounds / "en" / "menu.wav").exists()
    scenarios.save_draft(db, "main", {"start": "r", "nodes": {
        "r": {"type": "route", "to": "group", "group": "support"}}})
    r = b.post("/prompts/menu/delete", {}, token_from="/prompts")
    assert "Deleted: menu (ru)." in b.client.get(r.headers["Location"]).get_data(as_text=True)
    assert listing(b) == {} and not any(sounds.rglob("*.wav"))


def test_russian_page_and_errors(app, sounds):
    db = app.config["KORUND_INSTANCE"].open_store()
    db.execute("UPDATE users SET language = 'ru' WHERE username = 'admin'")
    b = as_role(app, "admin")
    page = b.client.get("/prompts").get_data(as_text=True)
    assert "Озвучить текст" in page and "Загрузить запись" in page
    r = upload(b, b"garbage" * 50)
    assert r.status_code == 400 and "не удалось декодировать" in r.get_data(as_text=True)

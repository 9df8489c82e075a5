"""The prompt library: names, uploads, spoken texts, fallback, deletion
guarded by the scenarios that use a prompt. The logic runs with pure-Python
stand-ins for sox and espeak-ng; the last tests drive the real tools through
``korund prompt`` inside the appliance root filesystem."""
from __future__ import annotations

import io
import math
import wave
from array import array
from pathlib import Path

import pytest

from appliance.prompts import store as lib
from appliance.prompts import builtin as prompts
from appliance.base.errors import ConfigError
from appliance.scenarios import store as scenarios


def wav_bytes(seconds: float = 0.5, rate: int = 16000, channels: int = 1, freq: float = 440) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = array("h")
        for i in range(int(seconds * rate)):
            v = int(8000 * math.sin(2 * math.pi * freq * i / rate))
            frames.extend([v] * channels)
        w.writeframes(frames.tobytes())
    return buf.getvalue()


def fake_convert(source: Path, kind: str, target: Path) -> None:
    """sox's job for WAV input, in Python: 8 kHz mono 16-bit (refuses the rest)."""
    if kind != "wav":
        raise lib.AudioError(f"no {kind} decoder here")
    try:
        with wave.open(str(source), "rb") as w:
            rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
            data = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise lib.AudioError(str(exc)) from None
    if width != 2:
        raise lib.AudioError("16-bit only")
    samples = array("h", data)[::channels]
    step = rate / 8000
    out = array("h", (samples[int(i * step)] for i in range(int(len(samples) / step))))
    with wave.open(str(target), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(out.tobytes())


def fake_speak(text: str, language: str, target: Path) -> None:
    if "FAIL" in text:
        raise lib.AudioError("voice missing")
    target.write_bytes(wav_bytes(0.05 * len(text), rate=22050, freq=300 if language == "ru" else 600))


FAKE = lib.Tools(fake_convert, fake_speak)


def files_in(sounds: Path) -> list[str]:
    return sorted(str(p.relative_to(sounds)) for p in sounds.rglob("*") if p.is_file())


@pytest.mark.parametrize("name", ["welcome-2", "t_main", "a", "0menu", "x" * 48])
def test_good_names(name):
    assert lib.check_name(f" {name} ") == name


@pytest.mark.parametrize("name", ["", "../etc/passwd", "a/b", "Menu", ".hidden", "-x", "a b", "x" * 49,
                                  "ru/../../x", "имя", None, 5])
def test_names_that_could_escape_or_confuse_are_refused(name):
    with pytest.raises(ConfigError) as err:
        lib.check_name(name)
    assert err.value.field == "name"


def test_an_upload_is_converted_to_8khz_mono_and_recorded(db, inst):
    p = lib.add_file(db, inst.sounds, "hello", "en", wav_bytes(1.0, rate=44100, channels=2),
                     "Hello.WAV", "admin", FAKE)
    with wave.open(str(inst.sounds / "en" / "hello.wav"), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
    assert p["languages"] == ["en"] and p["source"] == "upload"
    assert p["fallback"] == {"ru": "en"}
    v = p["variants"][0]
    assert v["original"] == "Hello.WAV" and v["created_by"] == "admin" and 0.9 < v["duration"] < 1.1
    # The contract the AGI side and the scenario checks rely on.
    assert prompts.exists(inst.sounds, "hello")
    assert prompts.library_path(inst.sounds, "ru", "hello") == inst.sounds / "en" / "hello"
    assert files_in(inst.sounds) == ["en/hello.wav"]


def test_a_spoken_prompt_keeps_its_text_and_languages_are_variants(db, inst):
    lib.say(db, inst.sounds, "menu", "ru", "  Нажмите   один  ", "super", FAKE)
    p = lib.add_file(db, inst.sounds, "menu", "en", wav_bytes(), "menu.wav", "admin", FAKE)
    assert p["languages"] == ["ru", "en"] and p["source"] == "mixed" and p["fallback"] == {}
    assert p["text"] == "Нажмите один"
    assert [(v["language"], v["source"]) for v in p["variants"]] == [("ru", "tts"), ("en", "upload")]
    assert prompts.library_path(inst.sounds, "en", "menu") == inst.sounds / "en" / "menu"


@pytest.mark.parametrize("data, filename, message", [
    (b"this is not audio at all" * 10, "menu.wav", "could not be decoded as WAV audio"),
    (wav_bytes()[:30], "menu.wav", "could not be decoded"),
    (b"", "menu.wav", "the file is empty"),
    (wav_bytes(), "menu.exe", "only WAV, MP3 or OGG"),
    (wav_bytes(), "", "only WAV, MP3 or OGG"),
    (b"\0" * (lib.MAX_BYTES + 1), "menu.wav", "larger than"),
])
def test_a_bad_upload_is_refused_and_the_old_variant_survives(db, inst, data, filename, message):
    lib.add_file(db, inst.sounds, "menu", "ru", wav_bytes(0.7), "first.wav", "admin", FAKE)
    before = (inst.sounds / "ru" / "menu.wav").read_bytes()
    with pytest.raises(ConfigError) as err:
        lib.add_file(db, inst.sounds, "menu", "ru", data, filename, "admin", FAKE)
    assert err.value.field == "file" and message in err.value.text
    assert (inst.sounds / "ru" / "menu.wav").read_bytes() == before
    assert files_in(inst.sounds) == ["ru/menu.wav"]     # no temporary file left behind
    assert db.execute("SELECT original FROM prompts").fetchall() == [("first.wav",)]


def test_too_long_and_silent_recordings_are_refused(db, inst, monkeypatch):
    monkeypatch.setattr(lib, "MAX_SECONDS", 2)
    with pytest.raises(ConfigError, match="the limit is 2 s"):
        lib.add_file(db, inst.sounds, "long", "ru", wav_bytes(3), "long.wav", "admin", FAKE)
    with pytest.raises(ConfigError, match="empty"):
        lib.add_file(db, inst.sounds, "short", "ru", wav_bytes(0.01), "short.wav", "admin", FAKE)
    assert files_in(inst.sounds) == [] and lib.all_prompts(db, inst.sounds) == []


def test_bad_texts_and_a_failing_synthesizer_leave_nothing(db, inst):
    for text, field in (("", "text"), ("   ", "text"), ("x" * 1001, "text"), (None, "text"),
                        ("FAIL please", "text")):
        with pytest.raises(ConfigError) as err:
            lib.say(db, inst.sounds, "menu", "ru", text, "admin", FAKE)
        assert err.value.field == field
    with pytest.raises(ConfigError) as err:
        lib.say(db, inst.sounds, "menu", "de", "Hallo", "admin", FAKE)
    assert err.value.field == "language"
    assert files_in(inst.sounds) == [] and db.execute("SELECT COUNT(*) FROM prompts").fetchone()[0] == 0


def test_missing_tools_are_named_not_mistaken_for_bad_audio(db, inst, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))      # neither sox nor espeak-ng here
    with pytest.raises(ConfigError, match="sox is not installed"):
        lib.add_file(db, inst.sounds, "menu", "ru", wav_bytes(), "menu.wav", "admin")
    with pytest.raises(ConfigError, match="espeak-ng is not installed"):
        lib.say(db, inst.sounds, "menu", "ru", "Меню", "admin")
    assert files_in(inst.sounds) == []


def test_built_in_prompts_are_listed_but_not_replaced_or_deleted(db, inst):
    (inst.sounds / "ru").mkdir(parents=True)
    (inst.sounds / "ru" / "welcome.wav").write_bytes(wav_bytes())
    (inst.sounds / "ru" / "t-tone.wav").write_bytes(wav_bytes(1.0, rate=8000))
    listed = {p["name"]: p for p in lib.all_prompts(db, inst.sounds)}
    assert listed["welcome"]["source"] == "built-in"
    assert listed["welcome"]["text"] == prompts.PROMPTS["welcome"]["ru"]
    assert listed["t-tone"]["source"] == "file" and listed["t-tone"]["variants"][0]["duration"] == 1.0
    with pytest.raises(ConfigError, match="built-in"):
        lib.say(db, inst.sounds, "welcome", "en", "Hi", "admin", FAKE)
    with pytest.raises(ConfigError, match="built-in"):
        lib.delete(db, inst.sounds, "welcome")
    assert (inst.sounds / "ru" / "welcome.wav").exists()


def test_prompts_in_a_graph():
    graph = {"start": "m", "nodes": {
        "m": {"type": "menu", "prompts": ["a", "b"], "invalid_prompts": "c", "timeout_prompts": ["d"]},
        "p": {"type": "play", "prompts": "e"},
        "x": {"type": "message", "prompt": "f", "confirm_prompts": ["g"]},
        "r": {"type": "route", "to": "group", "group": "support"},
        "bad": "not a node"}}
    assert lib.prompts_in(graph) == set("abcdefg")
    assert lib.prompts_in({"nodes": []}) == set() and lib.prompts_in(None) == set()


def graph_playing(name: str) -> dict:
    return {"start": "p", "nodes": {
        "p": {"type": "play", "prompts": [name], "next": {"next": "r"}},
        "r": {"type": "route", "to": "group", "group": "support"}}}


def test_deleting_a_prompt_a_scenario_uses_is_refused_naming_the_scenarios(demo_db, inst):
    db = demo_db
    lib.say(db, inst.sounds, "night", "ru", "Мы закрыты", "admin", FAKE)
    lib.say(db, inst.sounds, "night", "en", "We are closed", "admin", FAKE)
    scenarios.create(db, "evening", "Evening", graph_playing("night"))
    scenarios.publish(db, "evening", "admin")
    scenarios.save_draft(db, "evening", graph_playing("other"))      # only the published one uses it now
    scenarios.create(db, "weekend", "Weekend", graph_playing("night"))  # a draft uses it
    assert lib.usage_by_prompt(db)["night"] == ["evening", "weekend"]
    # One language may go: the other still plays (the fallback).
    assert lib.delete(db, inst.sounds, "night", "en") == ["en"]
    assert lib.get(db, inst.sounds, "night")["fallback"] == {"en": "ru"}
    with pytest.raises(ConfigError) as err:
        lib.delete(db, inst.sounds, "night")
    assert "evening, weekend" in err.value.text
    assert (inst.sounds / "ru" / "night.wav").exists()
    scenarios.save_draft(db, "weekend", graph_playing("other"))
    scenarios.publish(db, "evening", "admin", prompt_exists=lambda n: True)
    assert lib.delete(db, inst.sounds, "night") == ["ru"]
    assert files_in(inst.sounds) == [] and db.execute("SELECT COUNT(*) FROM prompts").fetchone()[0] == 0


def test_deleting_what_is_not_there(db, inst):
    with pytest.raises(ConfigError, match="no prompt 'ghost'"):
        lib.delete(db, inst.sounds, "ghost")
    lib.say(db, inst.sounds, "menu", "ru", "Меню", "admin", FAKE)
    with pytest.raises(ConfigError, match="no en variant"):
        lib.delete(db, inst.sounds, "menu", "en")
    with pytest.raises(ConfigError):
        lib.delete(db, inst.sounds, "../menu")


def test_wav_file_serves_only_exact_existing_variants(db, inst):
    lib.say(db, inst.sounds, "menu", "ru", "Меню", "admin", FAKE)
    assert lib.wav_file(inst.sounds, "menu", "ru") == inst.sounds / "ru" / "menu.wav"
    assert lib.wav_file(inst.sounds, "menu", "en") is None
    assert lib.wav_file(inst.sounds, "..", "ru") is None
    assert lib.wav_file(inst.sounds, "menu", "../ru") is None


def test_the_cli_lists_and_refuses_clearly(inst, db, tmp_path, capsys):
    from korund import cli
    lib.say(db, inst.sounds, "menu", "ru", "Меню", "admin", FAKE)
    base = ["-i", str(inst.base), "prompt"]
    assert cli.main(base + ["list"]) == 0
    assert "menu" in capsys.readouterr().out
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"garbage")
    assert cli.main(base + ["add", "../x", str(bad)]) == 2
    assert "not a valid prompt name" in capsys.readouterr().err
    assert cli.main(base + ["rm", "ghost"]) == 2
    assert "no prompt 'ghost'" in capsys.readouterr().err
    assert cli.main(base + ["rm", "menu"]) == 0
    assert db.execute("SELECT action, target FROM audit").fetchall() == [("prompt deleted", "menu")]


# --- the real sox and espeak-ng, inside the appliance root filesystem ---------

@pytest.fixture(scope="module")
def rootfs_instance():
    from tests.harness import SANDBOX, in_root, rootfs_path
    root = rootfs_path()
    base = f"{SANDBOX}/prompt-library"
    in_root("rm", "-rf", base)
    in_root("mkdir", "-p", base)
    yield base, root / base.lstrip("/"), in_root
    in_root("rm", "-rf", base)


def header(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes() / w.getframerate()


def test_real_tools_speak_russian_and_english(rootfs_instance):
    base, host, in_root = rootfs_instance
    in_root("korund", "-i", base, "prompt", "say", "hello", "--language", "ru", "--text=-Здравствуйте!")
    in_root("korund", "-i", base, "prompt", "say", "hello", "--language", "en", "--text", "Good morning")
    for lang in ("ru", "en"):
        rate, channels, width, seconds = header(host / "sounds" / lang / "hello.wav")
        assert (rate, channels, width) == (8000, 1, 2) and 0.5 < seconds < 5
    out = in_root("korund", "-i", base, "prompt", "list").stdout
    assert "hello" in out and "tts" in out


def test_real_tools_decode_mp3_and_ogg_and_refuse_garbage(rootfs_instance):
    base, host, in_root = rootfs_instance
    for kind in ("mp3", "ogg", "wav"):
        in_root("sox", "-n", "-r", "44100", "-c", "2", f"{base}/in.{kind}", "synth", "1.2", "sine", "500")
        in_root("korund", "-i", base, "prompt", "add", f"from-{kind}", f"{base}/in.{kind}", "--language", "en")
        rate, channels, width, seconds = header(host / "sounds" / "en" / f"from-{kind}.wav")
        assert (rate, channels, width) == (8000, 1, 2) and 1.0 < seconds < 1.5, kind
    (host / "junk.mp3").write_bytes(b"ID3" + bytes(range(256)) * 20)
    (host / "junk.ogg").write_bytes(b"OggS" + b"\x00" * 500)
    (host / "junk.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    for kind in ("mp3", "ogg", "wav"):
        proc = in_root("korund", "-i", base, "prompt", "add", "junk", f"{base}/junk.{kind}", check=False)
        assert proc.returncode == 2 and "could not be decoded" in proc.stderr, (kind, proc.stderr)
    assert not (host / "sounds" / "ru" / "junk.wav").exists()
    assert sorted(p.name for p in (host / "sounds" / "en").iterdir()) == \
        ["from-mp3.wav", "from-ogg.wav", "from-wav.wav", "hello.wav"]

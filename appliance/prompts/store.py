"""The prompt library: the voice prompts scenarios play, per language.

A prompt is ``<sounds>/<language>/<name>.wav`` (8 kHz mono 16-bit, what
Asterisk plays without transcoding); ``appliance.prompts.builtin`` finds it, falling
back to the other language. This module adds prompts from uploaded WAV, MP3
or OGG files (decoded and converted by sox) or from text (spoken by
espeak-ng), lists them, and deletes those no scenario uses. Who made a
variant, when, from what, is kept in the ``prompts`` table.

The audio tools are passed in (``Tools``) so the logic runs without them in
tests; ``SYSTEM`` calls the real sox and espeak-ng. They read what a panel
user uploaded or typed, so each runs under limits (``limited``): CPU time,
memory, the size of a file it may write, and a wall-clock timeout. A file
that decodes into something huge (a WAV at 1 sample a second, resampled to
8 kHz) is stopped there instead of filling the disk.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance.base import clock
from appliance.base.errors import ConfigError
from appliance.prompts import builtin as prompts
from appliance.scenarios.nodes import TYPES

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
LANGUAGES = prompts.LANGUAGES
KINDS = {".wav": "wav", ".mp3": "mp3", ".ogg": "ogg"}
MAX_BYTES = 2 * 1024 * 1024 - 64 * 1024   # below the panel's request limit
MAX_SECONDS = 300
MIN_SECONDS = 0.1
MAX_TEXT = 1000
# What a converter may use (prlimit): far above a 300 s prompt's needs.
TOOL_TIMEOUT = 60                    # seconds of wall clock
TOOL_CPU_SECONDS = 30
TOOL_MEMORY = 512 * 1024 * 1024      # address space, bytes
TOOL_FILE_SIZE = 16 * 1024 * 1024    # the largest file it may write (a 300 s prompt: 5 MB)


class AudioError(RuntimeError):
    """A tool could not decode or produce the audio."""


class ToolMissing(AudioError):
    """sox or espeak-ng is not there (e.g. outside the root filesystem)."""


@dataclass(frozen=True)
class Tools:
    # convert(source, kind, target): decode *source* (kind wav/mp3/ogg) and
    # write it to *target* as 8 kHz mono 16-bit WAV; AudioError if it cannot.
    convert: Callable[[Path, str, Path], None]
    # speak(text, language, target): write *text* spoken in *language* as a
    # WAV (any rate) to *target*.
    speak: Callable[[str, str, Path], None]


def limited(args: list[str]) -> list[str]:
    """*args* run by util-linux's prlimit with the converters' limits: past
    its CPU time or file size the kernel stops the tool, past its memory its
    allocations fail. (prlimit, not a preexec_fn: the panel has threads.)"""
    return ["prlimit", f"--cpu={TOOL_CPU_SECONDS}", f"--as={TOOL_MEMORY}", f"--fsize={TOOL_FILE_SIZE}",
            "--core=0", "--", *args]


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    if shutil.which(args[0]) is None:
        raise ToolMissing(f"{args[0]} is not installed (it is in the appliance's root filesystem)")
    try:
        proc = subprocess.run(limited(args), capture_output=True, timeout=TOOL_TIMEOUT, check=False, **kwargs)
    except FileNotFoundError:
        raise ToolMissing("prlimit is not installed (it is in the appliance's root filesystem)") from None
    except subprocess.TimeoutExpired:
        raise AudioError(f"{args[0]} took longer than {TOOL_TIMEOUT} s") from None
    if proc.returncode == 127:   # prlimit could not find the tool
        raise ToolMissing(f"{args[0]} is not installed (it is in the appliance's root filesystem)")
    if proc.returncode < 0:
        raise AudioError(f"{args[0]} was stopped at its limits (signal {-proc.returncode}: CPU "
                         f"{TOOL_CPU_SECONDS} s, files of {TOOL_FILE_SIZE // 2**20} MB)")
    return proc


def sox_convert(source: Path, kind: str, target: Path) -> None:
    proc = _run(["sox", "-t", kind, str(source), "-t", "wav", "-r", "8000", "-c", "1",
                 "-b", "16", "-e", "signed-integer", str(target)], text=True)
    if proc.returncode != 0:
        raise AudioError(proc.stderr.strip() or f"sox exited with {proc.returncode}")


def espeak_speak(text: str, language: str, target: Path) -> None:
    # The text goes on standard input, so a text starting with '-' is not an option.
    proc = _run(["espeak-ng", "-v", prompts.VOICES[language], "-s", "150", "-b", "1",
                 "-w", str(target), "--stdin"], input=text.encode())
    if proc.returncode != 0:
        raise AudioError(proc.stderr.decode(errors="replace").strip() or "espeak-ng failed")


SYSTEM = Tools(sox_convert, espeak_speak)


# --- checks -----------------------------------------------------------------

def check_name(name) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not NAME.fullmatch(name):
        raise ConfigError("name", "'{value}' is not a valid prompt name (a-z, 0-9, _ and -, "
                          "up to 48 characters)", value=name)
    return name


def check_language(language) -> str:
    if language not in LANGUAGES:
        raise ConfigError("language", "'{value}' is not a prompt language (ru or en)", value=language)
    return language


def _check_new(name, language) -> tuple[str, str]:
    name, language = check_name(name), check_language(language)
    if name in prompts.PROMPTS:
        raise ConfigError("name", "'{name}' is a built-in prompt of Korund; choose another name",
                          name=name)
    return name, language


# --- what is there ------------------------------------------------------------

def wav_file(sounds: Path, name: str, language: str) -> Path | None:
    """The WAV of exactly this variant, or None (no fallback, no path tricks)."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or language not in LANGUAGES:
        return None
    path = prompts.prompt_path(sounds, language, name).with_suffix(".wav")
    return path if path.is_file() else None


def duration(path: Path) -> float | None:
    try:
        with wave.open(str(path), "rb") as w:
            return round(w.getnframes() / w.getframerate(), 2)
    except (OSError, EOFError, wave.Error, ZeroDivisionError):
        return None


def _rows(db) -> dict[tuple[str, str], dict]:
    cols = ("name", "language", "source", "text", "original", "duration", "created_by", "created_at")
    return {(r[0], r[1]): dict(zip(cols, r)) for r in db.execute(f"SELECT {', '.join(cols)} FROM prompts")}


def _on_disk(sounds: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for language in LANGUAGES:
        folder = sounds / language
        if not folder.is_dir():
            continue
        for path in folder.glob("*.wav"):
            if NAME.fullmatch(path.stem) and path.is_file():
                found.setdefault(path.stem, []).append(language)
    return found


def all_prompts(db, sounds: Path) -> list[dict]:
    """Every prompt with its language variants, sorted by name: name,
    languages, source (upload, tts, built-in, file or mixed), text, variants
    (language, source, text, duration, original, created_by, created_at),
    fallback ({missing language: the one played instead}) and used_by."""
    rows, usage = _rows(db), usage_by_prompt(db)
    result = []
    for name, languages in sorted(_on_disk(sounds).items()):
        languages = [lang for lang in LANGUAGES if lang in languages]
        variants = []
        for lang in languages:
            row = rows.get((name, lang))
            path = prompts.prompt_path(sounds, lang, name).with_suffix(".wav")
            if row:
                variants.append({"language": lang, "source": row["source"], "text": row["text"],
                                 "duration": row["duration"], "original": row["original"],
                                 "created_by": row["created_by"], "created_at": row["created_at"]})
            else:
                builtin = prompts.PROMPTS.get(name, {})
                variants.append({"language": lang, "source": "built-in" if builtin else "file",
                                 "text": builtin.get(lang), "duration": duration(path),
                                 "original": None, "created_by": None, "created_at": None})
        sources = {v["source"] for v in variants}
        result.append({
            "name": name, "languages": languages,
            "source": sources.pop() if len(sources) == 1 else "mixed",
            "text": next((v["text"] for v in variants if v["text"]), None),
            "variants": variants,
            "fallback": {lang: languages[0] for lang in LANGUAGES if lang not in languages},
            "used_by": usage.get(name, []),
        })
    return result


def get(db, sounds: Path, name: str) -> dict | None:
    return next((p for p in all_prompts(db, sounds) if p["name"] == name), None)


# --- which scenarios use a prompt -------------------------------------------

def _prompt_keys(node: dict) -> list[str]:
    keys = {k for k in node if k in ("prompt", "prompts") or k.endswith(("_prompt", "_prompts"))}
    t = TYPES.get(node.get("type"))
    if t is not None:
        keys |= {f["name"] for f in t.fields if isinstance(f, dict) and f.get("kind") == "prompts"}
    return sorted(keys)


def prompts_in(graph) -> set[str]:
    """The prompt names a scenario graph refers to."""
    names: set[str] = set()
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    for node in (nodes.values() if isinstance(nodes, dict) else []):
        if not isinstance(node, dict):
            continue
        for key in _prompt_keys(node):
            value = node.get(key)
            for item in [value] if isinstance(value, str) else (value if isinstance(value, list) else []):
                if isinstance(item, str) and item:
                    names.add(item)
    return names


def usage_by_prompt(db) -> dict[str, list[str]]:
    """{prompt name: sorted names of the scenarios whose draft or newest
    published version plays it}."""
    usage: dict[str, set[str]] = {}
    for scenario, draft, published in db.execute(
            "SELECT s.name, s.draft, (SELECT v.graph FROM scenario_versions v WHERE v.scenario_id = s.id "
            "ORDER BY v.version DESC LIMIT 1) FROM scenarios s"):
        for text in (draft, published):
            try:
                graph = json.loads(text) if text else None
            except ValueError:
                continue
            for name in prompts_in(graph):
                usage.setdefault(name, set()).add(scenario)
    return {name: sorted(s) for name, s in usage.items()}


# --- adding -------------------------------------------------------------------

def _install(db, sounds: Path, name: str, language: str, make: Callable[[Path], None],
             source: str, text: str | None, original: str | None, by: str | None) -> dict:
    """Have *make* write the 8 kHz WAV to a temporary file beside the target,
    check it, record it, then rename it into place: a failure leaves the
    previous variant (if any) and the table as they were."""
    target = prompts.prompt_path(sounds, language, name).with_suffix(".wav")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".new-", suffix=".wav", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        make(tmp)
        seconds = duration(tmp)
        if seconds is None or seconds < MIN_SECONDS:
            raise ConfigError("file", "the audio is empty or could not be decoded")
        if seconds > MAX_SECONDS:
            raise ConfigError("file", "the prompt is {seconds} s long; the limit is {limit} s",
                              seconds=round(seconds), limit=MAX_SECONDS)
        tmp.chmod(0o644)
        with db.atomic():
            db.execute("DELETE FROM prompts WHERE name = ? AND language = ?", [name, language])
            db.execute("INSERT INTO prompts (name, language, source, text, original, duration, created_by, "
                       "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       [name, language, source, text, original, seconds, by, clock.stamp()])
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return get(db, sounds, name)


def add_file(db, sounds: Path, name, language, data: bytes, filename: str, by: str | None = None,
             tools: Tools = SYSTEM) -> dict:
    """Add (or replace) the *language* variant of *name* from an uploaded
    WAV, MP3 or OGG file, converted to 8 kHz mono."""
    name, language = _check_new(name, language)
    kind = KINDS.get(Path(filename or "").suffix.lower())
    if kind is None:
        raise ConfigError("file", "only WAV, MP3 or OGG files can be uploaded")
    if not data:
        raise ConfigError("file", "the file is empty")
    if len(data) > MAX_BYTES:
        raise ConfigError("file", "the file is larger than {mb} MB", mb=round(MAX_BYTES / 2**20, 1))
    original = Path(filename).name[:120]

    def make(out: Path) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / f"upload.{kind}"
            src.write_bytes(data)
            try:
                tools.convert(src, kind, out)
            except ToolMissing as exc:
                raise ConfigError("file", "the audio cannot be converted here: {error}", error=str(exc)) from None
            except AudioError:
                raise ConfigError("file", "the file could not be decoded as {kind} audio",
                                  kind=kind.upper()) from None

    return _install(db, sounds, name, language, make, "upload", None, original, by)


def check_text(text) -> str:
    text = " ".join(text.split()) if isinstance(text, str) else ""
    if not text:
        raise ConfigError("text", "type the text to speak")
    if len(text) > MAX_TEXT:
        raise ConfigError("text", "the text is longer than {limit} characters", limit=MAX_TEXT)
    return text


def say(db, sounds: Path, name, language, text, by: str | None = None, tools: Tools = SYSTEM) -> dict:
    """Add (or replace) the *language* variant of *name*, spoken by espeak-ng."""
    name, language = _check_new(name, language)
    text = check_text(text)

    def make(out: Path) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "spoken.wav"
            try:
                tools.speak(text, language, raw)
                tools.convert(raw, "wav", out)
            except AudioError as exc:
                raise ConfigError("text", "the speech synthesizer failed: {error}",
                                  error=str(exc)[:200]) from None

    return _install(db, sounds, name, language, make, "tts", text, None, by)


# --- deleting -----------------------------------------------------------------

def delete(db, sounds: Path, name, language: str | None = None) -> list[str]:
    """Delete the *language* variant of *name* (every variant when None);
    return the languages deleted. A scenario keeps playing a prompt while
    another language is left (the fallback), so only deleting its last
    variant is refused while a scenario's draft or published version uses it."""
    name = check_name(name)
    if language is not None:
        check_language(language)
    if name in prompts.PROMPTS:
        raise ConfigError("name", "'{name}' is a built-in prompt of Korund and cannot be deleted", name=name)
    present = [lang for lang in LANGUAGES if wav_file(sounds, name, lang)]
    doomed = [lang for lang in present if language in (None, lang)]
    if not doomed:
        raise ConfigError("name", "there is no prompt '{name}'", name=name) if language is None else \
            ConfigError("language", "the prompt '{name}' has no {language} variant", name=name, language=language)
    if set(doomed) == set(present):
        users = usage_by_prompt(db).get(name)
        if users:
            raise ConfigError("name", "the prompt '{name}' is used by the scenarios: {scenarios}; "
                              "take it out of them first", name=name, scenarios=", ".join(users))
    with db.atomic():
        for lang in doomed:
            db.execute("DELETE FROM prompts WHERE name = ? AND language = ?", [name, lang])
            prompts.prompt_path(sounds, lang, name).with_suffix(".wav").unlink(missing_ok=True)
    return doomed

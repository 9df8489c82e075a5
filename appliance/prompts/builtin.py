"""Korund's own voice prompts, in Russian and English, spoken by espeak-ng
and converted by sox to 8 kHz mono WAV that Asterisk plays without
transcoding surprises. A prompt is rebuilt when its text changes."""
from __future__ import annotations

import hashlib
import subprocess
import tempfile
from pathlib import Path

from appliance.prompts import numbers_ru

PROMPTS = {
    "welcome": {
        "ru": "Здравствуйте! Вы позвонили в контактный центр. Соединяем вас с оператором.",
        "en": "Hello! You have reached the contact center. Connecting you to an operator.",
    },
    # The outbound policy refused a number (appliance.outbound): a caller's
    # callback order (appliance.scenarios.nodes.callback), an operator's call.
    "callback-refused": {
        "ru": "Извините, по этому номеру мы перезвонить не можем. Заказ не принят.",
        "en": "Sorry, we cannot call you back at this number. No callback was ordered.",
    },
    "callback-own-number": {
        "ru": "Извините, мы перезваниваем только на номер, с которого вы звоните. Заказ не принят.",
        "en": "Sorry, we can only call you back at the number you are calling from. No callback was ordered.",
    },
    "callback-limit": {
        "ru": "Извините, с вашего номера уже принято наибольшее число заказов обратного звонка. "
              "Дождитесь нашего звонка или позвоните позже.",
        "en": "Sorry, your number already has as many callback orders as we take. "
              "Please wait for our call or call again later.",
    },
    "outbound-refused": {
        "ru": "Этот номер набрать нельзя: его не разрешает политика исходящих звонков.",
        "en": "This number cannot be dialled: the outbound policy does not allow it.",
    },
}
VOICES = {"ru": "ru", "en": "en-us"}
LANGUAGES = tuple(VOICES)
# The words numbers and money are said with, per language, in a folder of their
# own (not prompts of the library). English has none: Asterisk's SAY NUMBER and
# its English sounds say English numbers right.
NUMBER_WORDS = {"ru": numbers_ru.WORDS}
NUMBERS = "numbers"
# Words are played one after another: their trailing silence is cut to a short
# pause (sox: reverse, drop leading silence, reverse back, pad).
WORD_EFFECTS = ("reverse", "silence", "1", "0.02", "0.5%", "reverse", "pad", "0", "0.06")


def prompt_path(sounds: Path, language: str, name: str) -> Path:
    """Where a prompt lives, without extension (as Asterisk wants it)."""
    if language not in VOICES:
        language = LANGUAGES[0]
    return sounds / language / name


def library_path(sounds: Path, language: str, name: str) -> Path:
    """A prompt of the library in *language*, or in the other language when it
    has none (without extension, as Asterisk wants it)."""
    for lang in (language, *[l for l in LANGUAGES if l != language]):
        path = prompt_path(sounds, lang, name)
        if path.with_suffix(".wav").exists():
            return path
    return prompt_path(sounds, language, name)


def number_word_path(sounds: Path, language: str, word: str) -> Path:
    """Where a number word (``NUMBER_WORDS``) lives, without extension."""
    return sounds / language / NUMBERS / word


def exists(sounds: Path, name: str) -> bool:
    return any(prompt_path(sounds, lang, name).with_suffix(".wav").exists() for lang in LANGUAGES)


def build(sounds: Path, force: bool = False) -> list[Path]:
    """Speak every prompt and number word that is missing or whose text changed."""
    made = []
    for name, texts in PROMPTS.items():
        for lang, text in texts.items():
            target = prompt_path(sounds, lang, name).with_suffix(".wav")
            if _speak(target, lang, text, (), force):
                made.append(target)
    for lang, words in NUMBER_WORDS.items():
        for word, text in words.items():
            target = number_word_path(sounds, lang, word).with_suffix(".wav")
            if _speak(target, lang, text, WORD_EFFECTS, force):
                made.append(target)
    return made


def _speak(target: Path, lang: str, text: str, effects: tuple[str, ...], force: bool) -> bool:
    stamp = target.with_suffix(".txt-sha256")
    digest = hashlib.sha256(" ".join((text, *effects)).encode()).hexdigest()
    if not force and target.exists() and stamp.exists() and stamp.read_text() == digest:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", VOICES[lang], "-s", "150", "-w", str(raw), text],
                       check=True, capture_output=True)
        subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(target), *effects],
                       check=True, capture_output=True)
    stamp.write_text(digest)
    target.chmod(0o644)
    return True

"""The scenario engine's ``CallIO`` over a FastAGI channel (pyst2)."""
from __future__ import annotations

import logging
import re
import secrets
import time
from datetime import datetime
from pathlib import Path

from asterisk.agi import AGIException

from appliance.base import dialplan_names as dn
from appliance.callbacks import store as callbacks
from appliance.messages import store as messages
from appliance.prompts import builtin as prompts, numbers_ru
from appliance.tables import store as datatables

KEYS = "0123456789*#"
WHOLE = re.compile(r"-?[0-9]+")   # ASCII digits only: str.isdigit() also takes '²' and '٣'
# How each language says numbers and money with Korund's own words
# (appliance.prompts.builtin.NUMBER_WORDS); the others use Asterisk's Say*.
SAY_WORDS = {"ru": {"number": numbers_ru.say_number, "money": numbers_ru.say_money}}


class AgiCallIO:
    def __init__(self, agi, sounds, language: str, db=None):
        self.agi = agi
        self.db = db
        self.sounds = sounds
        self.language = language
        self.route_result: tuple[str, str, int] | None = None
        self.route_skill = ""

    def _path(self, name: str) -> str:
        return str(prompts.library_path(self.sounds, self.language, name))

    def play(self, names, interruptible):
        for name in names:
            key = self.agi.stream_file(self._path(name), KEYS if interruptible else "")
            if key:
                return key
        return None

    def wait_key(self, timeout):
        return self.agi.wait_for_digit(int(timeout * 1000)) or None

    def read_digits(self, names, max_digits, timeout, terminator):
        names = list(names)
        first = self.play(names[:-1], interruptible=True) or ""
        if first == terminator:
            return ""
        if len(first) >= max_digits:
            return first
        rest = self.agi.get_data(self._path(names[-1]) if not first else "silence/1",
                                 int(timeout * 1000), max_digits - len(first))
        return first + (rest or "")

    def say(self, value, kind):
        """Say *value* as digits, a number, money or a date. Not interruptible,
        like Asterisk's Say* without escape digits: a key pressed meanwhile is
        not taken for the next menu."""
        value = value.strip()
        words_of = SAY_WORDS.get(self.language, {}).get(kind)
        words = words_of(value) if words_of else None
        paths = [prompts.number_word_path(self.sounds, self.language, w) for w in words or ()]
        if paths and not all(p.with_suffix(".wav").exists() for p in paths):
            # made by `korund init` (appliance.prompts.builtin.build); without
            # them Asterisk's own Say* is still better than silence
            logging.getLogger("korund.agi").warning("the number words are missing in %s: run korund init",
                                                    paths[0].parent)
            paths, words_of = [], None
        if paths:
            for path in paths:
                self.agi.stream_file(str(path), "")
        elif kind == "number" and not words_of and WHOLE.fullmatch(value):
            self.agi.say_number(value)
        elif kind == "date" and value.isascii() and value.isdigit():
            self.agi.say_date(int(value))
        elif kind == "money" and not words_of:
            rub, _, kop = value.partition(".")
            if WHOLE.fullmatch(rub):
                self.agi.say_number(rub)
            if kop.isascii() and kop.isdigit():
                self.agi.say_number(kop)
        else:   # digits, or a number or an amount that is not one
            digits = "".join(c for c in value if c in KEYS)
            if digits:
                self.agi.say_digits(digits)

    def route(self, kind, target, priority, skill=""):
        self.route_result = (kind, target, priority)
        self.route_skill = skill   # a route node's skill (appliance.routing.store)

    def hangup(self):
        self.agi.set_variable(dn.VAR_AGI_DONE, "hangup")

    def now(self):
        """The call center's wall clock (its ``timezone`` setting), so that a
        condition's 09:00-18:00 means Moscow time on a UTC machine."""
        return callbacks.now_here(self.db) if self.db is not None else datetime.now().astimezone()

    def lookup(self, table, key):
        return datatables.lookup(self.db, table, key) if key else None

    def record_message(self, group, max_seconds, beep, silence, ani):
        """Record the caller (RECORD FILE, '#' ends it) into the instance's
        message folder and store it for *group*; None when the recording
        holds no audio (then no file and no row are left)."""
        folder = messages.directory(Path(self.sounds).parent)
        stem = f"{int(time.time())}-{secrets.token_hex(4)}"
        path = folder / f"{stem}.wav"
        args = [f'"{folder / stem}"', "wav", '"#"', str(int(max_seconds) * 1000), "0"]
        if beep:
            args.append("BEEP")
        if silence:
            args.append(f"s={int(silence)}")
        try:
            self.agi.execute("RECORD FILE", *args)
        except (AGIException, ValueError, OSError) as exc:  # the caller hung up: keep what was said
            logging.getLogger("korund.agi").info("recording ended: %s", exc)
        _wait_closed(path)
        if not path.exists():
            logging.getLogger("korund.agi").warning("Asterisk wrote no recording to %s", path)
            return None
        duration = messages.keep_recording(path)
        if duration is None:
            return None
        return messages.add(self.db, group, ani, self.agi.env.get("agi_uniqueid", ""), path.name, duration)

    def store_callback(self, group, number, ani, slot):
        """Store a callback order; *slot* is a slot spec, None = as soon as possible."""
        start, until = callbacks.when(slot, callbacks.now_here(self.db))
        return callbacks.add(self.db, group, number, ani, self.agi.env.get("agi_uniqueid", ""),
                             start, until, slot is None)


def _wait_closed(path: Path, timeout: float = 3.0) -> None:
    """Asterisk answers RECORD FILE before it closes the file; it writes the
    WAV header's sizes on closing, so wait until they match the file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as f:
                head = f.read(44)
            if len(head) == 44 and int.from_bytes(head[40:44], "little") == path.stat().st_size - 44:
                return
        except OSError:
            pass
        time.sleep(0.1)

"""The scenario engine's ``CallIO`` over a FastAGI channel (pyst2)."""
from __future__ import annotations

from datetime import datetime

from .. import dialplan_names as dn
from .. import datatables, prompts

KEYS = "0123456789*#"


class AgiCallIO:
    def __init__(self, agi, sounds, language: str, db=None):
        self.agi = agi
        self.db = db
        self.sounds = sounds
        self.language = language
        self.route_result: tuple[str, str, int] | None = None

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
        if kind == "number" and value.lstrip("-").isdigit():
            self.agi.say_number(value)
        elif kind == "date" and value.isdigit():
            self.agi.say_date(int(value))
        elif kind == "money":
            rub, _, kop = value.partition(".")
            if rub.isdigit():
                self.agi.say_number(rub)
            if kop.isdigit():
                self.agi.say_number(kop)
        else:
            digits = "".join(c for c in value if c in KEYS)
            if digits:
                self.agi.say_digits(digits)

    def route(self, kind, target, priority):
        self.route_result = (kind, target, priority)

    def hangup(self):
        self.agi.set_variable(dn.VAR_AGI_DONE, "hangup")

    def now(self):
        return datetime.now()

    def lookup(self, table, key):
        return datatables.lookup(self.db, table, key) if key else None

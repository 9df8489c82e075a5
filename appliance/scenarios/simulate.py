"""The panel's simulator: walk a scenario with typed keys and report which
prompts would play, what would be said and where the call would go."""
from __future__ import annotations

from datetime import datetime

from .engine import ScenarioError, Session, run


class SimulatedCall:
    def __init__(self, keys: str, ani: str = "", now: datetime | None = None, lookup=None):
        self._lookup = lookup
        self.keys = list(keys)
        self.events: list[dict] = []
        self.clock = now or datetime.now()
        self.ani = ani

    def _next_key(self) -> str | None:
        return self.keys.pop(0) if self.keys else None

    def play(self, prompts, interruptible):
        self.events.append({"play": list(prompts)})
        return self._next_key() if interruptible else None

    def wait_key(self, timeout):
        key = self._next_key()
        self.events.append({"wait": timeout, "key": key})
        return key

    def read_digits(self, prompts, max_digits, timeout, terminator):
        self.events.append({"play": list(prompts)})
        digits = ""
        while self.keys and len(digits) < max_digits:
            k = self._next_key()
            if k == terminator:
                break
            digits += k
        self.events.append({"digits": digits})
        return digits

    def say(self, value, kind):
        self.events.append({"say": value, "as": kind})

    def route(self, kind, target, priority):
        self.events.append({"route": kind, "target": target, "priority": priority})

    def hangup(self):
        self.events.append({"hangup": True})

    def now(self):
        return self.clock

    def lookup(self, table, key):
        record = self._lookup(table, key) if self._lookup and key else None
        self.events.append({"lookup": table, "key": key, "found": record is not None})
        return record


def simulate(graph: dict, keys: str, ani: str = "", now: datetime | None = None,
             lookup=None, load=None) -> dict:
    call = SimulatedCall(keys, ani, now, lookup)
    session = Session(vars={"ani": ani})
    try:
        run(graph, call, session, load)
        error = None
    except ScenarioError as exc:
        error = str(exc)
    return {"events": call.events, "vars": session.vars, "path": session.path, "error": error}

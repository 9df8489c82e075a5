"""The panel's simulator: walk a scenario with typed keys and report which
prompts would play, what would be said and where the call would go."""
from __future__ import annotations

from datetime import datetime

from appliance.callbacks import store as callbacks
from appliance.scenarios.engine import ScenarioError, Session, run


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

    def route(self, kind, target, priority, skill=""):
        event = {"route": kind, "target": target, "priority": priority}
        if skill:
            event["skill"] = skill
        self.events.append(event)

    def hangup(self):
        self.events.append({"hangup": True})

    def now(self):
        return self.clock

    def lookup(self, table, key):
        record = self._lookup(table, key) if self._lookup and key else None
        self.events.append({"lookup": table, "key": key, "found": record is not None})
        return record

    def record_message(self, group, max_seconds, beep, silence, ani):
        self.events.append({"record": group, "max_seconds": max_seconds, "beep": beep, "silence": silence,
                            "note": f"would record a message for group {group}"})
        # A '#' typed next stands for a caller who says nothing (the 'empty' output).
        if self.keys[:1] == ["#"]:
            self._next_key()
            self.events[-1]["empty"] = True
            return None
        return 0

    def store_callback(self, group, number, ani, slot):
        start, until = callbacks.when(slot, self.clock)
        asap = slot is None
        when = "as soon as possible" if asap else f"{start:%Y-%m-%d %H:%M}-{until:%H:%M}"
        self.events.append({"callback": group, "number": number, "asap": asap,
                            "from": start.isoformat(timespec="minutes"),
                            "until": until.isoformat(timespec="minutes") if until else None,
                            "note": f"would store a callback order for group {group}: {number}, {when}"})
        return None


def simulate(graph: dict, keys: str, ani: str = "", now: datetime | None = None,
             lookup=None, load=None, schedule=None) -> dict:
    call = SimulatedCall(keys, ani, now, lookup)
    if schedule is not None:
        call.schedule = schedule  # name → Schedule or None, for condition nodes' schedule tests
    session = Session(vars={"ani": ani})
    try:
        run(graph, call, session, load)
        error = None
    except ScenarioError as exc:
        error = str(exc)
    return {"events": call.events, "vars": session.vars, "path": session.path, "error": error}

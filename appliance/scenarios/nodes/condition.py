"""Branch on the time, the weekday, a schedule (open, or a holiday today),
the caller's number or a variable: 'true' or 'false'.

A 'schedule' or 'holiday' test names a schedule of the store; the node's
validator cannot see the store, so publishing checks that it exists
(scenarios.store.schedule_problems) and a call meeting a missing one goes to
the default group like any scenario error."""
import re

from appliance.scenarios.nodes.base import NodeType, ScenarioError, need, register
from appliance.schedules import store as schedules

TESTS = ("time", "weekday", "schedule", "holiday", "caller_prefix", "caller_in", "equals")
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
SCHEDULE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def validate(node):
    test = node.get("test")
    if test not in TESTS:
        return [f"'test' must be one of {', '.join(TESTS)}"]
    if test == "time":
        if not (HHMM.fullmatch(str(node.get("from", ""))) and HHMM.fullmatch(str(node.get("until", "")))):
            return ["'from' and 'until' must be HH:MM"]
    if test == "weekday":
        days = node.get("days")
        if not isinstance(days, list) or not days or any(d not in range(1, 8) for d in days):
            return ["'days' must list weekdays 1 (Monday) to 7"]
    if test in ("schedule", "holiday"):
        if not SCHEDULE_NAME.fullmatch(str(node.get("schedule") or "")):
            return ["'schedule' must name a schedule"]
    if test in ("caller_prefix", "caller_in"):
        numbers = node.get("numbers")
        if not isinstance(numbers, list) or not numbers:
            return ["'numbers' must list numbers or prefixes"]
    if test == "equals":
        return need(node, "variable")
    return []


def schedule_of(io, name: str):
    """The named schedule, from the call's CallIO: its ``schedule(name)`` if it
    has one, else the store it carries."""
    if callable(getattr(io, "schedule", None)):
        found = io.schedule(name)
    elif getattr(io, "db", None) is not None:
        found = schedules.load(io.db, name)
    else:
        raise ScenarioError(f"schedule '{name}' cannot be looked up here")
    if found is None:
        raise ScenarioError(f"schedule '{name}' does not exist")
    return found


def run(node, io, session):
    test, now, ani = node["test"], io.now(), session.get("ani", "")
    if test == "time":
        t = now.strftime("%H:%M")
        a, b = node["from"], node["until"]
        result = a <= t < b if a <= b else (t >= a or t < b)
    elif test == "weekday":
        result = now.isoweekday() in node["days"]
    elif test == "schedule":
        result = schedules.is_open(schedule_of(io, node["schedule"]), now)
    elif test == "holiday":
        result = schedules.is_holiday(schedule_of(io, node["schedule"]), now)
    elif test == "caller_prefix":
        result = any(ani.startswith(p) for p in node["numbers"])
    elif test == "caller_in":
        result = ani in node["numbers"]
    else:
        result = session.get(node["variable"], "") == session.expand(str(node.get("value", "")))
    return "true" if result else "false"


FIELDS = (
    {"name": "test", "kind": "choice", "choices": list(TESTS), "default": "time", "label": "Test"},
    {"name": "from", "kind": "text", "default": "09:00", "when": {"test": "time"}, "label": "From (HH:MM)"},
    {"name": "until", "kind": "text", "default": "18:00", "when": {"test": "time"}, "label": "Until (HH:MM)"},
    {"name": "days", "kind": "days", "when": {"test": "weekday"}, "label": "Weekdays"},
    {"name": "schedule", "kind": "schedule", "when": {"test": "schedule"}, "label": "Schedule (true while open)"},
    {"name": "schedule", "kind": "schedule", "when": {"test": "holiday"},
     "label": "Schedule (true on its holidays)"},
    {"name": "numbers", "kind": "list", "when": {"test": "caller_prefix"}, "label": "Number prefixes"},
    {"name": "numbers", "kind": "list", "when": {"test": "caller_in"}, "label": "Numbers"},
    {"name": "variable", "kind": "variable", "when": {"test": "equals"}, "label": "Variable"},
    {"name": "value", "kind": "text", "when": {"test": "equals"}, "label": "Equals"},
)

register(NodeType("condition", lambda n: ["true", "false"], validate, run, fields=FIELDS))

"""Branch on the time, the weekday, the caller's number or a variable:
'true' or 'false'."""
import re

from . import NodeType, need, register

TESTS = ("time", "weekday", "caller_prefix", "caller_in", "equals")
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def validate(node):
    test = node.get("test")
    if test not in TESTS:
        return [f"'test' must be one of {', '.join(TESTS)}"]
    if test == "time":
        if not (HHMM.match(str(node.get("from", ""))) and HHMM.match(str(node.get("until", "")))):
            return ["'from' and 'until' must be HH:MM"]
    if test == "weekday":
        days = node.get("days")
        if not isinstance(days, list) or not days or any(d not in range(1, 8) for d in days):
            return ["'days' must list weekdays 1 (Monday) to 7"]
    if test in ("caller_prefix", "caller_in"):
        numbers = node.get("numbers")
        if not isinstance(numbers, list) or not numbers:
            return ["'numbers' must list numbers or prefixes"]
    if test == "equals":
        return need(node, "variable")
    return []


def run(node, io, session):
    test, now, ani = node["test"], io.now(), session.get("ani", "")
    if test == "time":
        t = now.strftime("%H:%M")
        a, b = node["from"], node["until"]
        result = a <= t < b if a <= b else (t >= a or t < b)
    elif test == "weekday":
        result = now.isoweekday() in node["days"]
    elif test == "caller_prefix":
        result = any(ani.startswith(p) for p in node["numbers"])
    elif test == "caller_in":
        result = ani in node["numbers"]
    else:
        result = session.get(node["variable"], "") == session.expand(str(node.get("value", "")))
    return "true" if result else "false"


register(NodeType("condition", lambda n: ["true", "false"], validate, run))

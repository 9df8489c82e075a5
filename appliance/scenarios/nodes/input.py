"""Collect digits into a session variable, with length, terminator, timeout
and a pattern; 'fail' after the retries."""
import re

from appliance.scenarios.nodes.base import NodeType, int_in, need, prompts_of, register

VARIABLE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def validate(node):
    problems = [] if prompts_of(node) else ["an input needs a prompt"]
    problems += need(node, "variable")
    if node.get("variable") and not VARIABLE.fullmatch(node["variable"]):
        problems.append("'variable' must be a-z, 0-9 and _")
    problems += int_in(node, "min_digits", 1, 32, 1) + int_in(node, "max_digits", 1, 32, 10)
    problems += int_in(node, "timeout", 1, 60, 7) + int_in(node, "retries", 0, 9, 2)
    if node.get("min_digits", 1) > node.get("max_digits", 10):
        problems.append("'min_digits' is more than 'max_digits'")
    if node.get("pattern"):
        try:
            re.compile(node["pattern"])
        except re.error as exc:
            problems.append(f"'pattern' is not a regular expression: {exc}")
    return problems


def run(node, io, session):
    lo, hi = node.get("min_digits", 1), node.get("max_digits", 10)
    pattern = re.compile(node["pattern"]) if node.get("pattern") else None
    for attempt in range(node.get("retries", 2) + 1):
        digits = io.read_digits(prompts_of(node), hi, node.get("timeout", 7), node.get("terminator", "#"))
        digits = re.sub(r"[^0-9*#]", "", digits or "")
        if lo <= len(digits) <= hi and (pattern is None or pattern.fullmatch(digits)):
            session.set(node["variable"], digits)
            return "next"
        if attempt < node.get("retries", 2) and prompts_of(node, "invalid_prompts"):
            io.play(prompts_of(node, "invalid_prompts"), interruptible=False)
    return "fail"


FIELDS = (
    {"name": "prompts", "kind": "prompts", "label": "Prompts"},
    {"name": "variable", "kind": "variable", "label": "Variable"},
    {"name": "min_digits", "kind": "int", "min": 1, "max": 32, "default": 1, "label": "At least digits"},
    {"name": "max_digits", "kind": "int", "min": 1, "max": 32, "default": 10, "label": "At most digits"},
    {"name": "terminator", "kind": "choice", "choices": ["#", "*"], "default": "#", "label": "Ends the input"},
    {"name": "timeout", "kind": "int", "min": 1, "max": 60, "default": 7, "label": "Wait for digits, s"},
    {"name": "retries", "kind": "int", "min": 0, "max": 9, "default": 2, "label": "Retries"},
    {"name": "pattern", "kind": "text", "label": "Pattern (regular expression)"},
    {"name": "invalid_prompts", "kind": "prompts", "label": "Prompts after a wrong input"},
)

register(NodeType("input", lambda n: ["next", "fail"], validate, run, waits=True, fields=FIELDS))

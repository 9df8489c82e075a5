"""Read a value back: digits, a number, money or a date, in the call's
language (appliance.agi.call_io: Korund's own words for Russian numbers and
money, Asterisk's Say* otherwise)."""
from appliance.scenarios.nodes.base import NodeType, need, register

KINDS = ("digits", "number", "money", "date")


def validate(node):
    problems = need(node, "value")
    if node.get("as", "digits") not in KINDS:
        problems.append(f"'as' must be one of {', '.join(KINDS)}")
    return problems


def run(node, io, session):
    io.say(session.expand(node["value"]), node.get("as", "digits"))
    return "next"


FIELDS = (
    {"name": "value", "kind": "text", "label": "Value ({variable} is replaced)"},
    {"name": "as", "kind": "choice", "choices": list(KINDS), "default": "digits", "label": "Say as"},
)

register(NodeType("say", lambda n: ["next"], validate, run, fields=FIELDS))

"""Set a session variable (``{other}`` expands to another variable)."""
from appliance.scenarios.nodes.base import NodeType, need, register
from appliance.scenarios.nodes.input import VARIABLE


def validate(node):
    problems = need(node, "variable")
    if node.get("variable") and not VARIABLE.fullmatch(node["variable"]):
        problems.append("'variable' must be a-z, 0-9 and _")
    return problems


def run(node, io, session):
    session.set(node["variable"], session.expand(str(node.get("value", ""))))
    return "next"


FIELDS = (
    {"name": "variable", "kind": "variable", "label": "Variable"},
    {"name": "value", "kind": "text", "label": "Value ({variable} is replaced)"},
)

register(NodeType("set", lambda n: ["next"], validate, run, fields=FIELDS))

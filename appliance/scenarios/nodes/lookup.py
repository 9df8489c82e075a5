"""Look a record up in a data table (F4) by a session variable or the
caller's number; its fields become session variables ``<prefix>_<column>``."""
from appliance.scenarios.nodes.base import NodeType, need, register
from appliance.scenarios.nodes.input import VARIABLE


def validate(node):
    problems = need(node, "table")
    if not node.get("by"):
        problems.append("'by' names the variable to look up by (or 'ani')")
    elif not VARIABLE.fullmatch(node["by"]):
        problems.append("'by' must be a variable name")
    return problems


def run(node, io, session):
    record = io.lookup(node["table"], session.get(node["by"]))
    if record is None:
        return "not_found"
    prefix = node.get("prefix") or node["table"]
    for column, value in record.items():
        session.set(f"{prefix}_{column}".lower(), value)
    return "found"


FIELDS = (
    {"name": "table", "kind": "table", "label": "Data table"},
    {"name": "by", "kind": "variable", "default": "ani", "label": "Look up by the variable"},
    {"name": "prefix", "kind": "text", "label": "Prefix of the variables"},
)

register(NodeType("lookup", lambda n: ["found", "not_found"], validate, run, fields=FIELDS))

"""Go on in another scenario's published version (shared sub-menus)."""
import re

from appliance.scenarios.nodes.base import NodeType, register


def validate(node):
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", str(node.get("scenario") or "")):
        return ["'scenario' must name a scenario"]
    return []


def run(node, io, session):
    session.jump = node["scenario"]
    return None


FIELDS = ({"name": "scenario", "kind": "scenario", "label": "Scenario"},)

register(NodeType("goto", lambda n: [], validate, run, fields=FIELDS))

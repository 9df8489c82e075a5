"""Send the call on: to an operator group (with a priority), one operator,
or an external number. The walk ends here; the session travels with the call."""
import re

from appliance.scenarios.nodes.base import NodeType, int_in, register

TARGETS = ("group", "operator", "number")


def validate(node):
    target = node.get("to")
    if target not in TARGETS:
        return [f"'to' must be one of {', '.join(TARGETS)}"]
    value = str(node.get(target) or "")
    if target == "group" and not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", value):
        return ["'group' must name a group"]
    if target == "operator" and not re.fullmatch(r"[0-9]{2,8}", value):
        return ["'operator' must be an extension"]
    if target == "number" and not re.fullmatch(r"\+?[0-9]{2,20}", value):
        return ["'number' must be digits"]
    skill = node.get("skill")
    if skill not in (None, "") and (target != "group" or not re.fullmatch(r"[a-z][a-z0-9_]{0,23}", str(skill))):
        return ["'skill' must name a skill (a-z, 0-9, _) and needs 'to' = group"]
    return int_in(node, "priority", 0, 9, 0)


def run(node, io, session):
    if node.get("skill"):
        io.route(node["to"], str(node[node["to"]]), node.get("priority", 0), str(node["skill"]))
    else:
        io.route(node["to"], str(node[node["to"]]), node.get("priority", 0))
    return None


FIELDS = (
    {"name": "to", "kind": "choice", "choices": list(TARGETS), "default": "group", "label": "Send to"},
    {"name": "group", "kind": "group", "when": {"to": "group"}, "label": "Group"},
    {"name": "operator", "kind": "operator", "when": {"to": "operator"}, "label": "Operator"},
    {"name": "number", "kind": "text", "when": {"to": "number"}, "label": "Number"},
    {"name": "priority", "kind": "int", "min": 0, "max": 9, "default": 0, "label": "Priority in the queue"},
    {"name": "skill", "kind": "text", "when": {"to": "group"}, "label": "Skill (best-skilled operators first)"},
)

register(NodeType("route", lambda n: [], validate, run, fields=FIELDS))

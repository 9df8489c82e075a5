"""Leave a message (F2): after the prompts (and a beep) the caller speaks;
the recording is stored for a group and shown in the panel. Silence or a
hang-up before anything was said takes the 'empty' output."""
import re

from appliance.scenarios.nodes.base import NodeType, int_in, prompts_of, register

GROUP = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def validate(node):
    problems = [] if prompts_of(node) else ["at least one prompt"]
    if not GROUP.fullmatch(str(node.get("group") or "")):
        problems.append("'group' must name a group")
    # at most 5 minutes: the AGI kills a call's script after 10
    problems += int_in(node, "max_seconds", 5, 300, 120) + int_in(node, "silence", 0, 30, 5)
    if not isinstance(node.get("beep", True), bool):
        problems.append("'beep' must be true or false")
    return problems


def run(node, io, session):
    io.play(prompts_of(node), interruptible=False)
    message_id = io.record_message(node["group"], node.get("max_seconds", 120), node.get("beep", True),
                                   node.get("silence", 5), session.get("ani"))
    if message_id is None:
        return "empty"
    session.set("message_id", message_id)
    return "next"


FIELDS = (
    {"name": "prompts", "kind": "prompts", "label": "Prompts"},
    {"name": "group", "kind": "group", "label": "Group"},
    {"name": "max_seconds", "kind": "int", "min": 5, "max": 300, "default": 120, "label": "Longest message, s"},
    {"name": "beep", "kind": "bool", "default": True, "label": "Beep before recording"},
    {"name": "silence", "kind": "int", "min": 0, "max": 30, "default": 5,
     "label": "Stop after silence, s (0 = never)"},
)

register(NodeType("message", lambda n: ["next", "empty"], validate, run, waits=True, fields=FIELDS))

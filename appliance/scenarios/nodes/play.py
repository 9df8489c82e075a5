"""Play one or more prompts; interruptible by a key if asked."""
from appliance.scenarios.nodes.base import NodeType, prompts_of, register


def validate(node):
    return [] if prompts_of(node) else ["at least one prompt"]


def run(node, io, session):
    key = io.play(prompts_of(node), interruptible=bool(node.get("interruptible")))
    if key:
        session.set("last_key", key)
    return "next"


FIELDS = (
    {"name": "prompts", "kind": "prompts", "label": "Prompts"},
    {"name": "interruptible", "kind": "bool", "default": False, "label": "A key interrupts the prompt"},
)

register(NodeType("play", lambda n: ["next"], validate, run, fields=FIELDS))

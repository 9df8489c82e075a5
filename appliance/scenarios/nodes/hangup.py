"""End the call (after an optional goodbye prompt)."""
from appliance.scenarios.nodes.base import NodeType, prompts_of, register


def run(node, io, session):
    if prompts_of(node):
        io.play(prompts_of(node), interruptible=False)
    io.hangup()
    return None


FIELDS = ({"name": "prompts", "kind": "prompts", "label": "Goodbye prompts"},)

register(NodeType("hangup", lambda n: [], lambda n: [], run, fields=FIELDS))

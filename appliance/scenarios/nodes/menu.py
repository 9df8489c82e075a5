"""A DTMF menu: each key leads to a node; no input and wrong keys get their
own prompts and a number of retries, then the 'fail' output."""
from appliance.scenarios.nodes.base import NodeType, int_in, prompts_of, register

KEYS = set("0123456789*#")


def outputs(node):
    return [f"key:{k}" for k in sorted(node.get("options") or {})] + ["fail"]


def validate(node):
    problems = [] if prompts_of(node) else ["a menu needs a prompt"]
    options = node.get("options") or {}
    if not options:
        problems.append("a menu needs at least one option")
    problems += [f"'{k}' is not a phone key" for k in options if k not in KEYS]
    problems += int_in(node, "timeout", 1, 30, 5) + int_in(node, "retries", 0, 9, 2)
    return problems


def run(node, io, session):
    options = node.get("options") or {}
    retries = node.get("retries", 2)
    for attempt in range(retries + 1):
        key = io.play(prompts_of(node), interruptible=True) or io.wait_key(node.get("timeout", 5))
        if key in options:
            session.set("menu_" + session.node_id, key)
            return f"key:{key}"
        if attempt < retries:
            extra = prompts_of(node, "invalid_prompts" if key else "timeout_prompts")
            if extra:
                io.play(extra, interruptible=False)
    return "fail"


FIELDS = (
    {"name": "prompts", "kind": "prompts", "label": "Prompts"},
    {"name": "timeout", "kind": "int", "min": 1, "max": 30, "default": 5, "label": "Wait for a key, s"},
    {"name": "retries", "kind": "int", "min": 0, "max": 9, "default": 2, "label": "Retries"},
    {"name": "invalid_prompts", "kind": "prompts", "label": "Prompts after a wrong key"},
    {"name": "timeout_prompts", "kind": "prompts", "label": "Prompts when no key is pressed"},
)

register(NodeType("menu", outputs, validate, run, waits=True, fields=FIELDS))

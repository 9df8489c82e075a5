"""Checking a scenario graph before it can be published: every problem names
the node it is about, so the editor can point at it."""
from __future__ import annotations

import re
from dataclasses import dataclass

from appliance.scenarios.nodes import TYPES

NODE_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
MAX_NODES = 500


@dataclass(frozen=True)
class Problem:
    node: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.node}: {self.message}" if self.node else self.message


def edges(node: dict) -> dict[str, str | None]:
    """{output name: target node id or None} of a node."""
    t = TYPES.get(node.get("type"))
    links = node.get("next") if isinstance(node.get("next"), dict) else {}
    if t is None:
        return {}
    out = {}
    for name in t.outputs(node):
        if name.startswith("key:"):
            out[name] = (node.get("options") or {}).get(name[4:])
        else:
            out[name] = links.get(name)
    return out


def check(graph: dict, prompt_exists=lambda name: True) -> list[Problem]:
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), dict):
        return [Problem(None, "a scenario is an object with 'start' and 'nodes'")]
    nodes: dict = graph["nodes"]
    problems: list[Problem] = []
    if not nodes:
        return [Problem(None, "the scenario has no nodes")]
    if len(nodes) > MAX_NODES:
        problems.append(Problem(None, f"more than {MAX_NODES} nodes"))
    if graph.get("start") not in nodes:
        problems.append(Problem(None, "'start' must name one of the nodes"))
    for nid, node in nodes.items():
        if not NODE_ID.fullmatch(str(nid)):
            problems.append(Problem(str(nid), "node ids are letters, digits, _ and -"))
        if not isinstance(node, dict) or node.get("type") not in TYPES:
            problems.append(Problem(nid, f"unknown node type {node.get('type') if isinstance(node, dict) else node!r}"))
            continue
        problems += [Problem(nid, m) for m in TYPES[node["type"]].validate(node)]
        for output, target in edges(node).items():
            if target is None:
                problems.append(Problem(nid, f"output '{output}' leads nowhere"))
            elif target not in nodes:
                problems.append(Problem(nid, f"output '{output}' leads to a missing node '{target}'"))
        for key in sorted(k for k in node if k == "prompts" or k.endswith("_prompts")):
            value = node.get(key) or []
            for name in [value] if isinstance(value, str) else value:
                if not prompt_exists(name):
                    problems.append(Problem(nid, f"prompt '{name}' does not exist"))
    if any(p.node is None for p in problems) or graph.get("start") not in nodes:
        return problems
    reachable = walk(graph)
    problems += [Problem(nid, "cannot be reached from the start") for nid in nodes if nid not in reachable]
    problems += [Problem(nid, "a loop through here never waits for the caller") for nid in silent_loops(graph)]
    return problems


def walk(graph: dict) -> set[str]:
    seen, todo = set(), [graph["start"]]
    while todo:
        nid = todo.pop()
        if nid in seen or nid not in graph["nodes"]:
            continue
        seen.add(nid)
        todo += [t for t in edges(graph["nodes"][nid]).values() if t]
    return seen


def silent_loops(graph: dict) -> list[str]:
    """Nodes on a cycle made only of nodes that never wait for input."""
    nodes = graph["nodes"]
    quiet = {nid for nid, n in nodes.items() if not TYPES[n["type"]].waits}
    bad = []
    for start in quiet:
        stack, seen = [start], set()
        while stack:
            nid = stack.pop()
            for t in edges(nodes[nid]).values():
                if t == start:
                    bad.append(start)
                    stack = []
                    break
                if t in quiet and t not in seen:
                    seen.add(t)
                    stack.append(t)
    return sorted(bad)

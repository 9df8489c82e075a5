"""What every node module builds on: ``NodeType``, the registry it joins,
the validation helpers, and the error that stops a scenario."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

TYPES: dict[str, "NodeType"] = {}


class ScenarioError(RuntimeError):
    """The scenario could not go on (the call then goes to the default group)."""


@dataclass(frozen=True)
class NodeType:
    name: str
    # The names of the node's outputs (each leads to another node) for a
    # given node config; a terminal node has none.
    outputs: Callable[[dict], list[str]]
    # Problems with the config, as messages (the graph adds the node id).
    validate: Callable[[dict], list[str]]
    # Do it: return the name of the output to follow (None ends the walk).
    run: Callable[[dict, "object", "object"], str | None]
    # Whether the node waits for the caller (a loop needs at least one).
    waits: bool = False
    # What the editor's property form shows, in order: dicts with "name",
    # "kind" (text, int, bool, prompts, choice, list, days, variable, table,
    # scenario, group, operator), optional "choices", "default", "min", "max",
    # "when" ({"field": value}: shown only then) and "label" (English; the
    # panel translates it).
    fields: tuple = ()


def register(node_type: NodeType) -> NodeType:
    TYPES[node_type.name] = node_type
    return node_type


def prompts_of(node: dict, key: str = "prompts") -> list[str]:
    value = node.get(key) or []
    return [value] if isinstance(value, str) else list(value)


def need(node: dict, key: str, kind=str) -> list[str]:
    if not isinstance(node.get(key), kind) or node.get(key) in ("", None):
        return [f"'{key}' is required"]
    return []


def int_in(node: dict, key: str, lo: int, hi: int, default: int) -> list[str]:
    value = node.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        return [f"'{key}' must be a whole number from {lo} to {hi}"]
    return []

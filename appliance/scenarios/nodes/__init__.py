"""Node types by name: importing this package registers every node module's
``NodeType`` in ``TYPES``."""
from appliance.scenarios.nodes import (
    callback,
    condition,
    goto,
    hangup,
    input,
    lookup,
    menu,
    message,
    play,
    route,
    say,
    setvar,
)
from appliance.scenarios.nodes.base import TYPES, NodeType

__all__ = ["TYPES", "NodeType"]

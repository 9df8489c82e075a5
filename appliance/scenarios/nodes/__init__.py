"""Node types by name: importing this package registers every node module's
``NodeType`` in ``TYPES``."""
from appliance.scenarios.nodes.base import TYPES, NodeType

from appliance.scenarios.nodes import callback
from appliance.scenarios.nodes import condition
from appliance.scenarios.nodes import goto
from appliance.scenarios.nodes import hangup
from appliance.scenarios.nodes import input
from appliance.scenarios.nodes import lookup
from appliance.scenarios.nodes import menu
from appliance.scenarios.nodes import message
from appliance.scenarios.nodes import play
from appliance.scenarios.nodes import route
from appliance.scenarios.nodes import say
from appliance.scenarios.nodes import setvar

__all__ = ["TYPES", "NodeType"]

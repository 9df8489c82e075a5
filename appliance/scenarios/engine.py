"""Walking a scenario for one call.

The engine knows nothing of Asterisk: it calls a ``CallIO`` (play, wait for
a key, read digits, say, route, hang up, the time). ``appliance.agi``
provides one over FastAGI; ``simulate`` provides one for the panel.
Every step is recorded in the session, so the operator sees the caller's
path and statistics can count calls the IVR served alone.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from appliance.scenarios.nodes import TYPES
from appliance.scenarios.nodes.base import ScenarioError

MAX_STEPS = 300


@dataclass
class Session:
    vars: dict[str, str] = field(default_factory=dict)
    path: list[dict] = field(default_factory=list)
    node_id: str = ""
    jump: str | None = None   # a 'goto' node asks to go on in this scenario

    def get(self, name: str, default: str = "") -> str:
        return self.vars.get(name, default)

    def set(self, name: str, value) -> None:
        self.vars[name] = str(value)
        self.path.append({"node": self.node_id, "set": name, "value": str(value)})

    def expand(self, text: str) -> str:
        """``{name}`` → the session variable's value."""
        return re.sub(r"\{([a-z][a-z0-9_]*)\}", lambda m: self.vars.get(m.group(1), ""), text)


def run(graph: dict, io, session: Session | None = None, load=None, on_step=None) -> Session:
    """Walk *graph*; *load(name)* gives another scenario's published graph
    for 'goto' nodes; *on_step(session)* is called as each node starts."""
    session = session or Session()
    nid = graph["start"]
    for _ in range(MAX_STEPS):
        node = graph["nodes"].get(nid)
        if node is None:
            raise ScenarioError(f"no node {nid!r}")
        session.node_id = nid
        session.path.append({"node": nid, "type": node["type"]})
        if on_step:
            on_step(session)
        output = TYPES[node["type"]].run(node, io, session)
        if session.jump:
            name, session.jump = session.jump, None
            graph = load(name) if load else None
            if not graph:
                raise ScenarioError(f"scenario {name!r} is not published")
            session.path.append({"scenario": name})
            nid = graph["start"]
            continue
        if output is None:
            return session
        if output.startswith("key:"):
            nid = (node.get("options") or {}).get(output[4:])
        else:
            nid = (node.get("next") or {}).get(output)
        if nid is None:
            raise ScenarioError(f"output {output!r} of {session.node_id!r} leads nowhere")
    raise ScenarioError(f"more than {MAX_STEPS} steps")

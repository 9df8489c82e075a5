"""queues.conf: one queue per operator group."""
from __future__ import annotations

from ..model import Config


def render(config: Config) -> str:
    out = ["""[general]
persistentmembers = no
autofill = yes
monitor-type = MixMonitor
shared_lastcall = yes
log_membername_as_agent = yes
"""]
    for g in config.groups:
        out.append(f"""[{g.name}]
strategy = {g.strategy}
timeout = {g.ring_timeout}
retry = 1
wrapuptime = 0
ringinuse = no
autopause = no
joinempty = yes
leavewhenempty = no
setinterfacevar = yes
announce-position = no
""")
        for op, penalty in g.members:
            if op.enabled:
                out.append(f"member => PJSIP/{op.extension},{penalty},{op.name},PJSIP/{op.extension}\n")
    return "\n".join(out)

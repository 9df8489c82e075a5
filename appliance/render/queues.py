"""queues.conf: one queue per operator group.

Members are static (rendered here, with their penalties); who takes calls
right now is the operators' state, pushed as queue pauses by
appliance.agents (see its docstring for why). app_queue keeps the group's
wrap-up time itself; ``autopause`` stays off because the no-answer pause
(F10) is decided by appliance.agent_events, which counts missed offers per
group and writes the pause with its reason into the database first.
"""
from __future__ import annotations

from ..model import Config

# How often a waiting caller hears their position / estimated wait.
ANNOUNCE_EVERY_SECONDS = 30


def render(config: Config) -> str:
    out = ["""[general]
persistentmembers = no
autofill = yes
monitor-type = MixMonitor
shared_lastcall = yes
log_membername_as_agent = yes
"""]
    for g in config.groups:
        announce = g.announce_position or g.announce_holdtime
        out.append(f"""[{g.name}]
strategy = {g.strategy}
timeout = {g.ring_timeout}
retry = 1
wrapuptime = {g.wrapup}
ringinuse = no
autopause = no
joinempty = yes
leavewhenempty = no
setinterfacevar = yes
announce-position = {'yes' if g.announce_position else 'no'}
announce-holdtime = {'once' if g.announce_holdtime else 'no'}
announce-frequency = {ANNOUNCE_EVERY_SECONDS if announce else 0}
min-announce-frequency = 15
announce-round-seconds = 30
""")
        for op, penalty in g.members:
            if op.enabled:
                out.append(f"member => PJSIP/{op.extension},{penalty},{op.name},PJSIP/{op.extension}\n")
    return "\n".join(out)

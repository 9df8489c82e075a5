"""queues.conf: one queue per operator group.

Members are static (rendered here, with their penalties); who takes calls
right now is the operators' state, pushed as queue pauses by
appliance.operators.states (see its docstring for why). app_queue keeps the group's
wrap-up time itself; ``autopause`` stays off because the no-answer pause
(F10) is decided by appliance.operators.queue_events, which counts missed offers per
group and writes the pause with its reason into the database first.

Skill routing (F7, appliance.routing.store) on stock app_queue: for every skill
that an enabled member of a group has, a queue ``<group>--<skill>`` holds
*all* the group's enabled members, each with penalty 10 - level (10 without
the skill). A caller enters it with ``QUEUE_MAX_PENALTY`` set to the best
ready member's penalty, so only the best-skilled are offered the call; the
group's rule set ``korund-widen-<group>`` in queuerules.conf raises the
limit by three levels after ``skill_widen`` seconds and to 10 (everyone in
the group) after ``skill_all`` seconds. Pauses (appliance.operators.states) apply to
every queue a member is in, and ``shared_lastcall`` keeps one wrap-up time
across the group's queues.
"""
from __future__ import annotations

from appliance.operators.devices import interface
from appliance.routing import store as routing

# How often a waiting caller hears their position / estimated wait.
ANNOUNCE_EVERY_SECONDS = 30


def render(config) -> str:
    out = ["""[general]
persistentmembers = no
autofill = yes
monitor-type = MixMonitor
shared_lastcall = yes
log_membername_as_agent = yes
"""]
    for g in config.groups:
        announce = g.announce_position or g.announce_holdtime
        settings = f"""strategy = {g.strategy}
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
"""
        out.append(f"[{g.name}]\n{settings}")
        for op, penalty in g.members:
            if op.enabled:
                out.append(f"member => {interface(op)},{penalty},{op.name},{interface(op)}\n")
        for skill in group_skills(config, g):
            out.append(f"[{routing.skill_queue(g.name, skill)}]\n{settings}")
            for op, _ in g.members:
                if op.enabled:
                    level = config.skills.get(op.extension, {}).get(skill, 0)
                    out.append(f"member => {interface(op)},{routing.NO_SKILL_PENALTY - level},"
                               f"{op.name},{interface(op)}\n")
    return "\n".join(out)


def group_skills(config, g) -> list[str]:
    """The skills some enabled member of *g* has (each gets a queue)."""
    return sorted({s for op, _ in g.members if op.enabled for s in config.skills.get(op.extension, {})})


def render_rules(config) -> str:
    """queuerules.conf: per group, how a skill call widens while it waits."""
    out = []
    for g in config.groups:
        if group_skills(config, g):
            out.append(f"[{routing.rule_name(g.name)}]\n"
                       f"penaltychange => {g.skill_widen},+{routing.WIDEN_STEP}\n"
                       f"penaltychange => {g.skill_all},{routing.NO_SKILL_PENALTY}\n")
    return "\n".join(out)

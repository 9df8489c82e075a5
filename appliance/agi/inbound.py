"""The ``inbound`` script: what a call to the trunk meets.

A number bound to a published scenario runs it (the IVR); a number bound to
a group goes straight to it (F5); otherwise the caller hears the welcome
prompt and goes to the default group. Whatever the scenario does, a failure
in it sends the caller to the default group rather than dropping the call;
so does a route to an outside number the outbound policy refuses
(appliance.outbound: audited, never dialled).
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timezone

from appliance.agi.call_io import AgiCallIO
from appliance.agi.registry import CallContext, script
from appliance.base import dialplan_names as dn
from appliance.operators import states as operator_states
from appliance.outbound import policy as outbound
from appliance.prompts import builtin as prompts
from appliance.routing import store as routing
from appliance.scenarios import engine, store as scenarios

log = logging.getLogger("korund.agi")


def route_to_group(agi, group: str | None, source: str, priority: int = 0) -> None:
    agi.set_variable("__" + dn.VAR_GROUP, group or "")
    agi.set_variable("__" + dn.VAR_ROUTE_SOURCE, source)
    if priority:
        agi.set_variable(dn.VAR_QUEUE_PRIO, str(int(priority)))
    agi.set_variable(dn.VAR_AGI_DONE, "1")


# An operator's phone as the dialplan dials it: PJSIP/<ext> or an FXS port DAHDI/<n>.
PHONE = re.compile(r"^(PJSIP|DAHDI)/[0-9]{1,8}$")


def phone_busy(agi, db, extension: str) -> bool:
    """Is operator *extension*'s phone on any call now -- ringing or
    talking, a queue's or a direct one, one Korund placed or not?

    Asked of Asterisk's live list of channels (CHANNELS(), one channel
    named '<device>-<n>' per call of the phone), not of the store, whose
    state follows app_queue's events only, nor of DEVICE_STATE(), a cache
    Asterisk updates behind the call (Stasis) that can lag or stay stale.
    korund-route's ``operator`` extension asks the same right before it
    dials; this earlier check lets the routing try the next operator and
    keep the call's route source true."""
    device = operator_states.member_interface(db, extension)
    if not PHONE.fullmatch(device):
        return False
    return bool((agi.get_variable(f"CHANNELS(^{device}-)") or "").strip())


def route(agi, db, ani, dnis, request: routing.Request) -> routing.Decision:
    """Decide (appliance.routing.store) and hand the result to korund-route: only
    names and numbers our own code produced reach the dialplan."""
    try:
        d = routing.decide(db, ani, dnis, request, busy=lambda ext: phone_busy(agi, db, ext))
    except Exception:  # never lose the call over a routing problem
        log.exception("routing failed on %s", agi.env.get("agi_uniqueid"))
        d = routing.Decision(request.group or routing.choose_group(db, ani, dnis), request.source,
                             priority=request.priority)
    if d.operator:
        agi.set_variable(dn.VAR_TARGET_OPERATOR, d.operator)
        agi.set_variable(dn.VAR_TARGET_RING, str(int(d.operator_ring)))
    if d.skill:
        agi.set_variable("__" + dn.VAR_SKILL, d.skill)
        agi.set_variable(dn.VAR_QUEUE_MAX_PENALTY, str(int(d.max_penalty or 0)))
    route_to_group(agi, d.group, d.source, d.priority)
    return d


def outside_number(agi, db, target: str, ani: str) -> str | None:
    """The outside number a scenario routes the call to, as it will be
    dialled, if the outbound policy allows it; None (audited) if not."""
    decision = outbound.check(db, target, "route", ani or "")
    if decision.allowed:
        return decision.number
    uniqueid = agi.env.get("agi_uniqueid", "")
    with db.atomic():
        outbound.record_refusal(db, decision, ani or "", "ivr", f"scenario route, call {uniqueid}")
    log.warning("call %s: the scenario's route to %s refused: %s", uniqueid, target, decision.text)
    return None


@script(dn.AGI_INBOUND)
def inbound(agi, ctx: CallContext) -> None:
    agi.answer()
    language = agi.get_variable(dn.VAR_LANGUAGE) or ctx.settings.get("language", "ru")
    ani = agi.get_variable(dn.VAR_ANI)
    dnis = agi.get_variable(dn.VAR_DNIS)
    default = routing.choose_group(ctx.db, ani=ani, dnis=dnis)
    binding = scenarios.for_call(ctx.db, dnis, when=datetime.now(timezone.utc))
    if binding is None:
        agi.stream_file(str(prompts.prompt_path(ctx.sounds, language, "welcome")))
        route(agi, ctx.db, ani, dnis, routing.Request(default, source="agi"))
        return
    if binding[0] == "group":
        route(agi, ctx.db, ani, dnis, routing.Request(binding[1], source="direct"))
        return
    io = AgiCallIO(agi, ctx.sounds, language, ctx.db)
    session = engine.Session(vars={"ani": ani, "dnis": dnis})
    steps = scenarios.StepLog(ctx.db, agi.env.get("agi_uniqueid", ""), sink=ctx.step_sink)
    try:
        engine.run(binding[1], io, session, load=lambda name: scenarios.published(ctx.db, name),
                   on_step=lambda s: steps.write(s.path))
    except engine.ScenarioError as exc:
        log.error("scenario failed on %s: %s", agi.env.get("agi_uniqueid"), exc)
        session.path.append({"error": str(exc)})
        route_to_group(agi, default, "scenario-error")
        return
    finally:
        steps.write(session.path)
    if io.route_result is None:
        return  # the scenario hung up
    kind, target, priority = io.route_result
    if kind == "group":
        route(agi, ctx.db, ani, dnis, routing.Request(target, io.route_skill, priority, source="scenario"))
        return
    if kind == "operator":
        agi.set_variable(dn.VAR_TARGET_OPERATOR, target)
    elif kind == "number":
        number = outside_number(agi, ctx.db, target, ani)
        if number:
            agi.set_variable(dn.VAR_TARGET_NUMBER, number)
    route_to_group(agi, default, "scenario", priority)

"""The ``feature-codes`` script (phone feature codes) and the ``overflow`` script.

``feature-codes``: an operator dials *51 (log in), *52 (log out), *53N (pause with
reason number N; *53 alone takes the first reason) or *54 (ready) from their
phone. Who is asking is the channel's PJSIP endpoint — set by Asterisk from
the authenticated phone, never from anything the caller sends — or, for an
analog phone on an FXS port, the operator whose device is that DAHDI
channel (the port is wired to one desk); the caller hears a confirmation
(or "incorrect" when the code did nothing).

``overflow``: a group's caller waited ``max_wait`` and the group overflows
to a scenario: run it like the inbound script does and route on its result.

``outbound``: an operator dialled a number that is no extension of the
appliance (korund-operators-dial in the dialplan); the outbound policy
decides (appliance.outbound, purpose "operator"). Allowed: the number goes
back to the dialplan, which dials it out through the trunk. Refused (or
a phone that is no operator's): the operator hears why, the refusal is
audited, and the dialplan hangs up -- as it does when this script never
answers.
"""
from __future__ import annotations

import logging

from appliance.agi.call_io import AgiCallIO
from appliance.agi.inbound import outside_number
from appliance.agi.registry import CallContext, script
from appliance.base import ami, dialplan_names as dn
from appliance.base.errors import ConfigError
from appliance.operators import devices, states as operator_states
from appliance.scenarios import engine, store as scenarios

log = logging.getLogger("korund.agi")

# Asterisk's stock sounds (their file names say agent)
CONFIRM = {"login": "agent-loginok", "ready": "agent-loginok", "logout": "agent-loggedoff",
           "pause": "auth-thankyou"}
REFUSED = "agent-incorrect"
OUTBOUND_REFUSED = "outbound-refused"   # a built-in prompt (appliance.prompts.builtin)


def feature(db, ami_client, extension: str, action: str, arg: str = "") -> dict:
    """Apply a feature code for *extension*; the operator's new state."""
    if action == "login":
        return operator_states.login(db, ami_client, extension, by=f"phone {extension}")
    if action == "logout":
        return operator_states.logout(db, ami_client, extension, by=f"phone {extension}")
    if action == "ready":
        return operator_states.ready(db, ami_client, extension, by=f"phone {extension}")
    if action == "pause":
        reason = arg or next((r["code"] for r in operator_states.reasons(db) if not r["builtin"]), "")
        return operator_states.pause(db, ami_client, extension, reason, by=f"phone {extension}")
    raise ConfigError("action", "'{action}' is not a feature code", action=action)


def phone_extension(agi, ctx: CallContext) -> str:
    """The operator whose phone this channel is: the PJSIP endpoint, or the
    operator whose device is the FXS port ('' if none)."""
    if (agi.get_variable("CHANNEL(channeltype)") or "") == "DAHDI":   # an analog phone on an FXS port
        port = "".join(c for c in agi.get_variable("CHANNEL(dahdi_channel)") or "" if c.isdigit())
        return (devices.extension_of_interface(ctx.db, f"DAHDI/{port}") or "") if port else ""
    return agi.get_variable("CHANNEL(endpoint)") or ""


@script(dn.AGI_FEATURE_CODES)
def feature_codes(agi, ctx: CallContext) -> None:
    action = agi.env.get("agi_arg_1", "")
    arg = "".join(c for c in agi.env.get("agi_arg_2", "") if c.isdigit())
    extension = phone_extension(agi, ctx)
    agi.answer()
    try:
        mgr = ami.connect(ctx.settings, timeout=2)
    except ami.AmiError:
        mgr = None  # the database changes now; the events service's sync tells Asterisk
    try:
        with operator_states.immediate(ctx.db):
            result = feature(ctx.db, mgr, extension, action, arg)
        log.info("feature code %s %s from %s: %s", action, arg, extension, result["state"])
        sound = CONFIRM[action]
    except ConfigError as exc:
        log.info("feature code %s %s from %r refused: %s", action, arg, extension, exc)
        sound = REFUSED
    finally:
        ami.close(mgr)
    agi.stream_file(sound)


@script(dn.AGI_OVERFLOW)
def overflow(agi, ctx: CallContext) -> None:
    name = agi.env.get("agi_arg_1", "")
    language = agi.get_variable(dn.VAR_LANGUAGE) or ctx.settings.get("language", "ru")
    session = engine.Session(vars={"ani": agi.get_variable(dn.VAR_ANI),
                                   "dnis": agi.get_variable(dn.VAR_DNIS)})
    io = AgiCallIO(agi, ctx.sounds, language, ctx.db)
    graph = scenarios.published(ctx.db, name)
    if graph is None:
        log.error("overflow scenario %s is not published; ending %s", name, agi.env.get("agi_uniqueid"))
        return
    try:
        engine.run(graph, io, session, load=lambda n: scenarios.published(ctx.db, n))
    except engine.ScenarioError as exc:
        log.error("overflow scenario %s failed on %s: %s", name, agi.env.get("agi_uniqueid"), exc)
        return  # the dialplan ends the call: there is nowhere left to wait
    finally:
        scenarios.record_path(ctx.db, agi.env.get("agi_uniqueid", ""), session.path)
    if io.route_result is None:
        agi.set_variable(dn.VAR_AGI_DONE, "hangup")
        return
    kind, target, priority = io.route_result
    if kind == "operator":
        agi.set_variable(dn.VAR_TARGET_OPERATOR, target)
    elif kind == "number":
        number = outside_number(agi, ctx.db, target, agi.get_variable(dn.VAR_ANI) or "")
        if number:   # refused: back to the group's queue
            agi.set_variable(dn.VAR_TARGET_NUMBER, number)
    if kind == "group":
        agi.set_variable("__" + dn.VAR_GROUP, target)
    agi.set_variable("__" + dn.VAR_ROUTE_SOURCE, "overflow")
    if priority:
        agi.set_variable(dn.VAR_QUEUE_PRIO, str(int(priority)))
    agi.set_variable(dn.VAR_AGI_DONE, "1")

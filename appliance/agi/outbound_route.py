"""The AGI script ``outbound-route``: the plan of a call out, for the
``korund-outbound`` subroutine (appliance.outbound.render).

It reads the number and purpose the caller's leg set, works out who dials
(an operator's phone for purpose 'operator', the caller of a callback
order), asks appliance.outbound.routes for the tries -- the outbound policy,
the class of service, the route, the trunk groups with the channels kept
free for inbound counted on the spans -- and sets them on the channel. A
refusal is written to the audit log; an operator hears why on the phone.
"""
from __future__ import annotations

import logging

from appliance.agi.feature_codes import OUTBOUND_REFUSED, phone_extension
from appliance.agi.registry import CallContext, script
from appliance.base import dialplan_names as dn
from appliance.outbound import policy, render, routes, store as outbound_store
from appliance.prompts import builtin as prompts

log = logging.getLogger("korund.agi")


def _digits(value: str | None) -> str:
    return "".join(ch for ch in value or "" if ch.isdigit())


def _busy(agi):
    def busy(span: int) -> int:
        value = agi.get_full_variable(f"${{GROUP_COUNT({int(span)}@{render.SPAN_GROUP})}}")
        return int(_digits(value) or 0)
    return busy


def _caller(agi, ctx: CallContext, purpose: str) -> str:
    """Whose number the policy's callback rules compare against."""
    if purpose == "callback-attempt":
        order = _digits(agi.get_variable(dn.VAR_CALLBACK_ORDER))
        row = ctx.db.execute("SELECT ani FROM callbacks WHERE id = ?", [int(order)]).fetchone() if order else None
        return (row[0] if row else "") or ""
    return agi.get_variable(dn.VAR_ANI) or ""


@script(dn.AGI_OUTBOUND_ROUTE)
def outbound_route(agi, ctx: CallContext) -> None:
    number = agi.get_variable(dn.VAR_OUT_NUMBER) or ""
    purpose = agi.get_variable(dn.VAR_OUT_PURPOSE) or ""
    if purpose not in policy.PURPOSES:
        log.error("a call out with no known purpose (%r) on %s: refused", purpose, agi.env.get("agi_channel"))
        agi.set_variable(dn.VAR_OUT_REFUSED, "purpose")
        return
    operator = phone_extension(agi, ctx) if purpose == "operator" else ""
    only_route = agi.get_variable(dn.VAR_OUT_ONLY_ROUTE) or "" if purpose == "test" else ""
    only_span = _digits(agi.get_variable(dn.VAR_OUT_ONLY_SPAN)) if purpose == "test" else ""
    plan = routes.plan(ctx.db, number, purpose, operator=operator, only_route=only_route,
                       only_span=int(only_span) if only_span else None, busy=_busy(agi),
                       caller=_caller(agi, ctx, purpose))
    agi.set_variable(dn.VAR_OUT_ROUTE, plan.route)
    if plan.refused:
        agi.set_variable(dn.VAR_OUT_REFUSED, plan.refused)
        by = f"phone {operator}" if operator else {"route": "ivr", "test": "test dial"}.get(purpose, "dialer")
        with ctx.db.atomic():
            outbound_store.record_refusal(ctx.db, {"number": plan.number, "purpose": purpose, "reason": plan.refused,
                                                   "message": plan.message}, operator or _caller(agi, ctx, purpose),
                                          by, f"call {agi.env.get('agi_uniqueid', '')}")
        log.info("call out to %r (%s) refused: %s", number, purpose, plan.message)
        if purpose == "operator":
            agi.answer()
            agi.stream_file(str(prompts.prompt_path(ctx.sounds, ctx.settings.get("language", "ru"),
                                                    OUTBOUND_REFUSED)))
        return
    for i, t in enumerate(plan.tries, 1):
        agi.set_variable(f"{dn.VAR_OUT_TECH}{i}", t.tech)
        agi.set_variable(f"{dn.VAR_OUT_WHERE}{i}", t.where)
        agi.set_variable(f"{dn.VAR_OUT_PREFIX}{i}", t.prefix)
        agi.set_variable(f"{dn.VAR_OUT_TG}{i}", t.trunk_group)
        agi.set_variable(f"{dn.VAR_OUT_TG_CAP}{i}", str(t.cap))
        agi.set_variable(f"{dn.VAR_OUT_SENT}{i}", t.sent)
        agi.set_variable(f"{dn.VAR_OUT_CID}{i}", t.caller_id)
        agi.set_variable(f"{dn.VAR_OUT_CATEGORY}{i}", t.category)
    agi.set_variable(dn.VAR_OUT_ROUTE_CAP, str(plan.route_cap))
    agi.set_variable(dn.VAR_OUT_TRIES, str(len(plan.tries)))
    log.info("call out to %s (%s) by route %s: %d tries", plan.number, purpose, plan.route or "-", len(plan.tries))

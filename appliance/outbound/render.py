"""extensions.conf, dialling out: the ``korund-outbound`` subroutine that
every call out goes through (the callback dialer, a scenario's outside
number, an operator's call, a transfer to a number, a technician's test dial).

The caller's leg sets VAR_OUT_NUMBER and VAR_OUT_PURPOSE, then
``Gosub(korund-outbound,s,1(<ring seconds>,<Dial options>))``. The AGI script
``outbound-route`` (appliance.agi.outbound_route) applies the outbound
policy, the class of service and the routes, and hands back the tries;
the dialplan then dials them in order, the next one when a trunk group is
full (its cap, counted with GROUP()) or the way failed (CONGESTION,
CHANUNAVAIL). Without the AGI's answer nothing is dialled: it fails closed.

On return DIALSTATUS is Dial's, or REFUSED; each try is reported in a
UserEvent (EVENT_OUTBOUND) with the Q.850 cause Dial leaves in HANGUPCAUSE.
A DAHDI outgoing leg, before it is dialled, counts itself on its span (GROUP
category ``korund_span``, which inbound DAHDI calls use too: the channels
kept free for inbound are counted from it) and sets its span and circuit
(VAR_OUT_SPAN, VAR_OUT_CIRCUIT: VarSet events the call history keeps).
"""
from __future__ import annotations

from appliance.base import dialplan_names as dn

SPAN_GROUP = "korund_span"
PENDING = "KORUND_OUT_PENDING"   # 1 while a try is being dialled or talked: its report is still due


def render(agi_base: str) -> str:
    i = "${LOCAL(i)}"
    tries = f"${{FILTER(0-9,${{{dn.VAR_OUT_TRIES}}})}}"
    tg = "${LOCAL(tg)}"
    event = (f"UserEvent({dn.EVENT_OUTBOUND},Route: ${{FILTER(-a-z0-9_,${{{dn.VAR_OUT_ROUTE}}})}},"
             f"TrunkGroup: ${{{dn.VAR_OUT_TRUNK_GROUP}}},"
             f"Dialled: ${{{dn.VAR_OUT_DIALLED}}},Sent: ${{{dn.VAR_OUT_SENT_AS}}},"
             f"Purpose: ${{FILTER(a-z-,${{{dn.VAR_OUT_PURPOSE}}})}},DialStatus: ${{DIALSTATUS}},"
             f"Cause: ${{{dn.VAR_OUT_CAUSE}}},"
             f"Refused: ${{FILTER(a-z-,${{{dn.VAR_OUT_REFUSED}}})}})")
    return f"""
[{dn.CTX_OUTBOUND}]
; ARG1: seconds the far end may ring (digits; empty: VAR_OUT_RING's, or no limit); ARG2: Dial options (letters).
exten => s,1,Set(LOCAL(ring)=${{FILTER(0-9,${{ARG1}})}})
 same => n,ExecIf($["${{LOCAL(ring)}}" = ""]?Set(LOCAL(ring)=${{FILTER(0-9,${{{dn.VAR_OUT_RING}}})}}))
 same => n,Set(LOCAL(opts)=${{FILTER(a-zA-Z,${{ARG2}})}})
 same => n,Set({PENDING}=)
 same => n,Set(CHANNEL(hangup_handler_push)={dn.CTX_OUTBOUND},hangup,1)
 same => n,Set({dn.VAR_OUT_TRIES}=0)
 same => n,Set({dn.VAR_OUT_REFUSED}=)
 same => n,Set({dn.VAR_OUT_ROUTE}=)
 same => n,Set({dn.VAR_OUT_TRUNK_GROUP}=)
 same => n,Set({dn.VAR_OUT_SENT_AS}=)
 same => n,Set({dn.VAR_OUT_DIALLED}=${{FILTER(0-9+,${{{dn.VAR_OUT_NUMBER}}})}})
 same => n,Set(LOCAL(tg)=)
 same => n,Set(LOCAL(route)=)
 same => n,AGI({agi_base}/{dn.AGI_OUTBOUND_ROUTE})
 same => n,GotoIf($["{tries}" = "" | "{tries}" = "0"]?refused)
 same => n,Set(LOCAL(route)=${{FILTER(-a-z0-9_,${{{dn.VAR_OUT_ROUTE}}})}})
 same => n,Set(GROUP({dn.GROUP_OUT_ROUTE})=${{LOCAL(route)}})
 same => n,GotoIf($[${{FILTER(0-9,${{{dn.VAR_OUT_ROUTE_CAP}}})}}0 = 0]?go)
 same => n,GotoIf($[${{GROUP_COUNT(${{LOCAL(route)}}@{dn.GROUP_OUT_ROUTE})}} <= ${{FILTER(0-9,${{{dn.VAR_OUT_ROUTE_CAP}}})}}]?go)
 same => n,Set(DIALSTATUS=CONGESTION)
 same => n,Set({dn.VAR_OUT_CAUSE}=34)
 same => n,Goto(done)
 same => n(go),Set(LOCAL(i)=1)
 same => n(next),GotoIf($[{i} > {tries}]?done)
 same => n,Set(LOCAL(tg)=${{FILTER(-a-z0-9_,${{{dn.VAR_OUT_TG}{i}}})}})
 same => n,Set(GROUP({dn.GROUP_OUT_TG})={tg})
 same => n,GotoIf($[${{FILTER(0-9,${{{dn.VAR_OUT_TG_CAP}{i}}})}}0 = 0]?dial)
 same => n,GotoIf($[${{GROUP_COUNT({tg}@{dn.GROUP_OUT_TG})}} <= ${{FILTER(0-9,${{{dn.VAR_OUT_TG_CAP}{i}}})}}]?dial)
 same => n,Set(DIALSTATUS=CONGESTION)
 same => n,Goto(skip)
 same => n(dial),Set({dn.VAR_OUT_TRUNK_GROUP}={tg})
 same => n,Set({dn.VAR_OUT_SENT_AS}=${{FILTER(0-9+,${{{dn.VAR_OUT_SENT}{i}}})}})
 same => n,Set(LOCAL(where)=${{FILTER(-A-Za-z0-9_,${{{dn.VAR_OUT_WHERE}{i}}})}})
 same => n,Set(LOCAL(pfx)=${{FILTER(A-Za-z,${{{dn.VAR_OUT_PREFIX}{i}}})}})
 same => n,Set(LOCAL(dial)=PJSIP/${{{dn.VAR_OUT_SENT_AS}}}@${{LOCAL(where)}})
 same => n,ExecIf($["${{FILTER(a-z,${{{dn.VAR_OUT_TECH}{i}}})}}" = "dahdi"]?Set(LOCAL(dial)=DAHDI/${{LOCAL(where)}}/${{LOCAL(pfx)}}${{{dn.VAR_OUT_SENT_AS}}}))
 same => n,Set(LOCAL(cid)=${{FILTER(0-9+,${{{dn.VAR_OUT_CID}{i}}})}})
 same => n,ExecIf($["${{LOCAL(cid)}}" != ""]?Set(CALLERID(num)=${{LOCAL(cid)}}))
 same => n,ExecIf($["${{LOCAL(cid)}}" != ""]?Set(CALLERID(name)=))
 same => n,Set(_MFCR2_CATEGORY=${{FILTER(a-z_,${{{dn.VAR_OUT_CATEGORY}{i}}})}})
 same => n,Set({PENDING}=1)
 same => n,Dial(${{LOCAL(dial)}},${{LOCAL(ring)}},${{LOCAL(opts)}}gb({dn.CTX_OUTBOUND}^leg^1))
 same => n,Set({PENDING}=)
 same => n,Gosub(report,1)
 same => n,GotoIf($["${{DIALSTATUS}}" = "CONGESTION" | "${{DIALSTATUS}}" = "CHANUNAVAIL"]?skip)
 same => n,Goto(done)
 same => n(skip),Set(LOCAL(i)=$[{i} + 1])
 same => n,Goto(next)
 same => n(done),Set({dn.VAR_OUT_STATUS}=${{DIALSTATUS}})
 same => n,Return()
 same => n(refused),Set(DIALSTATUS=REFUSED)
 same => n,Gosub(report,1)
 same => n,Return()
; What became of a try: its cause and status on the caller's leg, and the event.
exten => report,1,Set({dn.VAR_OUT_CAUSE}=${{FILTER(0-9,${{HANGUPCAUSE}})}})
 same => n,Set({dn.VAR_OUT_STATUS}=${{DIALSTATUS}})
 same => n,{event}
 same => n,Return()
; The caller's leg hung up while a try was up (an operator ending the call): reported all the same.
exten => hangup,1,GotoIf($["${{{PENDING}}}" != "1"]?done)
 same => n,Set({PENDING}=)
 same => n,Gosub(report,1)
 same => n(done),Return()
; The outgoing leg, before it is dialled: on a DAHDI line, counted on its span and named by it.
exten => leg,1,GotoIf($["${{CHANNEL(channeltype)}}" != "DAHDI"]?done)
 same => n,Set(GROUP({SPAN_GROUP})=${{FILTER(0-9,${{CHANNEL(dahdi_span)}})}})
 same => n,Set({dn.VAR_OUT_SPAN}=${{FILTER(0-9,${{CHANNEL(dahdi_span)}})}})
 same => n,Set({dn.VAR_OUT_CIRCUIT}=${{FILTER(0-9,${{CHANNEL(dahdi_channel)}})}})
 same => n(done),Return()
"""

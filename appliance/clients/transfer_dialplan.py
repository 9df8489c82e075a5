"""extensions.conf: the desktop's transfer of a call to an outside number
(appliance.clients.desktop.transfer).

Blind: the desktop sets VAR_XFER_NUMBER on the caller's channel (AMI Setvar)
and redirects it to ``s``; attended: Asterisk's Atxfer keys the number in as
an extension of this context from the operator's channel, and the Local
channel it makes consults the number. The number was checked in Python first
(the outbound policy, the transferring operator's class of service, a route
that takes it); here it is taken as digits only -- by a filtered copy as
long as the original, by fixed-length digit patterns -- and dialled through
the outbound routes (``korund-outbound``), the only way anything dials out,
with purpose ``route``: the caller's leg is no operator's phone. A blind
transfer that does not reach the number sends the caller back to the
routing (the call's group, else the default one); a consultation that does
not leaves the operator with the caller, as Asterisk's attended transfer does.
"""
from __future__ import annotations

from appliance.base import dialplan_names as dn

# The filtered copy of the number; only this context sets it.
NUMBER = "KORUND_XNUMBER"
RING_SECONDS = 60
# What Atxfer can key in: digits only (DTMF has no +), as the operators' context takes them.
DIGITS = range(2, 21)


def _same_length(raw: str) -> str:
    return f"$[${{LEN(${{{NUMBER}}})}} = ${{LEN(${{{raw}}})}}]"


def _dial(first: str) -> str:
    """The lines that dial NUMBER out through the routes; *first* begins them
    (an extension's first line, or a labelled priority)."""
    return (f"{first}Set({dn.VAR_OUT_NUMBER}=${{{NUMBER}}})\n"
            f" same => n,Set({dn.VAR_OUT_PURPOSE}=route)\n"
            f" same => n,Set(CDR(korund_route)=transfer-out)\n"
            f" same => n,Gosub({dn.CTX_OUTBOUND},s,1({RING_SECONDS},))\n")


def render() -> str:
    consult = "".join(f"""exten => _{'X' * n},1,Set({NUMBER}=${{FILTER(0-9,${{EXTEN}})}})
 same => n,GotoIf({_same_length("EXTEN")}?consult,1)
 same => n,Hangup(21)
""" for n in DIGITS)
    return f"""
[{dn.CTX_TRANSFER_OUT}]
exten => s,1,Set({NUMBER}=${{FILTER(0-9+,${{{dn.VAR_XFER_NUMBER}}})}})
 same => n,GotoIf($["${{{NUMBER}}}" = ""]?back)
 same => n,GotoIf({_same_length(dn.VAR_XFER_NUMBER)}?dial)
 same => n(back),Set({dn.VAR_XFER_NUMBER}=)
 same => n,Goto({dn.CTX_ROUTE},s,1)
{_dial(" same => n(dial),")} same => n,GotoIf($["${{DIALSTATUS}}" != "ANSWER"]?back)
 same => n,Hangup()
{consult}{_dial("exten => consult,1,")} same => n,Hangup()
"""

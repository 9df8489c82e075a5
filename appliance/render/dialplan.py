"""extensions.conf: inbound calls, routing to groups, the AGI-down fallback."""
from __future__ import annotations

from .. import dialplan_names as dn
from ..model import Config

# Caller names keep letters, digits, spaces and a few harmless marks.
NAME_ALLOWED = r"a-zA-Z0-9 ._-"
MAX_WAIT_SECONDS = 600
OPERATOR_RING_SECONDS = 20


def render(config: Config) -> str:
    s = config.settings
    default = config.default_group
    default_name = default.name if default else ""
    agi = f"agi://{s['net.address']}:{s['agi.port']}/{dn.AGI_INBOUND}"
    inbound_body = f"""Set(__{dn.VAR_ANI}=${{FILTER({dn.ANI_ALLOWED},${{CALLERID(num)}})}})
 same => n,Set(CALLERID(num)=${{{dn.VAR_ANI}}})
 same => n,Set(CALLERID(name)=${{FILTER({NAME_ALLOWED},${{CALLERID(name)}})}})
 same => n,Set(__{dn.VAR_DNIS}=${{FILTER({dn.DNIS_ALLOWED},${{EXTEN}})}})
 same => n,Set(__{dn.VAR_TRUNK}=${{CHANNEL(endpoint)}})
 same => n,Set(CHANNEL(language)={s.get('language', 'ru')})
 same => n,Set({dn.VAR_AGI_DONE}=0)
 same => n,AGI({agi})
 same => n,GotoIf($["${{{dn.VAR_AGI_DONE}}}" = "1"]?{dn.CTX_ROUTE},s,1)
 same => n,GotoIf($["${{{dn.VAR_AGI_DONE}}}" = "hangup"]?{dn.CTX_ROUTE},end,1)
 ; The AGI server is down, slow or failed: route to the default group anyway.
 same => n,Set(__{dn.VAR_GROUP}={default_name})
 same => n,Set(__{dn.VAR_ROUTE_SOURCE}=fallback)
 same => n,Goto({dn.CTX_ROUTE},s,1)
"""
    trunk = next((t.name for t in config.trunks if t.kind == "sip" and t.enabled), None)
    outside = (f"Dial(PJSIP/${{FILTER(0-9+,${{{dn.VAR_TARGET_NUMBER}}})}}@{trunk},60)"
               if trunk else "Playback(ss-noservice)")
    out = [f"""[general]
static = yes
writeprotect = yes
clearglobalvars = yes

[globals]

[{dn.CTX_INBOUND}]
exten => s,1,{inbound_body}
exten => _[0-9+*#]!,1,{inbound_body}
exten => i,1,Hangup(1)
exten => h,1,NoOp(end of call ${{UNIQUEID}})

[{dn.CTX_ROUTE}]
exten => s,1,Set(__{dn.VAR_GROUP}=${{FILTER(a-z0-9_-,${{{dn.VAR_GROUP}}})}})
 same => n,GotoIf($["${{{dn.VAR_TARGET_OPERATOR}}}" != ""]?operator,1)
 same => n,GotoIf($["${{{dn.VAR_TARGET_NUMBER}}}" != ""]?outside,1)
 same => n,GotoIf(${{DIALPLAN_EXISTS({dn.CTX_ROUTE},q-${{{dn.VAR_GROUP}}},1)}}?q-${{{dn.VAR_GROUP}}},1)
 same => n,Set(__{dn.VAR_GROUP}={default_name})
 same => n,GotoIf(${{DIALPLAN_EXISTS({dn.CTX_ROUTE},q-${{{dn.VAR_GROUP}}},1)}}?q-${{{dn.VAR_GROUP}}},1)
 same => n,Playback(ss-noservice)
 same => n,Hangup(34)
exten => operator,1,Dial(PJSIP/${{FILTER(0-9,${{{dn.VAR_TARGET_OPERATOR}}})}},{OPERATOR_RING_SECONDS})
 ; Not answered: the operator's group (or the default one) takes the call.
 same => n,Set({dn.VAR_TARGET_OPERATOR}=)
 same => n,Goto(s,1)
exten => outside,1,{outside}
 same => n,Hangup()
exten => end,1,Hangup(16)
"""]
    for g in config.groups:
        out.append(f"""exten => q-{g.name},1,Set(CDR(korund_group)={g.name})
 same => n,Set(CDR(korund_route)=${{{dn.VAR_ROUTE_SOURCE}}})
 same => n,Set(CDR(korund_dnis)=${{{dn.VAR_DNIS}}})
 same => n,Queue({g.name},r,,,{MAX_WAIT_SECONDS})
 same => n,Hangup(17)
""")
    out.append(f"""
[{dn.CTX_OPERATORS}]
exten => _XX!,1,GotoIf(${{DIALPLAN_EXISTS(korund-operators-local,${{EXTEN}},1)}}?korund-operators-local,${{EXTEN}},1)
 same => n,Hangup(1)

[korund-operators-local]
""")
    for op in config.operators:
        if op.enabled:
            out.append(f"exten => {op.extension},1,Dial(PJSIP/{op.extension},30)\n same => n,Hangup()\n")
    out.append(f"""
[{dn.CTX_AGI_FAIL}]
exten => s,1,Goto({dn.CTX_ROUTE},s,1)
""")
    return "".join(out)

"""extensions.conf, recording part (F12): the ``korund-record`` subroutine
that the operator's channel runs once the operator answers, and the
recording policies rendered as one extension each (appliance.recordings.store).

The choice happens in the dialplan, so it never waits for the AGI server:
the number's policy (``number-<dnis>``), else the group's (``group-<name>``),
else ``default``; the callback dialer's calls take ``callbacks``, an
operator's own calls out ``default``. 'sampled'
draws ``RAND(1,100)`` per call; 'demand' and 'none' record nothing here
(the desktop's Record button starts a demand recording over AMI).
"""
from __future__ import annotations

from appliance.base import dialplan_names as dn
from appliance.base.instance import Instance
from appliance.recordings import store as recordings

DEFAULT = {"scope": "default", "target": "", "mode": "all", "sample_percent": 100,
           "two_channel": False}


def exten_of(policy: dict) -> str:
    scope, target = policy["scope"], policy["target"]
    return f"{scope}-{target}" if scope in ("group", "number") else scope


def policy_extensions(policy_list: list[dict]) -> str:
    out = []
    if not any(p["scope"] == "default" for p in policy_list):
        policy_list = [DEFAULT, *policy_list]
    for p in policy_list:
        # Targets were checked on the way in (group names, [0-9+*#] numbers);
        # check again: nothing else may reach the dialplan.
        target = p["target"]
        if p["scope"] == "group" and not recordings.GROUP_NAME.fullmatch(target):
            continue
        if p["scope"] == "number" and not recordings.NUMBER.fullmatch(target):
            continue
        if p["mode"] not in recordings.MODES:
            continue
        out.append(f"""exten => {exten_of(p)},1,Set({dn.VAR_REC_MODE}={p['mode']})
 same => n,Set({dn.VAR_REC_PERCENT}={int(p['sample_percent'])})
 same => n,Set({dn.VAR_REC_TWO_CHANNEL}={1 if p['two_channel'] else 0})
 same => n,Set({dn.VAR_REC_POLICY}={recordings.policy_key(p['scope'], target)})
 same => n,Return()
""")
    return "".join(out)


def render(config, inst: Instance) -> str:
    root = recordings.recordings_dir(inst)
    grp = f"${{FILTER(-a-z0-9_,${{{dn.VAR_GROUP}}})}}"
    dnis = f"${{FILTER({dn.DNIS_ALLOWED},${{{dn.VAR_DNIS}}})}}"
    exists = f"DIALPLAN_EXISTS({dn.CTX_RECORD_POLICY}"
    callbacks = '$["${ARG1}" = "callbacks"]'
    own = '$["${ARG1}" = "outbound"]'      # an operator's own call out
    out = '$["${ARG1}" = "callbacks" | "${ARG1}" = "outbound"]'
    ani = (f"${{IF({callbacks}?${{FILTER(0-9,${{{dn.VAR_CALLBACK_NUMBER}}})}}"
           f":${{IF({own}?${{FILTER(0-9+,${{{dn.VAR_DIALLED}}})}}"
           f":${{FILTER({dn.ANI_ALLOWED},${{{dn.VAR_ANI}}})}})}})}}")
    base = "${LOCAL(rbase)}-${LOCAL(rn)}"
    return f"""
[{dn.CTX_RECORD}]
; Gosub on the operator's channel once answered; ARG1 'callbacks' for the dialer's calls,
; 'outbound' for an operator's own call out (the default policy; recorded once bridged, as callbacks).
exten => s,1,Set(LOCAL(rkey)=default)
 same => n,GotoIf({callbacks}?cb)
 same => n,GotoIf({own}?choose)
 same => n,ExecIf(${{{exists},group-{grp},1)}}?Set(LOCAL(rkey)=group-{grp}))
 same => n,ExecIf(${{{exists},number-{dnis},1)}}?Set(LOCAL(rkey)=number-{dnis}))
 same => n,Goto(choose)
 same => n(cb),ExecIf(${{{exists},callbacks,1)}}?Set(LOCAL(rkey)=callbacks))
 same => n(choose),Gosub({dn.CTX_RECORD_POLICY},${{LOCAL(rkey)}},1)
 same => n,GotoIf($["${{{dn.VAR_REC_MODE}}}" = "all"]?record)
 same => n,GotoIf($[("${{{dn.VAR_REC_MODE}}}" = "sampled") & (${{RAND(1,100)}} <= ${{{dn.VAR_REC_PERCENT}}})]?record)
 same => n,Return()
 same => n(record),Set(LOCAL(rbase)={root}/${{STRFTIME(${{EPOCH}},,%Y/%m/%d)}}/${{FILTER(0-9A-Za-z._,${{CHANNEL(linkedid)}})}})
 same => n,Set(LOCAL(rn)=1)
 same => n,While($[${{STAT(e,{base}.wav)}} | ${{STAT(e,{base}-caller.wav)}}])
 same => n,Set(LOCAL(rn)=$[${{LOCAL(rn)}} + 1])
 same => n,EndWhile()
 same => n,Set({dn.VAR_REC_FILE}={base}.wav)
 same => n,UserEvent({dn.EVENT_RECORDING},File: {base}.wav,Policy: ${{{dn.VAR_REC_POLICY}}},Mode: ${{{dn.VAR_REC_MODE}}},TwoChannel: ${{{dn.VAR_REC_TWO_CHANNEL}}},Group: {grp},Dnis: {dnis},Ani: {ani},Direction: ${{IF({out}?outbound:inbound)}})
 same => n,Set(LOCAL(ropts)=${{IF({out}?b:)}})
 same => n,GotoIf($["${{{dn.VAR_REC_TWO_CHANNEL}}}" = "1"]?two)
 same => n,MixMonitor({base}.wav,${{LOCAL(ropts)}},touch {base}.done)
 same => n,Return()
 same => n(two),MixMonitor(,${{LOCAL(ropts)}}r({base}-operator.wav)t({base}-caller.wav),touch {base}.done)
 same => n,Return()

[{dn.CTX_RECORD_POLICY}]
{policy_extensions(getattr(config, 'recording_policies', None) or [])}"""

"""extensions.conf: inbound calls, routing to groups, the AGI-down fallback.

No value from outside reaches an application's argument unfiltered: not
the dialled extension, the caller ID or the MFC/R2 category, and not a
channel variable the FastAGI scripts, the callback dialer or an AMI action
set. Each is read only through ``FILTER(<allowed characters>,...)`` (or
``LEN()``), and where a filtered copy is used more than once it gets a
variable of its own that only the dialplan sets (``KORUND_RGROUP``, ...).
Where a value decides where the call goes -- the number an operator dialled,
the number the dialer or a scenario dials out -- the filtered copy must also
be as long as the original, or the call is refused. The operators' context
matches dialled numbers by digit-only patterns. tests/unit/test_dialplan_filters.py
checks every generated line.
"""
from __future__ import annotations

from appliance.base import dialplan_names as dn
from appliance.clients import transfer_dialplan
from appliance.lines import test_dial
from appliance.operators.devices import DEVICE, interface
from appliance.outbound import render as outbound_render
from appliance.render.config import Config
from appliance.routing import store as routing

# Caller names keep letters, digits, spaces and a few harmless marks.
NAME_ALLOWED = r"-a-zA-Z0-9 ._"   # a "-" at the end would be read by FILTER as an empty range
MAX_WAIT_SECONDS = 600
OPERATOR_RING_SECONDS = 20
OUTSIDE_RING_SECONDS = 60    # an outside number (a scenario's, an operator's call) may ring this long


# Overflows one call may take (A -> B -> A ... ends after this many).
MAX_OVERFLOWS = 3
# Phone feature codes (F7): *51 log in, *52 log out, *53N pause (reason N), *54 ready.
FEATURE_CODES = {"*51": "login", "*52": "logout", "*53": "pause", "*54": "ready"}
# What an operator may dial: 2 to 20 digits, or + and 7 to 15 digits. Each
# length is a pattern of its own (_XX, _XXX, ...): a pattern ending in . or !
# would match anything after its digits -- commas, colons, a context name.
DIALLED_DIGITS = range(2, 21)
DIALLED_PLUS_DIGITS = range(7, 16)

# Variables only the dialplan sets, each from a filtered value (the names
# the AGI and the dialer set are not trusted after their own filter).
ROUTE_GROUP = "KORUND_RGROUP"        # the group the call is queued in, a-z0-9_-
ROUTE_RING = "KORUND_RRING"          # seconds the target operator's phone rings, digits
OUTSIDE_NUMBER = "KORUND_ONUMBER"    # the outside number dialled, digits (and a leading +)


def feature_codes(agi_base: str) -> str:
    """The operators' feature codes, answered by the ``agent`` AGI script;
    the reason number is one or two digits by pattern, nothing else."""
    out = []
    for code, action in FEATURE_CODES.items():
        out.append(f"exten => {code},1,AGI({agi_base}/{dn.AGI_FEATURE_CODES},{action})\n same => n,Hangup()\n")
    for pattern in ("_*53X", "_*53XX"):
        out.append(f"exten => {pattern},1,AGI({agi_base}/{dn.AGI_FEATURE_CODES},pause,${{FILTER(0-9,${{EXTEN:3}})}})\n"
                   " same => n,Hangup()\n")
    return "".join(out)


def overflow(g, agi_base: str) -> str:
    """After the group's max wait: on to another group, or a scenario."""
    if not g.overflow_kind:
        return ""
    count = f"${{{dn.VAR_OVERFLOWS}}}"
    head = (f""" same => n,GotoIf($["${{QUEUESTATUS}}" != "TIMEOUT"]?qend-{g.name},1)
 same => n,Set(__{dn.VAR_OVERFLOWS}=$[0{count} + 1])
 same => n,GotoIf($[{count} > {MAX_OVERFLOWS}]?qend-{g.name},1)
 same => n,Set(__{dn.VAR_ROUTE_SOURCE}=overflow)
""")
    if g.overflow_kind == "group":
        body = f""" same => n,Set(__{dn.VAR_GROUP}={g.overflow_target})
 same => n,Goto(s,1)
"""
    else:
        body = f""" same => n,Set({dn.VAR_AGI_DONE}=0)
 same => n,AGI({agi_base}/{dn.AGI_OVERFLOW},{g.overflow_target})
 same => n,GotoIf($["{agi_done()}" = "1"]?s,1)
 same => n,Hangup(17)
"""
    return head + body + f"exten => qend-{g.name},1,Hangup(17)\n"


def agi_done() -> str:
    """What the AGI script said (VAR_AGI_DONE: 1, hangup), filtered."""
    return f"${{FILTER(a-z0-9,${{{dn.VAR_AGI_DONE}}})}}"


def filtered_as_long(clean: str, raw: str, op: str = "=") -> str:
    """An expression true when the filtered *clean* lost nothing of *raw*
    (FILTER only drops characters, so equal lengths mean equal values);
    with op '!=', when it did."""
    return f"$[${{LEN(${{{clean}}})}} {op} ${{LEN(${{{raw}}})}}]"


def queue_options(g) -> str:
    """Queue()'s options: ``t`` lets the operator transfer (the desktop's
    attended transfer is the atxfer feature code, which needs it); ``r``
    rings the waiting caller instead of playing the group's music on hold."""
    return "t" + ("r" if getattr(g, "moh", "ringing") == "ringing" else "")


def queue(g) -> str:
    """Queue() for the group: the skill queue ``<group>--<skill>`` with the
    group's widening rule when the routing asked for a skill it has
    (appliance.routing.store, appliance.operators.render), else the group's queue.
    app_queue reads QUEUE_MAX_PENALTY itself, so it only ever gets digits:
    the skill's first limit as the AGI set it (filtered; none: no limit), or
    NO_PENALTY_LIMIT on the plain path, where a skill call's limit (say, one
    that overflowed from a skill queue) must not hold."""
    wait = g.max_wait or MAX_WAIT_SECONDS
    skill = f"${{{SKILL_VAR}}}"
    penalty = f"${{{PENALTY_VAR}}}"
    return f""" same => n,Set({SKILL_VAR}=${{FILTER(a-z0-9_,${{{dn.VAR_SKILL}}})}})
 same => n,Set({PENALTY_VAR}=${{FILTER(0-9,${{{dn.VAR_QUEUE_MAX_PENALTY}}})}})
 same => n,GotoIf($["{skill}" = ""]?plain)
 same => n,GotoIf($["${{QUEUE_EXISTS({g.name}--{skill})}}" != "1"]?plain)
 same => n,Set({dn.VAR_QUEUE_MAX_PENALTY}=${{IF($["{penalty}" = ""]?{NO_PENALTY_LIMIT}:{penalty})}})
 same => n,Queue({g.name}--{skill},{queue_options(g)},,,{wait},,{dn.CTX_RECORD},{routing.rule_name(g.name)})
 same => n,Goto(queued)
 same => n(plain),Set({dn.VAR_QUEUE_MAX_PENALTY}={NO_PENALTY_LIMIT})
 same => n,Queue({g.name},{queue_options(g)},,,{wait},,{dn.CTX_RECORD})
 same => n(queued),NoOp(queue ${{QUEUESTATUS}})
"""


# The skill asked for, filtered, on the caller's channel only.
SKILL_VAR = "KORUND_QSKILL"
# The skill call's first penalty limit (the AGI's QUEUE_MAX_PENALTY), digits only.
PENALTY_VAR = "KORUND_QPENALTY"
# QUEUE_MAX_PENALTY for "no limit": app_queue's own INT_MAX, what it uses
# when the variable does not exist. Set(QUEUE_MAX_PENALTY=) cannot remove a
# channel variable, it leaves an empty one, which app_queue reads, logs as
# "Invalid value ()" and then treats as INT_MAX anyway.
NO_PENALTY_LIMIT = 2147483647

# Recording (F12, appliance.recordings.render): the answering operator's
# channel runs korund-record (Queue()'s gosub argument, Dial()'s U option).
RECORD_ON_ANSWER = f"U({dn.CTX_RECORD}^s^1)"


def operator_devices(config: Config) -> str:
    """[globals] lines naming the phone of each enabled operator who sits on
    an analog FXS port: ``KORUND_DEV_1093 = DAHDI/49`` (appliance.operators.devices).
    An IP phone's operator has none: PJSIP/<ext> is the default."""
    return "".join(f"{dn.VAR_DEVICE_PREFIX}{op.extension} = {op.device}\n" for op in config.operators
                   if op.enabled and op.extension.isdigit() and DEVICE.fullmatch(getattr(op, "device", "") or ""))


def dial_target_operator() -> str:
    """korund-route lines that put what rings VAR_TARGET_OPERATOR (a
    scenario's, the routing's personal/last operator's, a blind transfer's)
    in VAR_OPERATOR_DIAL: the operator's FXS port from [globals], else the
    IP phone PJSIP/<ext> -- the device the operator really uses, as the
    queues and korund-operators-local ring it."""
    target = f"${{FILTER(0-9,${{{dn.VAR_TARGET_OPERATOR}}})}}"
    var = dn.VAR_OPERATOR_DIAL
    return (f" same => n,Set({var}=${{{dn.VAR_DEVICE_PREFIX}{target}}})\n"
            f" same => n,Set({var}=${{IF($[\"${{{var}}}\" = \"\"]?PJSIP/{target}:${{{var}}})}})\n")


def skip_busy_operator() -> str:
    """The korund-route line that sends the call past the operator's Dial to
    (busy), on into the group's queue, when the operator's phone
    (VAR_OPERATOR_DIAL) is on any call: ringing or talking, a queue's or a
    direct one (a personal or last-operator route, a callback leg, the
    operator's own call, one Korund never saw). The store's state follows
    app_queue's events only, so it stays "ready" through a direct call.
    Asked of Asterisk's live channel list -- a channel '<device>-<n>' exists
    from the moment the phone is requested until the call is torn down --
    rather than of DEVICE_STATE(), a cache Asterisk updates behind the call
    through Stasis, which lags under load and has been seen stale
    (appliance.operators.member_states). The queues need no such line:
    ringinuse=no (appliance.operators.render). Only the length of the list
    enters the expression, never the channel names themselves."""
    dial = f"${{{dn.VAR_OPERATOR_DIAL}}}"
    return f" same => n,GotoIf($[${{LEN(${{CHANNELS(^{dial}-)}})}} > 0]?busy)\n"


def render(config: Config) -> str:
    s = config.settings
    default = config.default_group
    default_name = default.name if default else ""
    agi_base = f"agi://{s.get('local.address') or '127.0.0.1'}:{s['agi.port']}"   # FastAGI: loopback only
    agi = f"{agi_base}/{dn.AGI_INBOUND}"
    inbound_body = f"""Set(__{dn.VAR_ANI}=${{FILTER({dn.ANI_ALLOWED},${{CALLERID(num)}})}})
 same => n,Set(CALLERID(num)=${{{dn.VAR_ANI}}})
 same => n,Set(CALLERID(name)=${{FILTER({NAME_ALLOWED},${{CALLERID(name)}})}})
 same => n,Set(__{dn.VAR_DNIS}=${{FILTER({dn.DNIS_ALLOWED},${{EXTEN}})}})
 same => n,Set(__{dn.VAR_TRUNK}=${{CHANNEL(endpoint)}})
{dahdi_inbound()} same => n(lang),Set(CHANNEL(language)={s.get('language', 'ru')})
 same => n,Set({dn.VAR_AGI_DONE}=0)
 same => n,AGI({agi})
 same => n,GotoIf($["{agi_done()}" = "1"]?{dn.CTX_ROUTE},s,1)
 same => n,GotoIf($["{agi_done()}" = "hangup"]?{dn.CTX_ROUTE},end,1)
 ; The AGI server is down, slow or failed: route to the default group anyway.
 same => n,Set(__{dn.VAR_GROUP}={default_name})
 same => n,Set(__{dn.VAR_ROUTE_SOURCE}=fallback)
 same => n,Goto({dn.CTX_ROUTE},s,1)
"""
    route_source = f"${{FILTER(-a-z_,${{{dn.VAR_ROUTE_SOURCE}}})}}"
    group = f"${{{ROUTE_GROUP}}}"
    out = [f"""[general]
static = yes
writeprotect = yes
clearglobalvars = yes

[globals]
{operator_devices(config)}
[{dn.CTX_INBOUND}]
exten => s,1,{inbound_body}
exten => _[0-9+*#]!,1,{inbound_body}
{dahdi_more_digits(inbound_body)}exten => i,1,Hangup(1)
exten => h,1,NoOp(end of call ${{UNIQUEID}})

[{dn.CTX_ROUTE}]
exten => s,1,Set({ROUTE_GROUP}=${{FILTER(-a-z0-9_,${{{dn.VAR_GROUP}}})}})
 same => n,Set(__{dn.VAR_GROUP}={group})
 same => n,GotoIf($["${{FILTER(0-9,${{{dn.VAR_TARGET_OPERATOR}}})}}" != ""]?operator,1)
 same => n,GotoIf($["${{FILTER(0-9+,${{{dn.VAR_TARGET_NUMBER}}})}}" != ""]?outside,1)
 same => n,GotoIf(${{DIALPLAN_EXISTS({dn.CTX_ROUTE},q-{group},1)}}?q-{group},1)
 same => n,Set({ROUTE_GROUP}={default_name})
 same => n,Set(__{dn.VAR_GROUP}={group})
 same => n,GotoIf(${{DIALPLAN_EXISTS({dn.CTX_ROUTE},q-{group},1)}}?q-{group},1)
 same => n,Playback(ss-noservice)
 same => n,Hangup(34)
exten => operator,1,Set(CDR(korund_route)={route_source})
 same => n,Set({ROUTE_RING}=${{FILTER(0-9,${{{dn.VAR_TARGET_RING}}})}})
{dial_target_operator()}{skip_busy_operator()} same => n,Dial(${{{dn.VAR_OPERATOR_DIAL}}},${{IF($["${{{ROUTE_RING}}}" != ""]?${{{ROUTE_RING}}}:{OPERATOR_RING_SECONDS})}},t{RECORD_ON_ANSWER})
 ; Not answered, or the phone busy: the operator's group (or the default one) takes the call.
 same => n(busy),Set({dn.VAR_TARGET_OPERATOR}=)
 same => n,Goto(s,1)
 ; A scenario's outside number: the AGI let only what the outbound policy allows through.
exten => outside,1,Set({OUTSIDE_NUMBER}=${{FILTER(0-9+,${{{dn.VAR_TARGET_NUMBER}}})}})
 same => n,GotoIf({filtered_as_long(OUTSIDE_NUMBER, dn.VAR_TARGET_NUMBER)}?dial)
 same => n,Set({dn.VAR_TARGET_NUMBER}=)
 same => n,Goto(s,1)
 same => n(dial),Set({dn.VAR_OUT_NUMBER}=${{{OUTSIDE_NUMBER}}})
 same => n,Set({dn.VAR_OUT_PURPOSE}=route)
 same => n,Gosub({dn.CTX_OUTBOUND},s,1({OUTSIDE_RING_SECONDS},))
 same => n,GotoIf($["${{DIALSTATUS}}" = "REFUSED"]?refused)
 same => n,Hangup()
 same => n(refused),Playback(ss-noservice)
 same => n,Hangup()
exten => end,1,Hangup(16)
"""]
    for g in config.groups:
        out.append(f"""exten => q-{g.name},1,Set(CDR(korund_group)={g.name})
 same => n,Set(CDR(korund_route)={route_source})
 same => n,Set(CDR(korund_dnis)=${{{dn.VAR_DNIS}}})
{queue(g)}{overflow(g, agi_base)} same => n,Hangup(17)
""")
    out.append(f"""
[{dn.CTX_OPERATORS}]
{feature_codes(agi_base)}{operators_dialling()}
[korund-operators-local]
""")
    for op in config.operators:
        if op.enabled:
            out.append(f"exten => {op.extension},1,Dial({interface(op)},30,{RECORD_ON_ANSWER})\n same => n,Hangup()\n")
    out.append(f"""
[{dn.CTX_AGI_FAIL}]
exten => s,1,Goto({dn.CTX_ROUTE},s,1)
""")
    out.append(render_callback(config))
    out.append(outbound_render.render(agi_base))
    out.append(transfer_dialplan.render())   # the desktop's transfer to an outside number
    out.append(render_test_carrier(config))
    out.append(render_devstate())
    out.append(test_dial.render())
    return "".join(out)


def operators_dialling() -> str:
    """What an operator dials from the phone, after the feature codes: digits
    (or + and digits) only, by patterns of fixed length; the filtered copy in
    VAR_DIALLED must be as long as what was dialled. Then, in
    CTX_OPERATORS_DIAL, an extension of the appliance rings that operator;
    any other number goes out through the routes (CTX_OUTBOUND) within the
    operator's class of service and the outbound policy; the subroutine's
    script tells a refused operator why. Without its answer nothing is
    dialled (cause 21): it fails closed."""
    dialled = dn.VAR_DIALLED
    patterns = [f"_{'X' * n}" for n in DIALLED_DIGITS] + [f"_+{'X' * n}" for n in DIALLED_PLUS_DIGITS]
    out = [f"""exten => {pattern},1,Set({dialled}=${{FILTER(0-9+,${{EXTEN}})}})
 same => n,GotoIf({filtered_as_long(dialled, "EXTEN")}?{dn.CTX_OPERATORS_DIAL},s,1)
 same => n,Hangup(21)
""" for pattern in patterns]
    out.append(f"""
[{dn.CTX_OPERATORS_DIAL}]
exten => s,1,GotoIf(${{DIALPLAN_EXISTS(korund-operators-local,${{{dialled}}},1)}}?korund-operators-local,${{{dialled}}},1)
 same => n,Set(CDR(korund_route)=operator-out)
 same => n,Gosub({dn.CTX_RECORD},s,1(outbound))
 same => n,Set({dn.VAR_OUT_NUMBER}=${{{dialled}}})
 same => n,Set({dn.VAR_OUT_PURPOSE}=operator)
 ; T: the operator may transfer the call (the desktop's attended transfer is Atxfer, the caller's feature)
 same => n,Gosub({dn.CTX_OUTBOUND},s,1({OUTSIDE_RING_SECONDS},T))
 same => n,GotoIf($["${{DIALSTATUS}}" = "REFUSED"]?refused)
 same => n,Hangup()
 same => n(refused),Hangup(21)
""")
    return "".join(out)


def render_devstate() -> str:
    """Where appliance.operators.member_states sends a Local channel for an operator
    whose device state Asterisk got wrong (<ext> for PJSIP/<ext>, d<n> for
    the FXS port DAHDI/<n>): a channel to the phone is requested and
    released without being called (ChanIsAvail; the phone sees nothing),
    which makes Asterisk ask the driver for the state afresh. Neither half
    of the Local channel writes a CDR."""
    return f"""
[{dn.CTX_DEVSTATE}]
exten => _XX!,1,Set(CDR_PROP(disable)=1)
 same => n,ChanIsAvail(PJSIP/${{FILTER(0-9,${{EXTEN}})}})
 same => n,Hangup()
exten => _dX!,1,Set(CDR_PROP(disable)=1)
 same => n,ChanIsAvail(DAHDI/${{FILTER(0-9,${{EXTEN:1}})}})
 same => n,Hangup()
"""


# --- the callback dialer's context (appliance/callbacks/service.py) ---------

CALLBACK_RING_SECONDS = 40


def render_callback(config: Config) -> str:
    """Where the dialer sends an operator's leg once the operator answers:
    dial the client's number (digits only) out through the trunk; the end
    of the call reports the client leg's DIALSTATUS in a user event and keeps
    it in AstDB (for a dialer that was down when the call ended)."""
    s = config.settings
    ring = s.get("dialer.client_ring", "")
    ring = int(ring) if ring.isdigit() and 5 <= int(ring) <= 120 else CALLBACK_RING_SECONDS
    number = f"${{FILTER(0-9,${{{dn.VAR_CALLBACK_NUMBER}}})}}"
    ring_var = f"${{FILTER(0-9,${{{dn.VAR_CALLBACK_RING}}})}}"
    return f"""
[{dn.CTX_CALLBACK}]
; The end is reported by a hangup handler, not an h extension: the call mostly ends inside
; the korund-outbound subroutine, and Asterisk looks for h in the context the channel is in.
exten => s,1,Set(CHANNEL(hangup_handler_push)={dn.CTX_CALLBACK},end,1)
 same => n,Set(CDR(korund_group)=${{FILTER(-a-z0-9_,${{{dn.VAR_GROUP}}})}})
 same => n,GotoIf($["{number}" = ""]?nonumber)
 same => n,GotoIf($[${{LEN({number})}} != ${{LEN(${{{dn.VAR_CALLBACK_NUMBER}}})}}]?nonumber)
 same => n,Gosub({dn.CTX_RECORD},s,1(callbacks))
 same => n,Set({dn.VAR_OUT_NUMBER}={number})
 same => n,Set({dn.VAR_OUT_PURPOSE}=callback-attempt)
 same => n,Set({dn.VAR_OUT_RING}=${{IF($["{ring_var}" != ""]?{ring_var}:{ring})}})
 same => n,Gosub({dn.CTX_OUTBOUND},s,1(,g))
 same => n,ExecIf($["${{DIALSTATUS}}" = "REFUSED"]?Set(DIALSTATUS=CHANUNAVAIL))
 same => n,Hangup()
 same => n(nonumber),Set(DIALSTATUS=CHANUNAVAIL)
 same => n,Hangup()
exten => end,1,Set(DB({dn.DB_CALLBACK_RESULTS}/${{FILTER(0-9,${{{dn.VAR_CALLBACK_ATTEMPT}}})}})=${{IF($["${{DIALSTATUS}}" = ""]?NONE:${{DIALSTATUS}})}})
 same => n,UserEvent(KorundCallbackEnd,Attempt: ${{FILTER(0-9,${{{dn.VAR_CALLBACK_ATTEMPT}}})}},DialStatus: ${{DIALSTATUS}})
 same => n,Return()
"""


# --- DAHDI (E1 PRI, MFC/R2, analog lines) -------------------------------------

def dahdi_inbound() -> str:
    """Lines of the inbound body for calls on a DAHDI channel: the span and
    channel they came in on, the trunk named after the span, the MFC/R2
    caller category (letters and spaces only). Other channels skip to (lang)."""
    return f""" same => n,GotoIf($["${{CHANNEL(channeltype)}}" != "DAHDI"]?lang)
 same => n,Set(__{dn.VAR_SPAN}=${{FILTER(0-9,${{CHANNEL(dahdi_span)}})}})
 same => n,Set(__{dn.VAR_DAHDI_CHANNEL}=${{FILTER(0-9,${{CHANNEL(dahdi_channel)}})}})
 same => n,Set(__{dn.VAR_TRUNK}=span${{{dn.VAR_SPAN}}})
 same => n,Set(GROUP({outbound_render.SPAN_GROUP})=${{{dn.VAR_SPAN}}})
 same => n,GotoIf($["${{CHANNEL(dahdi_type)}}" != "mfc/r2"]?lang)
 same => n,GotoIf($["${{FILTER({dn.CATEGORY_ALLOWED},${{MFCR2_CATEGORY}})}}" = ""]?lang)
 same => n,Set(__{dn.VAR_CALLER_CATEGORY}=${{FILTER({dn.CATEGORY_ALLOWED},${{MFCR2_CATEGORY}})}})
"""


def dahdi_more_digits(inbound_body: str) -> str:
    """The same inbound body on a pattern that can match more digits. chan_dahdi
    asks an MFC/R2 (or overlap-dialling PRI) caller for the next DNIS digit only
    while some extension of the context could still match more; with the
    ``!`` pattern alone it stops after the first digit (DNIS '7' of '7200')."""
    return f"exten => _[0-9+*#].,1,{inbound_body}"


TEST_CARRIER_ANSWER_SECONDS = 30


def render_test_carrier(config: Config) -> str:
    """The context of a span in the "test_carrier" role (the far end of a
    loop-back test, appliance.lines.store.ROLES), only when there is one. A call
    the appliance places towards it (a trunk call out, an operator's FXS
    port ringing the simulated phone) is reported in a UserEvent
    (EVENT_TEST_CARRIER_CALL, on its channel: the number dialled, the
    caller's number, the MFC/R2 caller category received), answered and held for a
    while; ``dtmf`` is where a test's originated call goes once the
    appliance answers: it sends the digits in VAR_TEST_DTMF ('w' = half a
    second's pause; none: the test presses keys itself), then stays on the
    line until the far end hangs up. A number may always have more digits
    (the ``.`` pattern): an MFC/R2 end asks for the next DNIS digit, an
    analog end waits for one, only while an extension could match more."""
    if not any(sp.role == "test_carrier" and sp.enabled for sp in config.spans):
        return ""
    dtmf = f"${{FILTER(0-9*#ABCDw,${{{dn.VAR_TEST_DTMF}}})}}"
    event = (f"UserEvent({dn.EVENT_TEST_CARRIER_CALL},Dialled: ${{FILTER(0-9*#+,${{{dn.VAR_TEST_DIALLED}}})}},"
             f"CallerID: ${{FILTER(0-9+,${{CALLERID(num)}})}},Category: ${{FILTER(A-Za-z ,${{MFCR2_CATEGORY}})}})")
    return f"""
[{dn.CTX_TEST_CARRIER}]
exten => s,1,{event}
 same => n,Answer()
 same => n,Set(CDR(korund_route)=test-carrier)
 same => n,Playback(beep)
 same => n,Wait({TEST_CARRIER_ANSWER_SECONDS})
 same => n,Hangup(16)
exten => _[0-9*#+]!,1,Set({dn.VAR_TEST_DIALLED}=${{FILTER(0-9*#+,${{EXTEN}})}})
 same => n,Goto(s,1)
exten => _[0-9*#+].,1,Set({dn.VAR_TEST_DIALLED}=${{FILTER(0-9*#+,${{EXTEN}})}})
 same => n,Goto(s,1)
exten => dtmf,1,Wait(1)
 same => n,GotoIf($["{dtmf}" = ""]?hold)
 same => n,SendDTMF({dtmf},250)
 same => n(hold),Wait(600)
 same => n,Hangup(16)
exten => i,1,Hangup(1)
"""

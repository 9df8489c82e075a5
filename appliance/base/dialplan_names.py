"""Every dialplan context and channel-variable name that Python and the
generated dialplan share. The renderer writes these names into
extensions.conf and the AGI scripts read/set them, so the two never drift.
"""

# Contexts
CTX_INBOUND = "korund-inbound"        # calls arriving from the PSTN trunk
CTX_ROUTE = "korund-route"            # queue a call to the group in VAR_GROUP
CTX_OPERATORS = "korund-operators"    # calls from operators' phones
CTX_OPERATORS_DIAL = "korund-operators-dial"  # what an operator dialled, filtered: an extension, or out by the policy
CTX_SECURE_OPERATORS = "korund-operators-tls"  # a secure phone's calls: over TLS only, then as above
CTX_AGI_FAIL = "korund-agi-fail"      # where an AGI script sends a broken call
CTX_CALLBACK = "korund-callback"      # the dialer: operator answered, now dial the client
CTX_TEST_CARRIER = "korund-test-carrier"  # channels of a span in the "test_carrier" role (loop tests)
CTX_DEVSTATE = "korund-devstate"      # <ext>: make Asterisk look at PJSIP/<ext>'s state again (member_states)
CTX_OUTBOUND = "korund-outbound"      # Gosub: dial VAR_OUT_NUMBER out through the outbound routes (appliance.outbound)

# Channel variables (inherited by the call's legs where prefixed with __)
VAR_ANI = "KORUND_ANI"                # caller number, filtered to [0-9+]
VAR_DNIS = "KORUND_DNIS"              # dialled number, filtered
VAR_TRUNK = "KORUND_TRUNK"            # name of the trunk the call came in on
VAR_GROUP = "KORUND_GROUP"            # queue (group) the call is routed to
VAR_AGI_DONE = "KORUND_AGI_DONE"      # 1: the AGI routed the call; hangup: end it
VAR_TARGET_OPERATOR = "KORUND_TARGET_OPERATOR"  # a scenario routed to one operator
VAR_TARGET_NUMBER = "KORUND_TARGET_NUMBER"      # a scenario routed to an outside number
VAR_QUEUE_PRIO = "QUEUE_PRIO"         # app_queue's own: the caller's priority
VAR_ROUTE_SOURCE = "KORUND_ROUTE_SOURCE"  # "agi" or "fallback"
VAR_TARGET_RING = "KORUND_TARGET_RING"   # seconds VAR_TARGET_OPERATOR rings (routing, F7)
# [globals] <VAR_DEVICE_PREFIX><ext> = DAHDI/<n>: an operator whose phone is an analog
# FXS port (appliance.operators.devices); korund-route dials the target operator on it,
# else on PJSIP/<ext>, and keeps the dial string in VAR_OPERATOR_DIAL.
VAR_DEVICE_PREFIX = "KORUND_DEV_"
VAR_OPERATOR_DIAL = "KORUND_OPERATOR_DIAL"
VAR_SKILL = "KORUND_SKILL"               # skill asked for: queue <group>--<skill> (routing, F7)
VAR_QUEUE_MAX_PENALTY = "QUEUE_MAX_PENALTY"  # app_queue's own: highest member penalty offered first
VAR_LANGUAGE = "CHANNEL(language)"
# Calls arriving on DAHDI (E1 PRI, MFC/R2, analog FXO): where they came in,
# from CHANNEL(dahdi_span) / CHANNEL(dahdi_channel), and the MFC/R2 caller
# category chan_dahdi reports in MFCR2_CATEGORY ("National Subscriber" ...).
VAR_SPAN = "KORUND_SPAN"
VAR_DAHDI_CHANNEL = "KORUND_DAHDI_CHANNEL"
VAR_CALLER_CATEGORY = "KORUND_CALLER_CATEGORY"
CATEGORY_ALLOWED = "A-Za-z "
# The test carrier's context: DTMF digits to send after the far end answers;
# the number a call from the appliance dialled; the UserEvent reporting such a call.
VAR_TEST_DTMF = "KORUND_TEST_DTMF"
VAR_TEST_DIALLED = "KORUND_TEST_DIALLED"
EVENT_TEST_CARRIER_CALL = "KorundTestCarrierCall"
# Set by the callback dialer (appliance/callbacks/service.py) on the operator's leg it
# originates: the desktop pops the order's card from VAR_CALLBACK_ORDER (the
# callbacks.id; it shows in the channel's VarSet events and Getvar).
VAR_CALLBACK_ORDER = "KORUND_CALLBACK_ORDER"      # callbacks.id of the order being placed
VAR_CALLBACK_ATTEMPT = "KORUND_CALLBACK_ATTEMPT"  # callback_attempts.id of this attempt
VAR_CALLBACK_NUMBER = "KORUND_CALLBACK_NUMBER"    # the client's number (digits) dialed after the operator
VAR_CALLBACK_RING = "KORUND_CALLBACK_RING"        # seconds the client's phone may ring
DB_CALLBACK_RESULTS = "korund_cb"                  # AstDB family: <attempt id> = the client leg's DIALSTATUS

# AGI script names (agi://host:port/<name>)
AGI_INBOUND = "inbound"
AGI_FEATURE_CODES = "feature-codes"   # phone feature codes: login, logout, pause, ready
AGI_OVERFLOW = "overflow"             # a group's overflow scenario
VAR_DIALLED = "KORUND_DIALLED"        # what an operator dialled: digits (a leading +), filtered in the dialplan
AGI_OUTBOUND_ROUTE = "outbound-route"  # korund-outbound asks for the plan: which route, which trunk groups
VAR_OVERFLOWS = "KORUND_OVERFLOWS"    # how many times the call overflowed already

# Characters a caller ID may keep; everything else is dropped before the
# number reaches the dialplan or the database.
ANI_ALLOWED = "0-9+"
DNIS_ALLOWED = "0-9+*#"


# A group's skill queues are named "<group>--<skill>" (appliance.routing.store);
# whoever reads a queue name from an AMI event wants the group.
QUEUE_SEPARATOR = "--"


def group_of_queue(queue: str | None) -> str:
    """'support--billing' -> 'support'; a plain group's queue is the group."""
    return (queue or "").split(QUEUE_SEPARATOR, 1)[0]


# Call recording (F12; appliance.recordings.store, appliance.recordings.render).
CTX_RECORD = "korund-record"                 # Gosub on the operator's channel once answered
CTX_RECORD_POLICY = "korund-record-policy"   # one extension per recording policy
VAR_REC_MODE = "KORUND_REC_MODE"             # the chosen policy's mode: all, none, sampled, demand
VAR_REC_PERCENT = "KORUND_REC_PERCENT"       # its sample share (sampled)
VAR_REC_TWO_CHANNEL = "KORUND_REC_2CH"       # 1: caller and operator in separate channels
VAR_REC_POLICY = "KORUND_REC_POLICY"         # its key: default, callbacks, group:<name>, number:<dnis>
VAR_REC_FILE = "KORUND_REC_FILE"             # the file being recorded (on the operator's channel)
EVENT_RECORDING = "KorundRecording"          # UserEvent: a recording started (the archive service indexes it)


# Dialling out (appliance.outbound.routes, appliance.outbound.render): the
# caller's leg sets these, then Gosub(CTX_OUTBOUND,s,1(<ring seconds>,<Dial options>)).
VAR_OUT_NUMBER = "KORUND_OUT_NUMBER"        # the number as dialled: digits, maybe a leading +
VAR_OUT_PURPOSE = "KORUND_OUT_PURPOSE"      # operator, callback-attempt, route, test
VAR_OUT_ONLY_ROUTE = "KORUND_OUT_ONLY_ROUTE"  # a technician's test dial: this route only
VAR_OUT_ONLY_SPAN = "KORUND_OUT_ONLY_SPAN"    # ... or this span only
VAR_OUT_RING = "KORUND_OUT_RING"            # seconds the far end may ring, when ARG1 is empty
# The plan the AGI hands back: how many tries, and for try i the parts of
# the Dial string, the trunk group, its cap, the number as sent, the caller ID, the
# MFC/R2 category.
VAR_OUT_TRIES = "KORUND_OUT_TRIES"
VAR_OUT_TECH = "KORUND_OUT_TECH_"           # + i: sip or dahdi
VAR_OUT_WHERE = "KORUND_OUT_WHERE_"         # + i: the SIP trunk, or DAHDI's hunting letter and span (G1)
VAR_OUT_PREFIX = "KORUND_OUT_PREFIX_"       # + i: PRI type-of-number / numbering-plan letters
VAR_OUT_TG = "KORUND_OUT_TG_"               # + i
VAR_OUT_TG_CAP = "KORUND_OUT_TGCAP_"        # + i: at most so many calls out on the group, 0 = no cap
VAR_OUT_SENT = "KORUND_OUT_SENT_"           # + i
VAR_OUT_CID = "KORUND_OUT_CID_"             # + i
VAR_OUT_CATEGORY = "KORUND_OUT_CAT_"        # + i
VAR_OUT_ROUTE_CAP = "KORUND_OUT_ROUTECAP"   # at most so many calls out on the route, 0 = no cap
VAR_OUT_REFUSED = "KORUND_OUT_REFUSED"      # why nothing is dialled (a key of the refusal messages)
# Written on the caller's leg as the call goes out; the call history keeps them.
VAR_OUT_ROUTE = "KORUND_OUT_ROUTE"
VAR_OUT_TRUNK_GROUP = "KORUND_OUT_TRUNK_GROUP"
VAR_OUT_DIALLED = "KORUND_OUT_DIALLED"
VAR_OUT_SENT_AS = "KORUND_OUT_SENT"
VAR_OUT_CAUSE = "KORUND_OUT_CAUSE"          # Q.850 cause of the last try
VAR_OUT_STATUS = "KORUND_OUT_STATUS"        # DIALSTATUS of the last try, or REFUSED
VAR_OUT_SPAN = "KORUND_OUT_SPAN"            # span and circuit of a DAHDI try (set on the outgoing leg)
VAR_OUT_CIRCUIT = "KORUND_OUT_CIRCUIT"
GROUP_OUT_TG = "korund_out_tg"              # GROUP() category counting calls out per trunk group
GROUP_OUT_ROUTE = "korund_out_route"        # ... per route
EVENT_OUTBOUND = "KorundOutbound"           # UserEvent after each try

# The desktop's transfer to an outside number (appliance.clients.transfer_dialplan):
# blind, the caller's channel gets VAR_XFER_NUMBER (AMI Setvar) and is redirected
# to CTX_TRANSFER_OUT's s; attended, Atxfer dials the number as its extension.
CTX_TRANSFER_OUT = "korund-transfer-out"
VAR_XFER_NUMBER = "KORUND_XFER_NUMBER"

"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json.

Each documented operation names its roles, success status and response
schema; tests walk this description and call every operation.
"""
from __future__ import annotations

from flask import jsonify

from web import api_common

api_bp = api_common.blueprint("openapi_api", __name__)

S = lambda **props: {"type": "object", "properties": props, "required": list(props)}  # noqa: E731
STR, INT, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
NSTR, NINT = {"type": ["string", "null"]}, {"type": ["integer", "null"]}
REF = lambda name: {"$ref": f"#/components/schemas/{name}"}  # noqa: E731
LIST = lambda name: {"type": "array", "items": REF(name)}  # noqa: E731

# A call recording (appliance.recordings.search; the recordings table is appliance.recordings.store').
RECORDING = dict(
    id=INT, linkedid=STR, started_at=STR, ended_at=NSTR, duration={"type": ["number", "null"]}, size=NINT,
    sha256=NSTR, channels=INT, operator=STR, group=STR, ani=STR, dnis=STR, policy=STR,
    status={**STR, "description": "good (playable), broken (admins only), deleted (see delete_reason), "
                                  "recording (in progress)"},
    legal_hold=BOOL, keep_until=NSTR, deleted_at=NSTR, delete_reason=NSTR,
    score={"type": ["number", "null"], "description": "average of its quality scores, 0-100"},
    audio={**NSTR, "description": "where to stream it (HTTP Range; ?download=1 for a file)"})

# A call of the history (appliance.history.legs) and its legs.
NNUM = {"type": ["number", "null"]}
CALL = dict(
    id=INT, uniqueid=STR, direction={**STR, "description": "inbound or outbound (the callback dialer's)"},
    ani=NSTR, dnis=NSTR, trunk=NSTR, span=NSTR, dahdi_channel=NSTR, grp=NSTR, operator=NSTR,
    started_at=STR, connected_at=NSTR, ended_at=NSTR,
    outcome={**NSTR, "description": "answered, abandoned, null while in progress"},
    hangup_cause=NINT, hangup_by={**NSTR, "description": "caller, operator or system"},
    queued_at=NSTR, wait_seconds=NNUM, talk_seconds=NNUM, hold_seconds=NNUM, transfers=INT,
    ivr_only={**NINT, "description": "1: ended in the IVR, never queued or offered to anyone"},
    route_source=NSTR)
CALL_LEG = S(key=STR, kind=STR, at=STR, ended_at=NSTR, party=STR, result=STR, offset=NNUM, duration=NNUM,
             detail={"type": "object"})

# An operator as the API shows it: never with the SIP secret (web.operators).
OPERATOR = dict(
    extension=STR, name=STR, contact=NSTR, enabled=BOOL,
    device={**STR, "description": "'' = IP phone (PJSIP/<extension>); 'DAHDI/<n>' = an analog "
                                  "phone on an FXS port of a span"},
    secure={**BOOL, "description": "a secure phone: SIP over TLS only and SRTP media (an IP phone only)"},
    skills={"type": "object", "additionalProperties": INT,
            "description": "skill name (a-z, 0-9, _) -> level 1-10; PUT/POST also take the text form "
                           "'billing:8, en:5'"})

# A trunk group and an outbound route (appliance.outbound.routes); PUT and PATCH keep fields left out.
TRUNK_GROUP = {
    "name": STR, "kind": {**STR, "description": "dahdi (E1 or analog spans) or sip (SIP trunks)"},
    "members": {"type": "array", "items": {"type": ["integer", "string"]},
                "description": "span numbers (dahdi) or SIP trunk names (sip); a string 'a, b' too"},
    "hunting": {**STR, "description": "ascending, descending, round_robin or reverse_round_robin"},
    "reserve": {**INT, "description": "DAHDI channels kept free for inbound calls"},
    "max_calls": {**INT, "description": "calls out at once, 0 = no cap"},
    "number_format": {**STR, "description": "as_dialled, national_8 (8NSN), e164 (+7NSN) or nsn"},
    "strip": {**INT, "description": "digits cut off the front, after the format"},
    "prepend": {**STR, "description": "digits put in front, after strip"},
    "pri_ton": {**STR, "description": "PRI type of number: '', unknown, international, national, network, "
                                     "subscriber, abbreviated"},
    "pri_npi": {**STR, "description": "PRI numbering plan: '', unknown, isdn, national, private"},
    "caller_id": {**STR, "description": "'' = the route's"},
    "r2_category": {**STR, "description": "MFC/R2 caller category; '' = the span's"}, "enabled": BOOL}
OUTBOUND_ROUTE = {
    "name": STR,
    "patterns": {"type": "array", "items": STR, "description": "X any digit, Z 1-9, N 2-9, [1-5] a set, a final . "
                                                               "one or more digits more; no number may match two "
                                                               "routes"},
    "trunk_groups": {"type": "array", "items": STR, "description": "tried in this order"},
    "level": {**STR, "description": "emergency (every operator), local, national or international"},
    "caller_id": {**STR, "description": "'' = the dialer's caller ID setting"},
    "max_calls": {**INT, "description": "calls out at once through the route, 0 = no cap"}, "enabled": BOOL}

SCHEMAS = {
    "Error": S(error=STR, message=STR),
    "Invalid": S(error=STR, field=STR, message=STR),
    "Trunk": S(name=STR, kind=STR, host=NSTR, port=NINT, enabled=BOOL),
    "TrunkInput": {"type": "object", "properties": {"name": STR, "host": STR, "port": INT},
                   "required": ["name", "host"]},
    "Span": S(span=INT, name=STR, framing=STR, coding=STR, crc4=BOOL, signalling=STR, switchtype=NSTR,
              mfcr2_variant=NSTR, mfcr2_max_ani=NINT, mfcr2_max_dnis=NINT, timing=INT, channels=STR,
              enabled=BOOL, line_type=STR, lbo=INT, dchannel=NINT, carrier=STR, pri_dialplan=STR,
              pri_local_dialplan=STR, overlapdial=STR, mfcr2_category=STR, mfcr2_get_ani_first=BOOL,
              phones=STR, cidsignalling=STR, cidstart=STR, busydetect=BOOL, polarity_hangup=BOOL,
              echocanceller=STR, dynamic=STR,
              role={**STR, "description": "'trunk' (calls go to the IVR) or 'test_carrier' (the far end "
                                          "of a loop-back test: calls go to a test context)"}),
    "Operator": S(**OPERATOR),
    "OperatorCreated": {"type": "object", "required": list(OPERATOR), "properties": {**OPERATOR, "sip_secret": {
        **STR, "description": "the phone's SIP password: given this once, and only to an admin"}}},
    "SipSecret": S(extension=STR, sip_secret=STR),
    "OperatorInput": {"type": "object", "properties": {"extension": STR, "name": STR, "contact": NSTR, "device": STR,
                                                       "secure": BOOL, "skills": {"type": "object", "additionalProperties": INT}},
                      "required": ["extension", "name"]},
    # ACD settings: see appliance.operators.store.set_group_acd; routing: appliance.routing.store.set_group_settings.
    "Group": S(name=STR, title=STR, strategy=STR, ring_timeout=INT, is_default=BOOL,
               members={"type": "array", "items": STR},
               wrapup=INT, max_wait=INT, overflow_kind=STR, overflow_target=STR, announce_position=BOOL,
               announce_holdtime=BOOL, noanswer_pause=BOOL, noanswer_after=INT, moh=STR,
               skill={**STR, "description": "default skill of the group's calls ('' = none)"},
               skill_widen={**INT, "description": "s: operators three levels lower join"},
               skill_all={**INT, "description": "s: everyone in the group joins"},
               last_days={**NINT, "description": "days back for the last operator; null = the global setting"}),
    "User": S(id=INT, username=STR, role=STR, language=STR, operator_id=NINT, active=BOOL),
    "UserInput": {"type": "object", "properties": {"username": STR, "password": STR, "role": STR,
                                                   "language": STR, "operator_id": NINT},
                  "required": ["username", "password", "role"]},
    "Me": S(id=INT, username=STR, role=STR, language=STR, operator_id=NINT, active=BOOL,
            operator={"oneOf": [REF("Operator"), {"type": "null"}]}),
    "Call": S(started_at=STR, ani=NSTR, dnis=NSTR, trunk=NSTR, grp=NSTR, route_source=NSTR,
              operator=NSTR, connected_at=NSTR, ended_at=NSTR, outcome=NSTR),
    "Status": S(services={"type": "object"}, asterisk={"type": "object"}, trunks={"type": "array"},
                operators={"type": "array"}, calls_now=NINT, disk={"type": "object"},
                calls_today=INT, recent_calls=LIST("Call")),
    "Settings": {"type": "object", "additionalProperties": NSTR},
    "AuditEntry": S(id=INT, at=STR, username=NSTR, action=STR, target=NSTR, details=NSTR),
    "SipBan": S(id=INT, address=STR, failures=INT, events=STR, accounts=STR, started_at=STR, until=STR,
                active=BOOL, ended_at=NSTR,
                ended_by={**NSTR, "description": "who lifted it; '' when it expired"}),
    "SipGuard": S(failures={**INT, "description": "failed SIP requests from one address that ban it, 3-1000"},
                  window={**INT, "description": "within this many seconds, 5-3600"},
                  ban_minutes={**INT, "description": "how long a ban lasts, 1-10080"},
                  allow={"type": "array", "items": STR,
                         "description": "addresses or networks never banned (besides the appliance "
                                        "itself and the SIP trunks' carriers)"}),
    "SipGuardInput": {"type": "object", "properties": {
        "failures": INT, "window": INT, "ban_minutes": INT,
        "allow": {"type": ["array", "string"], "items": STR}}},
    "Health": S(sensors={"type": "array"}, alarms={"type": "array"}),
    # A technician's test dial (appliance.lines.test_dial; web.lines).
    "TestDial": S(id=STR, number=STR, route={**STR, "description": "the outbound route, '' when through a span"},
                  span={**NINT, "description": "the span, null when through a route"}, by=STR, started_at=STR,
                  running=BOOL, error={**STR, "description": "why listening to the call failed; '' normally"},
                  outcome={**STR, "description": "answered, busy, no-answer, congestion, number-invalid, rejected, "
                                                 "failed, refused (nothing dialled), invalid, or '' so far"},
                  result={**STR, "description": "the outcome in the user's language"},
                  steps={"type": "array", "items": S(
                      t={"type": "number", "description": "seconds from the start"},
                      kind={**STR, "description": "seizure, seizure-trunk, seizure-circuit, route, digits, ringing, "
                                                  "progress, proceeding, answer, cause, no-cause, not-dialled, "
                                                  "refused, invalid, failed, ended"},
                      text={**STR, "description": "the step in the user's language"})}),
    "TestDialInput": {"type": "object", "properties": {"number": STR, "route": STR, "span": INT},
                      "required": ["number"]},
    # The outbound policy (appliance.outbound; web.outbound).
    "OutboundPolicy": S(scope={**STR, "description": "local, national (Russia, local included) or international"},
                        allowed={"type": "array", "items": STR, "description": "prefixes also allowed (+7809, 112)"},
                        denied={"type": "array", "items": STR, "description": "prefixes refused; the longer "
                                                                             "matching prefix wins"},
                        max_open={**INT, "description": "open callback orders per caller number (0 = no cap)"},
                        max_day={**INT, "description": "callback orders per caller number in 24 hours (0 = no cap)"},
                        own_number_only={**BOOL, "description": "callbacks only to the caller's own number"},
                        changed_at=NSTR, changed_by=NSTR),
    "OutboundPolicyInput": {"type": "object", "properties": {
        "scope": STR, "allowed": {"type": "array", "items": STR}, "denied": {"type": "array", "items": STR},
        "max_open": INT, "max_day": INT, "own_number_only": BOOL}},
    "OutboundDecision": S(allowed=BOOL, number=STR, purpose=STR,
                          kind={**STR, "description": "national, local, international, service, unknown, invalid"},
                          reason={**STR, "description": "allowed: scope, prefix, emergency; refused: invalid, "
                                                        "international, national, service, unknown, denied, "
                                                        "own-number, open-orders, day-orders"},
                          message={**STR, "description": "why it was refused, in the user's language"}),
    "OutboundRefusal": S(at=STR, by=STR, number=STR, purpose=STR, reason=STR, message=STR, caller=STR),
    # Trunk groups, outbound routes, classes of service (appliance.outbound.routes; web.outbound_routes).
    "TrunkGroup": S(**TRUNK_GROUP),
    "TrunkGroupInput": {"type": "object", "properties": TRUNK_GROUP, "required": ["name", "members"]},
    "OutboundRoute": S(**OUTBOUND_ROUTE),
    "OutboundRouteInput": {"type": "object", "properties": OUTBOUND_ROUTE,
                           "required": ["name", "patterns", "trunk_groups"]},
    "OutboundPlan": S(
        number={**STR, "description": "the number as dialled (digits, a leading + at most)"}, purpose=STR,
        route={**STR, "description": "the route that matched; '' when none"}, route_cap=INT,
        tries={"type": "array", "description": "the dial attempts in order: the next when one is full or "
                                               "refuses (congestion, all circuits busy)", "items": S(
            trunk_group=STR, tech={**STR, "description": "sip or dahdi"},
            where={**STR, "description": "the SIP trunk, or DAHDI's hunting letter and the span (g1)"},
            sent={**STR, "description": "the number as the line gets it"},
            caller_id={**STR, "description": "the caller ID presented; '' = unchanged"},
            category={**STR, "description": "MFC/R2 caller category; '' = the span's"}, cap=INT, span=NINT,
            prefix={**STR, "description": "PRI type of number and numbering plan letters"},
            dial={**STR, "description": "Dial()'s first argument"})},
        skipped={"type": "array", "items": S(trunk_group=STR, why=STR,
                                             text={**STR, "description": "why, in the user's language"})},
        refused={**STR, "description": "'' when it would be dialled; else the policy's reason, no-route, "
                                       "class, no-operator or no-trunk"},
        message={**STR, "description": "why nothing would be dialled, in the user's language"}),
    "OutboundClass": S(extension=STR, name=STR, enabled=BOOL,
                       outbound_class={**STR, "description": "internal, local, national or international"}),
    # Recording policies, the disk guard and recording a live call (appliance.recordings.store).
    "RecordingPolicy": S(scope={**STR, "description": "default, group, number (DNIS) or callbacks "
                                                     "(the callback dialer's calls)"},
                         target={**STR, "description": "the group's name or the number; '' otherwise"},
                         mode={**STR, "description": "all, none, sampled or demand"},
                         sample_percent=INT, two_channel=BOOL,
                         retention_days={**NINT, "description": "null = kept until deleted by hand or the disk guard"}),
    "RecordingPolicyInput": {"type": "object", "properties": {
        "scope": STR, "target": STR, "mode": STR, "sample_percent": INT, "two_channel": BOOL,
        "retention_days": NINT}, "required": ["scope", "mode"]},
    "RecordingDisk": S(free=INT, total=INT, free_percent={"type": "number"}, files=INT, bytes=INT, held=INT,
                       recording=INT, warn_free_percent=INT, delete_free_percent=INT, warning=BOOL),
    "CallRecording": S(live=BOOL, recording=BOOL, paused=BOOL, id=NINT,
                       pausable={**BOOL, "description": "whether the caller may pause it: an operator only a "
                                                        "recording started on demand"}),
    # A call placed from the operator's desktop (appliance.clients.desktop.call_out).
    "DesktopCall": S(number={**STR, "description": "the number as dialled: digits, a leading + at most"},
                     to={**STR, "description": "number (an outside number) or operator (a colleague's extension)"},
                     phone={**STR, "description": "the operator's phone that rings first: PJSIP/<extension> or an "
                                                  "FXS port DAHDI/<n>"},
                     linkedid={**STR, "description": "the call's id once the phone answers (its session on the "
                                                     "desktop, its call-history uniqueid)"},
                     client_id={**NINT, "description": "the client whose card has the number"},
                     ring_seconds=INT),
    "Changes": S(pending={"type": "array", "items": STR}),
    "NodeType": S(type=STR, label=STR, waits=BOOL, fields={"type": "array", "items": {"type": "object"}},
                  outputs={"type": "array", "items": STR}, output_labels={"type": "object"}, options=BOOL),
    "ScenarioSummary": S(name=STR, title=STR, published_version=NINT),
    "Scenario": S(name=STR, title=STR, draft={"type": "object"}, versions={"type": "array"},
                  problems={"type": "array", "items": S(node=NSTR, message=STR)}),
    "ScenarioInput": {"type": "object", "properties": {"name": STR, "title": STR, "graph": {"type": "object"}},
                      "required": ["name", "title"]},
    "Published": S(name=STR, version=INT),
    "Simulation": S(events={"type": "array"}, vars={"type": "object"}, path={"type": "array"},
                    error=NSTR),
    "Binding": S(dnis=STR, scenario=NSTR, group=NSTR, schedule=NSTR, otherwise_scenario=NSTR,
                 otherwise_group=NSTR),
    "BindingInput": {"type": "object", "properties": {"dnis": STR, "scenario": NSTR, "group": NSTR,
                                                      "schedule": NSTR, "otherwise_scenario": NSTR,
                                                      "otherwise_group": NSTR},
                     "required": ["dnis"]},
    "Schedule": S(name=STR, title=STR, timezone=STR,
                  weekly={"type": "object", "additionalProperties": {"type": "array", "items": STR}},
                  holidays={"type": "array", "items": S(date=STR, yearly=BOOL, title=STR)},
                  workdays={"type": "array", "items": S(date=STR, like=INT, title=STR)},
                  open_now=BOOL, holiday_today=BOOL,
                  used_by=S(numbers={"type": "array", "items": STR}, scenarios={"type": "array", "items": STR})),
    "ScheduleInput": {"type": "object", "properties": {
        "name": STR, "title": STR, "timezone": STR,
        "weekly": {"type": "object", "description": "weekday 1 (Monday)..7 → intervals like 09:00-18:00; "
                   "22:00-06:00 runs overnight, 24:00 is the end of the day"},
        "holidays": {"type": "array", "description": "{date: YYYY-MM-DD or MM-DD (every year), title}"},
        "workdays": {"type": "array", "description": "{date: YYYY-MM-DD, like: weekday whose hours it keeps "
                     "(default 1), title}: a working day by exception"}},
        "required": ["name", "title"]},
    "ApplyResult": S(applied=BOOL, message=STR),
    "DataTable": S(name=STR, key=STR, columns={"type": "array", "items": STR}),
    "Prompt": S(name=STR, languages={"type": "array", "items": STR}, source=STR, text=NSTR,
                fallback={"type": "object", "additionalProperties": STR},
                used_by={"type": "array", "items": STR},
                variants={"type": "array", "items": S(language=STR, source=STR, text=NSTR,
                                                      duration={"type": ["number", "null"]})}),
    "Message": S(id=INT, group=STR, ani=STR, uniqueid=STR, duration={"type": "number"}, created_at=STR,
                 status=STR, handled_at=NSTR, handled_by=NSTR, audio=STR),
    "CallbackOrder": S(id=INT, group=STR, number=STR, ani=STR, asap=BOOL, slot_from=STR, slot_until=NSTR,
                       status=STR, uniqueid=STR, created_at=STR, changed_at=NSTR, changed_by=NSTR,
                       tries=INT, next_at=NSTR, overdue=BOOL,
                       attempts={"type": "array", "items": S(at=STR, operator=STR, result=NSTR)}),
    "Client": S(id=INT, name=STR, phones={"type": "array", "items": STR}, company=STR, email=STR,
                personal_operator=NSTR, vip=BOOL, fields={"type": "object", "additionalProperties": STR},
                created_at=STR, updated_at=STR, created_by=NSTR, updated_by=NSTR),
    "ClientInput": {"type": "object", "properties": {
        "name": STR, "phones": {"type": "array", "items": STR, "description": "8XXXXXXXXXX, +7XXXXXXXXXX and "
                                "7XXXXXXXXXX are stored as 7XXXXXXXXXX; one number belongs to one client"},
        "company": STR, "email": STR, "personal_operator": NSTR, "vip": BOOL,
        "fields": {"type": "object", "description": "custom field name → value (text, number, date "
                   "YYYY-MM-DD or one of a choice field's choices)"}},
        "required": ["name"]},
    "Agent": S(extension=STR, name=STR, state=STR, reason=NSTR, since=NSTR),
    "AgentStateInput": {"type": "object", "properties": {
        "state": {"type": "string", "enum": ["ready", "paused", "logged_out"]},
        "reason": {"type": ["string", "integer", "null"], "description": "with paused: a pause reason's name or number"}},
        "required": ["state"]},
    "PauseReason": S(code=INT, name=STR, builtin=BOOL),
    "HistoryCall": S(**CALL),
    "CallRecord": S(**CALL, legs={"type": "array", "items": CALL_LEG}),
    "Recording": S(**RECORDING),
    "QualityForm": S(id=INT, name=STR, version=INT, active=BOOL, scores=INT, created_at=STR, created_by=STR,
                     criteria={"type": "array", "items": S(id=INT, name=STR, description=STR,
                                                           weight={"type": "number"}, max_points=INT)}),
    "QualityFormInput": {"type": "object", "properties": {
        "name": STR, "active": BOOL,
        "criteria": {"type": "array", "description": "1-30 of {name, weight: number above 0 up to 100, "
                     "max_points: 1-100, description}", "items": {"type": "object"}}},
        "required": ["name", "criteria"]},
    "Score": S(id=INT, recording_id=INT, form_id=INT, form=STR, reviewer=STR, scored_at=STR, operator=STR,
               group=STR, call_at=STR, total={"type": "number", "description": "100 * sum(weight * points / max) "
                                                                                "/ sum(weight)"},
               comment=STR, criteria={"type": "array", "items": S(id=INT, name=STR, weight={"type": "number"},
                                                                  max_points=INT, points=NINT, comment=STR)}),
    "ScoreInput": {"type": "object", "properties": {
        "form_id": INT, "points": {"type": "object", "description": "criterion id -> points (0..max), every criterion"},
        "comments": {"type": "object", "description": "criterion id -> comment"}, "comment": STR},
        "required": ["form_id", "points"]},
    "QualityAverage": S(key=STR, count=INT, score={"type": "number"}),
    "RecordingDetail": S(**RECORDING, scores={"type": "array", "items": S(
        id=INT, form=STR, reviewer=STR, scored_at=STR, total={"type": "number"}, comment=STR,
        criteria={"type": "array", "items": S(name=STR, weight={"type": "number"}, max_points=INT,
                                              points=NINT, comment=STR)})}),
    # reports (F14)
    "ReportForm": S(key=STR, custom=BOOL, title=STR, dimensions={"type": "array", "items": STR},
                    measures={"type": "array", "items": STR},
                    filters={"type": "object", "additionalProperties": STR}, period=STR, chart=STR,
                    sl_seconds=INT),
    "ReportFormInput": {"type": "object", "properties": {
        "title": STR,
        "dimensions": {"type": "array", "items": STR, "description": "up to 3 of: hour, day, week, month, "
                       "operator, group, line, span, dnis, direction, outcome, route_source"},
        "measures": {"type": "array", "items": STR, "description": "see docs/REPORTS.md (calls, answered, "
                     "abandoned, service_level, asa, aht, state_ready, quality, ...)"},
        "filters": {"type": "object", "description": "group, operator, line, dnis, direction → value"},
        "period": {"type": "string", "enum": ["day", "week", "month", "year", "custom"]},
        "chart": {"type": "string", "enum": ["bar", "line", "none"]},
        "sl_seconds": INT}, "required": ["title", "measures"]},
    "Report": S(title=STR, **{"from": STR, "to": STR},
                columns={"type": "array", "items": S(key=STR, title=STR, kind=STR, dimension=BOOL)},
                rows={"type": "array", "items": {"type": "array"}}, total={"type": "array"},
                sources={"type": "object", "additionalProperties": STR}),
}

STAFF = ["admin", "supervisor", "technician"]
ALL = ["admin", "supervisor", "operator", "technician"]

# (method, path, summary, roles, success status, response schema, request schema)
OPERATIONS = [
    ("get", "/me", "The calling user (an operator also gets its operator: extension, name, phone)", ALL, 200, REF("Me"), None),
    ("get", "/status", "Services, Asterisk, trunks, operators' phones, calls", STAFF, 200, REF("Status"), None),
    ("get", "/trunks", "Trunks", STAFF, 200, LIST("Trunk"), None),
    ("post", "/trunks", "Add a SIP trunk", ["admin", "technician"], 201, REF("Trunk"), REF("TrunkInput")),
    ("get", "/trunks/{name}", "One trunk", STAFF, 200, REF("Trunk"), None),
    ("put", "/trunks/{name}", "Change a SIP trunk's carrier address", ["admin", "technician"], 200, REF("Trunk"), REF("TrunkInput")),
    ("delete", "/trunks/{name}", "Delete a trunk", ["admin", "technician"], 204, None, None),
    ("get", "/spans", "E1 span settings", STAFF, 200, LIST("Span"), None),
    ("post", "/spans", "Configure an E1 span", ["admin", "technician"], 201, REF("Span"), REF("Span")),
    ("get", "/spans/{span}", "One E1 span", STAFF, 200, REF("Span"), None),
    ("put", "/spans/{span}", "Change an E1 span", ["admin", "technician"], 200, REF("Span"), REF("Span")),
    ("delete", "/spans/{span}", "Remove an E1 span's settings", ["admin", "technician"], 204, None, None),
    ("post", "/test-dials", "Place a test dial: {\"number\"} (digits, a leading + at most; it passes the outbound policy) and either {\"route\": an outbound route's name} or {\"span\": an enabled trunk span}; 422 names the bad field, 503 when Asterisk cannot take it now. Each test dial is audit-logged", ["admin", "technician"], 201, REF("TestDial"), REF("TestDialInput")),
    ("get", "/test-dials/{dial_id}", "A test dial's steps so far, each with its seconds from the start (poll it while 'running'); 404 once the panel has forgotten it (it keeps the last 20, until it restarts)", ["admin", "technician"], 200, REF("TestDial"), None),
    ("get", "/operators", "Operators", ["admin", "supervisor"], 200, LIST("Operator"), None),
    ("post", "/operators", "Add an operator (a SIP account is generated; an admin gets its password in sip_secret, this once)", ["admin", "supervisor"], 201, REF("OperatorCreated"), REF("OperatorInput")),
    ("post", "/operators/{extension}/sip-secret", "Generate a new SIP password for the operator's phone, given this once (audit-logged; apply the configuration to put it into service)", ["admin"], 200, REF("SipSecret"), None),
    ("get", "/operators/{extension}", "One operator", ["admin", "supervisor"], 200, REF("Operator"), None),
    ("put", "/operators/{extension}", "Change an operator", ["admin", "supervisor"], 200, REF("Operator"), REF("OperatorInput")),
    ("delete", "/operators/{extension}", "Delete an operator", ["admin", "supervisor"], 204, None, None),
    ("get", "/groups", "Operator groups", ["admin", "supervisor"], 200, LIST("Group"), None),
    ("post", "/groups", "Add a group", ["admin", "supervisor"], 201, REF("Group"), REF("Group")),
    ("get", "/groups/{name}", "One group", ["admin", "supervisor"], 200, REF("Group"), None),
    ("put", "/groups/{name}", "Change a group and its members", ["admin", "supervisor"], 200, REF("Group"), REF("Group")),
    ("delete", "/groups/{name}", "Delete a group (not the default one)", ["admin", "supervisor"], 204, None, None),
    ("get", "/agents", "Operator states (ACD): logged_out, ready, ringing, on_call, wrapup, paused with a reason; since when", ["admin", "supervisor", "operator"], 200, LIST("Agent"), None),
    ("post", "/agents/{extension}/state", "Log an operator in (ready), out (logged_out) or pause them with a reason; an operator may change only their own", ["admin", "supervisor", "operator"], 200, REF("Agent"), REF("AgentStateInput")),
    ("get", "/pause-reasons", "Pause reasons: number (dialled after *53 on the phone), name; 'no answer' is built in", ["admin", "supervisor", "operator"], 200, LIST("PauseReason"), None),
    ("get", "/users", "Panel users", ["admin"], 200, LIST("User"), None),
    ("post", "/users", "Add a user", ["admin"], 201, REF("User"), REF("UserInput")),
    ("get", "/users/{user_id}", "One user", ["admin"], 200, REF("User"), None),
    ("put", "/users/{user_id}", "Change a user's role, language, state or password", ["admin"], 200, REF("User"), REF("UserInput")),
    ("delete", "/users/{user_id}", "Delete a user", ["admin"], 204, None, None),
    ("get", "/settings", "Settings", ["admin"], 200, REF("Settings"), None),
    ("put", "/settings", "Change settings (all or nothing)", ["admin"], 200, REF("Settings"), REF("Settings")),
    ("get", "/audit", "The audit log, newest first (?limit, ?offset)", ["admin"], 200, LIST("AuditEntry"), None),
    ("get", "/sip-bans", "Addresses banned after repeated failed SIP requests (?all=1: also the ended bans)", ["admin", "technician"], 200, LIST("SipBan"), None),
    ("post", "/sip-bans/{ban_id}/lift", "Lift a ban before its time (audit-logged; Asterisk lets the address in within seconds)", ["admin", "technician"], 200, REF("SipBan"), None),
    ("get", "/sip-guard", "The SIP guard's limits and allow list", ["admin", "technician"], 200, REF("SipGuard"), None),
    ("put", "/sip-guard", "Change the SIP guard's limits and allow list (keys left out stay)", ["admin"], 200, REF("SipGuard"), REF("SipGuardInput")),
    ("get", "/changes", "Configuration files that differ from what Asterisk runs", STAFF, 200, REF("Changes"), None),
    ("post", "/apply", "Apply: render, reload, verify, roll back if rejected (409)", STAFF, 200, REF("ApplyResult"), None),
    ("get", "/scenario-node-types", "Node types for the editor: fields, outputs (menus: key options)", ["admin", "supervisor"], 200, LIST("NodeType"), None),
    ("get", "/scenarios", "IVR scenarios", ["admin", "supervisor"], 200, LIST("ScenarioSummary"), None),
    ("post", "/scenarios", "Add a scenario (its draft may be empty)", ["admin", "supervisor"], 201, REF("Scenario"), REF("ScenarioInput")),
    ("get", "/scenarios/{name}", "A scenario: draft, versions, problems by node", ["admin", "supervisor"], 200, REF("Scenario"), None),
    ("put", "/scenarios/{name}", "Save the draft (problems are reported, not refused)", ["admin", "supervisor"], 200, REF("Scenario"), REF("ScenarioInput")),
    ("post", "/scenarios/{name}/simulate", "Walk the draft with typed keys", ["admin", "supervisor"], 200, REF("Simulation"), {"type": "object"}),
    ("post", "/scenarios/{name}/publish", "Publish the draft (422 with the problems)", ["admin", "supervisor"], 200, REF("Published"), None),
    ("post", "/scenarios/{name}/rollback", "Publish an earlier version again", ["admin", "supervisor"], 200, REF("Published"), {"type": "object"}),
    ("get", "/bindings", "Which number runs which scenario or goes to which group", ["admin", "supervisor"], 200, LIST("Binding"), None),
    ("put", "/bindings", "Bind a number (or *) to a scenario or a group; with a schedule, to another one while it is closed", ["admin", "supervisor"], 200, LIST("Binding"), REF("BindingInput")),
    ("delete", "/bindings/{dnis}", "Remove a number's binding", ["admin", "supervisor"], 204, None, None),
    ("get", "/schedules", "Schedules: weekly hours, holidays, working-day exceptions; open now; where used", ["admin", "supervisor"], 200, LIST("Schedule"), None),
    ("post", "/schedules", "Add a schedule", ["admin", "supervisor"], 201, REF("Schedule"), REF("ScheduleInput")),
    ("get", "/schedules/{name}", "One schedule", ["admin", "supervisor"], 200, REF("Schedule"), None),
    ("put", "/schedules/{name}", "Change a schedule (fields left out stay)", ["admin", "supervisor"], 200, REF("Schedule"), REF("ScheduleInput")),
    ("delete", "/schedules/{name}", "Delete a schedule (422 while a number or a scenario uses it)", ["admin", "supervisor"], 204, None, None),
    ("get", "/tables", "Data tables for look-up nodes: name, key column, columns", ["admin", "supervisor"], 200, LIST("DataTable"), None),
    ("get", "/prompts", "The prompt library: languages, source (upload, tts, built-in, file, mixed), text, fallback, which scenarios use each", ["admin", "supervisor"], 200, LIST("Prompt"), None),
    ("get", "/messages", "Voice messages left in the IVR, newest first (?status=new|handled, ?group, ?limit); audio at each one's 'audio' path", ["admin", "supervisor"], 200, LIST("Message"), None),
    ("post", "/messages/{message_id}/handled", "Mark a message handled (the first who did stays)", ["admin", "supervisor"], 200, REF("Message"), None),
    ("get", "/callbacks", "Callback orders: open ones by when they are due, then the rest (?status=new|done|cancelled|failed, ?group, ?limit); with the dialer's tries, next attempt time, attempts (result null = dialing now) and whether the slot has ended undone (overdue)", ["admin", "supervisor"], 200, LIST("CallbackOrder"), None),
    ("post", "/callbacks/{callback_id}/retry", "Dial an open or failed callback order again now, its tries counted from zero (422 if it is closed or being dialed)", ["admin", "supervisor"], 200, REF("CallbackOrder"), None),
    ("post", "/callbacks/{callback_id}/status", "Close an open callback order: {\"status\": \"done\"} or \"cancelled\" (422 if it is closed already)", ["admin", "supervisor"], 200, REF("CallbackOrder"), {"type": "object", "properties": {"status": STR}, "required": ["status"]}),
    ("get", "/clients", "Clients (CRM): search by name, company, e-mail or number (?q, ?limit, ?offset); VIPs first. An operator lists nothing: without ?q the answer is empty, and ?q must be a whole phone number (any form), answered with its client or none (422 otherwise)", ["admin", "supervisor", "operator"], 200, LIST("Client"), None),
    ("post", "/clients", "Add a client (422 if a number belongs to another client; an operator cannot set vip or personal_operator: 422)", ["admin", "supervisor", "operator"], 201, REF("Client"), REF("ClientInput")),
    ("get", "/clients/{client_id}", "One client, with its latest calls in 'calls'. An operator: only with ?number= one of its numbers, or while a call from it is on their phone (404 otherwise), and only the calls offered to them", ["admin", "supervisor", "operator"], 200, REF("Client"), None),
    ("put", "/clients/{client_id}", "Change a client (fields left out stay; an operator as for GET, and without changing vip or personal_operator: 422)", ["admin", "supervisor", "operator"], 200, REF("Client"), REF("ClientInput")),
    ("get", "/clients/by-number/{number}", "The client a phone number belongs to (any form of it), with its latest calls (an operator: those offered to them); 404 if none", ["admin", "supervisor", "operator"], 200, REF("Client"), None),
    ("get", "/recordings", "Call recordings, newest first (?start, ?end: YYYY-MM-DD on the call center's clock; ?operator, ?group, ?ani, ?dnis: part of the number; ?min_duration, ?max_duration: seconds; ?scored=yes|no; ?hold=1; ?order=asc; ?limit, ?offset). An operator gets only the calls they answered", ["admin", "supervisor", "operator"], 200, LIST("Recording"), None),
    ("get", "/recordings/{recording_id}", "One recording with its quality scores (404 also when the caller may not see it)", ["admin", "supervisor", "operator"], 200, REF("RecordingDetail"), None),
    ("get", "/recordings/{recording_id}/audio", "The recording's audio (HTTP Range for seeking; ?download=1 as a file named by time and caller); each playback and download is audit-logged", ["admin", "supervisor", "operator"], 200, None, None),
    ("post", "/recordings/{recording_id}/hold", "Legal hold on or off ({\"on\": true|false}): a held recording is never deleted by retention or the disk guard", ["admin", "supervisor"], 200, REF("Recording"), {"type": "object", "properties": {"on": BOOL}, "required": ["on"]}),
    ("get", "/recording-policies", "Recording policies: the most specific applies (number, else group, else default; the callback dialer's calls take 'callbacks')", ["admin"], 200, LIST("RecordingPolicy"), None),
    ("put", "/recording-policies", "Add or change the policy of a scope and target (apply the configuration for Asterisk to follow it)", ["admin"], 200, REF("RecordingPolicy"), REF("RecordingPolicyInput")),
    ("delete", "/recording-policies/{scope}", "Delete a policy (?target=group or number); the default cannot be deleted", ["admin"], 204, None, None),
    ("get", "/recording-guard", "Disk use of the recordings and the disk guard's floors (% free)", ["admin"], 200, REF("RecordingDisk"), None),
    ("put", "/recording-guard", "Set the disk guard: warn below warn_free_percent, delete the oldest recordings not on legal hold below delete_free_percent", ["admin"], 200, REF("RecordingDisk"), S(warn_free_percent=INT, delete_free_percent=INT)),
    ("get", "/calls", "The call history, newest first, one record per call (?start, ?end: YYYY-MM-DD on the call center's clock or an ISO time; ?direction=inbound|outbound; ?outcome=answered|abandoned|in-progress; ?group; ?operator: offered or answered; ?ani, ?dnis: part of the number; ?line: trunk, span or span/channel; ?limit 1-1000, default 50; ?offset); the X-Total-Count header says how many match. An operator gets only the calls they were offered or took", ["admin", "supervisor", "operator"], 200, LIST("HistoryCall"), None),
    ("get", "/calls/{call_id}", "One call (its history id or uniqueid) with its legs in order: trunk, ivr (path and inputs), queue, offer (each operator rung and the result), operator (talk), hold, transfer, recording, note, hangup; offset = seconds from the call's start (404 also when an operator took no part in it)", ["admin", "supervisor", "operator"], 200, REF("CallRecord"), None),
    ("get", "/calls/{linkedid}/recording", "Whether a live call is being recorded (and paused); an operator: only a call on their phone", ["admin", "supervisor", "operator"], 200, REF("CallRecording"), None),
    ("post", "/calls/{linkedid}/recording", "Record a live call on demand: {\"action\": \"start\" | \"pause\" | \"resume\"}; paused stretches are silent in the file; 422 if the call is not in progress; 403 when an operator would pause a recording the policy makes (every call, or a sample)", ["admin", "supervisor", "operator"], 200, REF("CallRecording"), S(action=STR)),
    ("post", "/desktop/call", "Call a number from the operator's own phone (click-to-call): {\"number\"} (digits; spaces, dashes and brackets are dropped). The phone rings first; answered, the number is dialled as if the operator had dialled it (the outbound policy, their class of service, the routes). 422 names why nothing rings: a number the policy or the class refuses (audit-logged), the phone on a call or unreachable; 503 when Asterisk cannot take it now. Only an operator, only their own phone", ["operator"], 202, REF("DesktopCall"), S(number=STR)),
    ("get", "/reports", "Report forms: the ready ones, then the custom ones (key, title, dimensions, measures, filters, default period, chart); an operator gets the per-operator, state-time and quality ones, of their own figures", ["admin", "supervisor", "operator"], 200, LIST("ReportForm"), None),
    ("post", "/reports", "Add a custom report form (422 names the unknown dimension, measure or filter; nothing saved)", ["admin"], 201, REF("ReportForm"), REF("ReportFormInput")),
    ("get", "/reports/{form}", "A report (a ready form's key or a custom one's c<id>): ?period=day|week|month|year (holding ?from) or ?from=&to= (YYYY-MM-DD, the call center's days); filters ?group, ?operator, ?line, ?dnis, ?direction; ?sl=seconds for the service level; ?format=json|csv|xlsx. An operator: only their own figures (403 for other forms)", ["admin", "supervisor", "operator"], 200, REF("Report"), None),
    ("put", "/reports/{form}", "Change a custom report form", ["admin"], 200, REF("ReportForm"), REF("ReportFormInput")),
    ("delete", "/reports/{form}", "Delete a custom report form", ["admin"], 204, None, None),
    ("get", "/quality/forms", "Evaluation forms (their current versions) with criteria, weights and how many scores use them", ["admin", "supervisor"], 200, LIST("QualityForm"), None),
    ("post", "/quality/forms", "Add an evaluation form", ["admin", "supervisor"], 201, REF("QualityForm"), REF("QualityFormInput")),
    ("get", "/quality/forms/{form_id}", "One evaluation form", ["admin", "supervisor"], 200, REF("QualityForm"), None),
    ("put", "/quality/forms/{form_id}", "Change a form (fields left out stay); once it has scores, new criteria make a new version (a new id), earlier scores keep theirs", ["admin", "supervisor"], 200, REF("QualityForm"), REF("QualityFormInput")),
    ("delete", "/quality/forms/{form_id}", "Delete a form nobody has scored with (422 otherwise: switch it off)", ["admin", "supervisor"], 204, None, None),
    ("post", "/recordings/{recording_id}/scores", "Score a good recording on an active form (the same reviewer and form again replaces the score)", ["admin", "supervisor"], 201, REF("Score"), REF("ScoreInput")),
    ("get", "/quality/scores", "Scores with points and comments, newest call first: an operator gets their own; admins and supervisors everyone's or one operator's (?operator=EXT)", ["admin", "supervisor", "operator"], 200, LIST("Score"), None),
    ("get", "/quality/averages", "Average score per operator or group (?by=operator|group) of the calls in a period (?start, ?end: YYYY-MM-DD on the call center's clock; default the last 30 days)", ["admin", "supervisor"], 200, LIST("QualityAverage"), None),
    ("get", "/health", "Hardware health: each sensor's latest reading (status ok, warning, critical, absent or fault) and the active alarms (spans, temperatures, fans, power supply)", STAFF, 200, REF("Health"), None),
    ("get", "/outbound-policy", "The outbound policy every number Korund dials out passes: which numbers are allowed (scope and prefixes) and the caps on callback orders", ["admin", "supervisor"], 200, REF("OutboundPolicy"), None),
    ("put", "/outbound-policy", "Change the outbound policy (fields left out stay; applies at once, no apply needed); 422 names the bad field and nothing changes", ["admin"], 200, REF("OutboundPolicy"), REF("OutboundPolicyInput")),
    ("post", "/outbound-policy/check", "Try a number against the policy: {\"number\", \"purpose\": callback | callback-attempt | route | operator, \"caller\"} (a callback's caps count the caller's orders); nothing is stored", ["admin", "supervisor"], 200, REF("OutboundDecision"), S(number=STR)),
    ("get", "/outbound-policy/refusals", "The latest numbers the policy refused, newest first (?limit 1-200, default 20)", ["admin", "supervisor"], 200, LIST("OutboundRefusal"), None),
    ("get", "/trunk-groups", "Trunk groups: the spans or SIP trunks an outbound route dials through, their hunting, channels kept free for inbound, cap and how they rewrite the number", STAFF, 200, LIST("TrunkGroup"), None),
    ("post", "/trunk-groups", "Add a trunk group (applies to the next call out, no apply needed); 422 names the bad field and nothing is saved", ["admin"], 201, REF("TrunkGroup"), REF("TrunkGroupInput")),
    ("get", "/trunk-groups/{name}", "One trunk group", STAFF, 200, REF("TrunkGroup"), None),
    ("put", "/trunk-groups/{name}", "Change a trunk group (fields left out stay; a new name carries its routes along); 422 when a route's number would be rewritten to nothing, and nothing is saved", ["admin"], 200, REF("TrunkGroup"), REF("TrunkGroupInput")),
    ("patch", "/trunk-groups/{name}", "Change a trunk group: the same as PUT", ["admin"], 200, REF("TrunkGroup"), REF("TrunkGroupInput")),
    ("delete", "/trunk-groups/{name}", "Delete a trunk group (422 while a route uses it)", ["admin"], 204, None, None),
    ("get", "/outbound-routes", "Outbound routes in order: number patterns, trunk groups tried in order, level, caller ID, cap", STAFF, 200, LIST("OutboundRoute"), None),
    ("post", "/outbound-routes", "Add an outbound route (applies to the next call out); 422 for a pattern that cannot match, a route overlapping another, no trunk group, a rewriting to an empty number; nothing is saved", ["admin"], 201, REF("OutboundRoute"), REF("OutboundRouteInput")),
    ("get", "/outbound-routes/plan", "What dialling a number would do now, without dialling: ?number=, ?purpose=route (default) or operator with ?operator=EXT (their class of service); the route and each try, or why nothing is dialled", STAFF, 200, REF("OutboundPlan"), None),
    ("get", "/outbound-routes/{name}", "One outbound route", STAFF, 200, REF("OutboundRoute"), None),
    ("put", "/outbound-routes/{name}", "Change an outbound route (fields left out stay); 422 names the bad field and nothing is saved", ["admin"], 200, REF("OutboundRoute"), REF("OutboundRouteInput")),
    ("patch", "/outbound-routes/{name}", "Change an outbound route: the same as PUT", ["admin"], 200, REF("OutboundRoute"), REF("OutboundRouteInput")),
    ("delete", "/outbound-routes/{name}", "Delete an outbound route", ["admin"], 204, None, None),
    ("get", "/outbound-classes", "Each operator's class of service: which routes their own calls may take (emergency numbers always)", STAFF, 200, LIST("OutboundClass"), None),
    ("put", "/outbound-classes/{extension}", "Set an operator's class of service: {\"outbound_class\": internal | local | national | international}", ["admin"], 200, REF("OutboundClass"), S(outbound_class=STR)),
]


def spec() -> dict:
    paths: dict = {}
    for method, path, summary, roles, code, schema, request in OPERATIONS:
        op = {"summary": summary, "description": "Roles: " + ", ".join(roles),
              "x-roles": roles, "security": [{"token": []}, {"session": []}],
              "responses": {
                  str(code): {"description": "OK"} | ({"content": {"application/json": {"schema": schema}}}
                                                     if schema else {}),
                  "401": {"description": "Not logged in", "content": {"application/json": {"schema": REF("Error")}}},
                  "403": {"description": "Role not allowed", "content": {"application/json": {"schema": REF("Error")}}},
              }}
        params = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
        if params:
            op["parameters"] = [{"name": p, "in": "path", "required": True,
                                 "schema": INT if p in ("span", "user_id", "client_id", "recording_id", "form_id") else STR} for p in params]
            op["responses"]["404"] = {"description": "Not found", "content": {"application/json": {"schema": REF("Error")}}}
        if request:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": request}}}
            op["responses"]["422"] = {"description": "Invalid input; nothing saved",
                                      "content": {"application/json": {"schema": REF("Invalid")}}}
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Korund appliance API", "version": "1",
                 "description": "Configure and watch a Korund call-center appliance."},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer",
                          "description": "A token from the profile page"},
                "session": {"type": "apiKey", "in": "cookie", "name": "korund_session",
                            "description": "The panel's session; unsafe methods need X-CSRF-Token"},
            },
        },
    }


@api_bp.get("/openapi.json")
def api_document():
    return jsonify(spec())

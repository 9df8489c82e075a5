"""The test dial's steps, built from AMI events recorded from real test dials
(tests/unit/data/test_dial/*.jsonl: every event the test dial's own AMI
session received over the SIP trunk to the PSTN simulator, with its seconds
from the start in ``_t``; VarSet events of variables that are not Korund's
left out), and what the panel checks before it dials."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from appliance.base.errors import ConfigError
from appliance.lines import store as spans, test_dial
from appliance.outbound import routes
from web import lines as lines_page

DATA = Path(__file__).parent / "data" / "test_dial"


def recorded(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text().splitlines()]


def kinds(steps: list[dict]) -> list[str]:
    return [s["kind"] for s in steps]


def test_rings_then_answered():
    steps = test_dial.steps(recorded("rings_then_answered"))
    assert kinds(steps) == ["route", "seizure-trunk", "digits", "ringing", "answer", "cause", "ended"]
    by = {s["kind"]: s for s in steps}
    assert by["route"]["params"] == {"route": "national", "group": "pstn"}
    assert by["seizure-trunk"]["params"] == {"channel": "PJSIP/pstn-00000000", "trunk": "pstn"}
    assert by["digits"]["params"] == {"sent": "84951234567"}
    assert by["cause"]["params"] == {"outcome": "answered", "cause": "16", "cause_text": "normal clearing",
                                     "status": "ANSWER"}
    assert [s["t"] for s in steps] == sorted(s["t"] for s in steps)
    # the far end was picked up 1.5 s into the ringing; the call was held ANSWER_SECONDS
    assert by["answer"]["t"] - by["ringing"]["t"] > 1
    assert by["ended"]["t"] - by["answer"]["t"] == pytest.approx(test_dial.ANSWER_SECONDS, abs=0.5)
    assert test_dial.outcome(recorded("rings_then_answered")) == "answered"


@pytest.mark.parametrize("name, outcome, cause, text", [("busy", "busy", "17", "user busy"),
                                                        ("reject", "rejected", "21", "call rejected")])
def test_the_far_end_refuses(name, outcome, cause, text):
    events = recorded(name)
    steps = test_dial.steps(events)
    assert kinds(steps) == ["route", "seizure-trunk", "digits", "cause", "ended"]
    params = steps[3]["params"]
    assert (params["outcome"], params["cause"], params["cause_text"]) == (outcome, cause, text)
    assert test_dial.outcome(events) == outcome


def test_a_trunk_group_answering_503_is_followed_by_the_next():
    steps = test_dial.steps(recorded("failover"))
    assert kinds(steps) == ["route", "seizure-trunk", "digits", "cause",
                            "route", "seizure-trunk", "digits", "answer", "cause", "ended"]
    assert [s["params"]["group"] for s in steps if s["kind"] == "route"] == ["first", "pstn"]
    # each trunk group's own format of the number
    assert [s["params"]["sent"] for s in steps if s["kind"] == "digits"] == ["+74951234567", "84951234567"]
    assert steps[3]["params"]["outcome"] == "congestion" and steps[3]["params"]["cause"] == "34"
    assert test_dial.outcome(recorded("failover")) == "answered"


def test_nothing_dialled_when_the_route_has_no_trunk_group_in_service():
    events = recorded("refused")
    assert kinds(test_dial.steps(events)) == ["refused", "ended"]
    assert test_dial.steps(events)[0]["params"] == {"reason": "no-trunk"}
    assert test_dial.outcome(events) == "refused"


def test_steps_so_far_while_it_rings():
    events = recorded("rings_then_answered")
    ringing = next(i for i, e in enumerate(events) if e["Event"] == "DialState")
    assert kinds(test_dial.steps(events[:ringing + 1])) == ["route", "seizure-trunk", "digits", "ringing"]
    assert test_dial.outcome(events[:ringing + 1]) == ""


def as_dahdi(events: list[dict]) -> list[dict]:
    """The answered call as if over span 1, circuit 3: the outgoing leg
    DAHDI/3-1 names its span and circuit (korund-outbound's pre-dial handler)
    before it is dialled."""
    out = []
    for e in copy.deepcopy(events):
        for key, value in e.items():
            if isinstance(value, str) and "PJSIP/pstn-00000000" in value:
                e[key] = value.replace("PJSIP/pstn-00000000", "DAHDI/3-1")
        if e["Event"] == "DialBegin":
            for var, value in (("KORUND_OUT_SPAN", "1"), ("KORUND_OUT_CIRCUIT", "3")):
                out.append({"Event": "VarSet", "Channel": "DAHDI/3-1", "Variable": var, "Value": value,
                            "Linkedid": e["Linkedid"], "_t": e["_t"]})
            e["DialString"] = "g1/84951234567"
        out.append(e)
    return out


def test_a_dahdi_leg_shows_its_span_and_circuit():
    steps = test_dial.steps(as_dahdi(recorded("rings_then_answered")))
    seizure = steps[1]
    assert seizure["kind"] == "seizure-circuit"
    assert seizure["params"] == {"channel": "DAHDI/3-1", "span": "1", "circuit": "3"}


def test_a_try_that_seized_nothing():
    events = recorded("refused")
    report = next(e for e in events if e.get("UserEvent") == "KorundOutbound")
    cut = [e for e in events if e.get("UserEvent") not in ("KorundOutbound", "KorundTestDial")
           and e["Event"] != "OriginateResponse"]
    unavailable = {**report, "DialStatus": "CHANUNAVAIL", "TrunkGroup": "e1", "Refused": ""}
    steps = test_dial.steps(cut[:-1] + [unavailable] + cut[-1:])
    assert kinds(steps) == ["not-dialled", "ended"]
    assert steps[0]["params"] == {"group": "e1", "status": "CHANUNAVAIL"}


def test_the_originate_failing_is_said_once_nothing_else_explains_it():
    failure = {"Event": "OriginateResponse", "Response": "Failure", "Reason": "0", "_t": 0.1}
    assert kinds(test_dial.steps([failure])) == ["failed"]
    assert test_dial.steps([failure])[0]["params"]["reason"] == "no such extension or the channel failed"
    # the recorded refusal has one too: the refusal explains it
    assert "failed" not in kinds(test_dial.steps(recorded("refused")))


def test_every_step_has_its_words_marked_for_the_catalogs():
    assert set(lines_page.STEP_TEXTS) == set(test_dial.TEXTS.values())
    assert set(lines_page.OUTCOME_TEXTS) == set(test_dial.OUTCOME_TEXTS.values())
    assert set(lines_page.REFUSED_TEXTS) == set(test_dial.REFUSED_TEXTS.values())
    assert set(lines_page.ORIGINATE_REASONS) == set(test_dial.ORIGINATE_REASONS.values())
    for events in map(recorded, ("rings_then_answered", "busy", "reject", "failover", "refused")):
        for step in test_dial.steps(events):
            test_dial.TEXTS[step["kind"]].format(**step["params"])


# --- what is checked before dialling ------------------------------------------------

def trunk_span(db, number: int, **extra) -> None:
    spans.save(db, spans.validate({"span": number, "name": f"E1 {number}", "signalling": "mfcr2", "framing": "cas",
                                   "coding": "hdb3", "mfcr2_variant": "ITU", "channels": "1-15,17-31",
                                   "timing": str(number), **extra}), create=True)


def test_check(demo_db):
    trunk_span(demo_db, 1)
    trunk_span(demo_db, 2, role="test_carrier")
    assert test_dial.check(demo_db, " 84951234567 ", route="national") == test_dial.Target("84951234567", "national")
    assert test_dial.check(demo_db, "+74951234567", span="1") == test_dial.Target("+74951234567", span=1)
    assert test_dial.check(demo_db, "2123456", span=1).span == 1
    bad = [(("8495 123", "national", None), "number"), (("8495123456;", "national", None), "number"),
           (("+", "national", None), "number"), (("8" * 21, "national", None), "number"),
           (("84951234567", None, None), "target"), (("84951234567", "national", "1"), "target"),
           (("84951234567", "local", None), "number"), (("84951234567", "Nowhere", None), "target"),
           (("84951234567", "nat,ional", None), "target"), (("84951234567", None, "2"), "target"),
           (("84951234567", None, "9"), "target"), (("84951234567", None, "1)"), "target")]
    for (number, route, span), field in bad:
        with pytest.raises(ConfigError) as exc:
            test_dial.check(demo_db, number, route, span)
        assert exc.value.field == field, (number, route, span)


def test_a_route_out_of_service_is_not_offered(demo_db):
    route = next(r for r in routes.routes(demo_db) if r.name == "national")
    routes.save_route(demo_db, {**vars(route), "enabled": False}, "test", original="national")
    assert "national" not in test_dial.route_names(demo_db)
    with pytest.raises(ConfigError):
        test_dial.check(demo_db, "84951234567", route="national")


def test_the_originate_hands_over_only_checked_values():
    dial = test_dial.TestDial("0123456789", test_dial.Target("84951234567", route="national"), "tech")
    action = test_dial.originate_action(dial)
    assert action["Channel"] == "Local/0123456789@korund-test-dial/n"
    assert action["ChannelId"] == "korund-test-0123456789" and action["ActionID"] == action["ChannelId"]
    assert action["Variable"] == ["KORUND_TEST_NUMBER=84951234567", "KORUND_TEST_ROUTE=national",
                                  "KORUND_TEST_SPAN="]
    assert (action["Application"], action["Data"]) == ("Wait", str(test_dial.ANSWER_SECONDS))
    filters = test_dial.event_filters(dial.channel_id)
    assert {f.criteria() for f in filters} >= {
        "action(include),name(Hangup),header(Linkedid),method(starts_with)",
        "action(include),name(OriginateResponse),header(ActionID),method(exact)"}
    assert {f.value for f in filters} == {"korund-test-0123456789"}


def test_the_context_refuses_a_value_its_filter_shortened():
    conf = test_dial.render()
    assert "exten => _XXXXXXXXXX,1," in conf
    for raw, clean in (("KORUND_TEST_NUMBER", "KORUND_TNUMBER"), ("KORUND_TEST_ROUTE", "KORUND_TROUTE"),
                       ("KORUND_TEST_SPAN", "KORUND_TSPAN")):
        assert f"$[${{LEN(${{{clean}}})}} != ${{LEN(${{{raw}}})}}]?bad" in conf
    assert "Gosub(korund-outbound,s,1(30,))" in conf
    assert "Set(KORUND_OUT_PURPOSE=test)" in conf


def test_a_test_dial_keeps_only_its_own_calls_events_and_knows_when_it_ended():
    events = recorded("rings_then_answered")
    origin = next(e["Uniqueid"] for e in events if test_dial.ORIGINATED.fullmatch(e.get("Uniqueid", "")))
    dial = test_dial.TestDial(origin.removeprefix(test_dial.CHANNEL_ID), test_dial.Target("84951234567", "national"),
                              "tech")
    stranger = {"Event": "Hangup", "Channel": "PJSIP/1001-00000009", "Uniqueid": "1796645750.9",
                "Linkedid": "1796645750.8", "Cause": "16"}
    end = next(i for i, e in enumerate(events) if e["Event"] == "Hangup" and e["Uniqueid"] == origin)
    for e in events[:end]:
        dial.add({k: v for k, v in e.items() if k != "_t"})
        dial.add(stranger)
    assert not dial.finished()
    for e in events[end:]:
        dial.add({k: v for k, v in e.items() if k != "_t"})
    assert dial.finished() and len(dial.events) == len(events)
    assert kinds(dial.snapshot()["steps"]) == kinds(test_dial.steps(events))

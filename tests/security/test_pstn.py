"""The PSTN boundary: nobody steers the dialplan from a phone, and nobody
makes the appliance call out where its outbound policy says no. Each test
is an attack against the real appliance (Asterisk, the FastAGI scripts,
the dialer; the carrier plays the PSTN and the operators' phones):

- an operator's phone dials a dialplan injection (``99,1:korund-inbound,100``
  and friends) in a real, authenticated SIP INVITE, and through Asterisk
  itself: it reaches no other context;
- an operator dials an international and a premium-rate number: nothing
  goes out, and the refusal is audited; a national number does go out;
- a caller orders a callback abroad, to a premium-rate number, past the
  cap of orders for their number, and to another number while the policy
  allows only the caller's own: each hears the refusal prompt, no order is
  stored, the refusal is audited;
- the dialer meets an order stored before the policy was tightened: it
  refuses it without ringing anyone;
- a scenario routes a caller to a foreign number: the call goes to an
  operator instead.

The refusal prompts are replaced by tones here, so the caller's recording
tells which one was played."""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest

from appliance.base import store
from appliance.outbound import store as outbound_store
from tests import audio
from tests.conftest import APPLIANCE_ADDR, SLOT
from tests.harness import wait_for
from tests.telephony.test_scenarios import publish_and_bind

# An address of this test slot that is neither the appliance's nor the carrier's
# (tests/security/test_lan_sip.py uses N3 to N7).
PHONE_ADDR = f"127.0.0.{18 + 10 * SLOT}"

PROMPT_TONES = {"t-cb-offer": 600, "t-cb-number": 900, "t-cb-confirm": 1100, "t-cb-enter": 1500,
                "t-cb-done": 1700}
# The built-in prompts the outbound policy's refusals play (appliance.prompts.builtin), as tones.
REFUSAL_TONES = {"callback-refused": 2100, "callback-own-number": 2300, "callback-limit": 2500,
                 "outbound-refused": 1900}

CALLBACK = {"start": "order", "nodes": {
    "order": {"type": "callback", "prompts": ["t-cb-offer"], "group": "support", "slots": [],
              "number_prompts": ["t-cb-number"], "confirm_prompts": ["t-cb-confirm"],
              "enter_prompts": ["t-cb-enter"], "done_prompts": ["t-cb-done"],
              "timeout": 8, "retries": 1, "next": {"next": "bye", "fail": "bye"}},
    "bye": {"type": "hangup"},
}}
ABROAD = "+441234567890"
NATIONAL = "84957770099"


def route_to(number: str) -> dict:
    return {"start": "out", "nodes": {"out": {"type": "route", "to": "number", "number": number}}}


@pytest.fixture(scope="module")
def pstn(pbx):
    appliance, _carrier = pbx
    for name, freq in {**PROMPT_TONES, **REFUSAL_TONES}.items():
        appliance.tone_prompt(name, freq, seconds=2 if name == "t-cb-offer" else 1.5)
    publish_and_bind(appliance, "callme", CALLBACK, "500")
    publish_and_bind(appliance, "abroad", route_to(ABROAD), "510")
    publish_and_bind(appliance, "national", route_to(NATIONAL), "511")
    # The orders these tests take are about the IVR; the dialer runs only in its own test.
    appliance.stop_service("dialer")
    yield appliance
    appliance.start_service("dialer")


@pytest.fixture(autouse=True)
def default_policy(pstn):
    """Each test starts from the default policy and no open order."""
    set_policy(pstn, **{k: outbound_store.DEFAULTS[k] for k in outbound_store.FIELDS})
    with pstn.db() as conn:
        conn.execute("UPDATE callbacks SET status = 'cancelled' WHERE status = 'new'")


def set_policy(appliance, **values) -> None:
    """Change the policy as the panel does; the appliance reads it per call (no apply)."""
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        outbound_store.save(db, values, "test")
    finally:
        db.close()


def audit_mark(appliance) -> int:
    with appliance.db() as conn:
        return conn.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0]


def refusals(appliance, number: str, since: int = 0) -> list[dict]:
    """The audit log's refusals of *number* after entry *since*."""
    with appliance.db() as conn:
        return [{"by": r[0], **json.loads(r[1])} for r in conn.execute(
            "SELECT username, details FROM audit WHERE action = 'outbound refused' AND target = ? AND id > ? "
            "ORDER BY id", [number, since])]


def orders(appliance, ani: str) -> list[dict]:
    with appliance.db() as conn:
        return [dict(r) for r in conn.execute("SELECT * FROM callbacks WHERE ani = ? ORDER BY id", [ani])]


def rang(carrier, mark: int, phone: str) -> list[dict]:
    """The carrier's phone *phone* rang since *mark* (a number dialled out reaches it)."""
    return carrier.events.find(mark, Event="UserEvent", UserEvent="SimPhoneRang", Phone=phone)


# --- a SIP phone of our own: an operator's account, from another address ---------------

class SipPhone:
    """Just enough of a SIP user agent to place an authenticated INVITE
    from operator *ext*'s account and see what the appliance answers."""

    def __init__(self, ext: str, secret_: str, local: str = PHONE_ADDR, target: str = APPLIANCE_ADDR):
        self.ext, self.secret, self.target = ext, secret_, (target, 5060)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((local, 0))
        self.sock.settimeout(1)
        self.local = self.sock.getsockname()

    def close(self):
        self.sock.close()

    def _send(self, text: str) -> None:
        self.sock.sendto(text.replace("\n", "\r\n").encode(), self.target)

    def _recv(self, timeout: float) -> tuple[int, str, dict, str] | None:
        """The next response (code, reason, headers, raw) or request (0, method, headers, raw)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            raw = data.decode(errors="replace")
            head, _, _body = raw.partition("\r\n\r\n")
            lines = head.split("\r\n")
            headers: dict[str, list[str]] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers.setdefault(name.strip().lower(), []).append(value.strip())
            if lines[0].startswith("SIP/2.0"):
                _, code, reason = (lines[0].split(" ", 2) + [""])[:3]
                return int(code), reason, headers, raw
            return 0, lines[0].split(" ", 1)[0], headers, raw
        return None

    def _invite(self, uri: str, call_id: str, tag: str, cseq: int, branch: str, auth: str = "") -> None:
        ip, port = self.local
        sdp = (f"v=0\no=phone 1 {cseq} IN IP4 {ip}\ns=-\nc=IN IP4 {ip}\nt=0 0\n"
               f"m=audio {port + 2} RTP/AVP 8\na=rtpmap:8 PCMA/8000\n").replace("\n", "\r\n")
        self._send(f"INVITE {uri} SIP/2.0\nVia: SIP/2.0/UDP {ip}:{port};rport;branch={branch}\n"
                   f"From: <sip:{self.ext}@{self.target[0]}>;tag={tag}\nTo: <{uri}>\nCall-ID: {call_id}\n"
                   f"CSeq: {cseq} INVITE\nContact: <sip:{self.ext}@{ip}:{port}>\nMax-Forwards: 70\n{auth}"
                   f"Content-Type: application/sdp\nContent-Length: {len(sdp)}\n\n" + sdp.replace("\r\n", "\n"))

    def _ack(self, uri: str, call_id: str, tag: str, to: str, cseq: int, branch: str) -> None:
        ip, port = self.local
        self._send(f"ACK {uri} SIP/2.0\nVia: SIP/2.0/UDP {ip}:{port};rport;branch={branch}\n"
                   f"From: <sip:{self.ext}@{self.target[0]}>;tag={tag}\nTo: {to}\nCall-ID: {call_id}\n"
                   f"CSeq: {cseq} ACK\nMax-Forwards: 70\nContent-Length: 0\n\n")

    def _authorization(self, challenge: str, uri: str) -> str:
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
        ha1 = hashlib.md5(f"{self.ext}:{fields['realm']}:{self.secret}".encode()).hexdigest()
        ha2 = hashlib.md5(f"INVITE:{uri}".encode()).hexdigest()
        parts = [f'username="{self.ext}"', f'realm="{fields["realm"]}"', f'nonce="{fields["nonce"]}"',
                 f'uri="{uri}"', "algorithm=MD5"]
        if "qop" in fields:
            cnonce, nc = secrets.token_hex(8), "00000001"
            digest = hashlib.md5(f"{ha1}:{fields['nonce']}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
            parts += ["qop=auth", f'cnonce="{cnonce}"', f"nc={nc}"]
        else:
            digest = hashlib.md5(f"{ha1}:{fields['nonce']}:{ha2}".encode()).hexdigest()
        parts.append(f'response="{digest}"')
        if "opaque" in fields:
            parts.append(f'opaque="{fields["opaque"]}"')
        return "Authorization: Digest " + ", ".join(parts) + "\n"

    def call(self, user: str, talk: float = 1.0, timeout: float = 30) -> list[int]:
        """INVITE sip:<user>@appliance (user as it goes on the wire, %-escapes
        and all), answering the digest challenge; an answered call is talked
        on for *talk* s and hung up. The response codes, in order."""
        uri = f"sip:{user}@{self.target[0]}:{self.target[1]}"
        call_id, tag = f"{secrets.token_hex(8)}@{self.local[0]}", secrets.token_hex(4)
        codes: list[int] = []
        cseq, branch = 1, "z9hG4bK" + secrets.token_hex(6)
        self._invite(uri, call_id, tag, cseq, branch)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self._recv(deadline - time.monotonic())
            if got is None:
                break
            code, _reason, headers, _raw = got
            if code == 0:
                continue
            codes.append(code)
            if code < 200:
                continue
            to = headers["to"][0]
            if code == 401 and cseq == 1:
                self._ack(uri, call_id, tag, to, cseq, branch)
                challenge = next(h for h in headers["www-authenticate"] if "MD5" in h.upper() or "algorithm" not in h)
                cseq, branch = 2, "z9hG4bK" + secrets.token_hex(6)
                self._invite(uri, call_id, tag, cseq, branch, self._authorization(challenge, uri))
                continue
            if code >= 300:
                self._ack(uri, call_id, tag, to, cseq, branch)
                return codes
            contact = re.search(r"<([^>]+)>", headers["contact"][0]).group(1)
            self._ack(contact, call_id, tag, to, cseq, "z9hG4bK" + secrets.token_hex(6))
            time.sleep(talk)
            ip, port = self.local
            self._send(f"BYE {contact} SIP/2.0\nVia: SIP/2.0/UDP {ip}:{port};rport;branch=z9hG4bK{secrets.token_hex(6)}\n"
                       f"From: <sip:{self.ext}@{self.target[0]}>;tag={tag}\nTo: {to}\nCall-ID: {call_id}\n"
                       f"CSeq: {cseq + 1} BYE\nMax-Forwards: 70\nContent-Length: 0\n\n")
            while (got := self._recv(5)) is not None:
                if got[0] >= 200:
                    codes.append(got[0])
                    break
            return codes
        return codes


def sip_secret(appliance, extension: str) -> str:
    with appliance.db() as conn:
        return conn.execute("SELECT sip_secret FROM operators WHERE extension = ?", [extension]).fetchone()[0]


def cdr_lines(appliance) -> list[str]:
    path = appliance.host_base / "log" / "cdr-custom" / "korund-cdr.csv"
    return path.read_text(errors="replace").splitlines() if path.exists() else []


INJECTIONS = [
    "99,1%3Akorund-inbound,100",            # GotoIf's false branch: context korund-inbound, extension 100
    "100,1%3Akorund-route,s,1",
    "1001%26Local%2F100%40korund-inbound",  # a second Dial target
    "%24%7BEXTEN%7D",                       # ${EXTEN}
    "1002%3F",
]


def test_an_operator_phone_dialling_a_context_injection_reaches_nothing(pstn, carrier):
    phone = SipPhone("1001", sip_secret(pstn, "1001"))
    try:
        # the phone and its password are good: an internal call goes through
        mark = carrier.events.mark()
        assert 200 in phone.call("1002", talk=1), "the authenticated control call was not answered"
        assert rang(carrier, mark, "1002")
        before_calls, before_cdr = pstn.last_call_id(), len(cdr_lines(pstn))
        mark = pstn.events.mark()
        for user in INJECTIONS:
            codes = phone.call(user)
            final = [c for c in codes if c >= 200]
            assert final and final[-1] == 404, (user, codes)    # no extension of korund-operators matches
    finally:
        phone.close()
    time.sleep(2)   # proving nothing happened: anything the INVITEs started would show by now
    assert not pstn.events.find(mark, Event="Newexten", Context="korund-inbound")
    assert not [e for e in pstn.events.find(mark, Event="Newchannel") if e.get("Channel", "").startswith("PJSIP/1001-")]
    assert pstn.last_call_id() == before_calls
    assert not [line for line in cdr_lines(pstn)[before_cdr:] if "korund-inbound" in line]


def test_the_injection_reaching_asterisk_by_another_way_goes_nowhere(pstn, carrier):
    """The same strings as the operators' context's extension, the way Asterisk
    itself would run them (an originate on operator 1001's phone)."""
    mark = pstn.events.mark()
    for exten in ("99,1:korund-inbound,100", "1001&Local/100@korund-inbound", "${EXTEN}", "1002?"):
        cmark = carrier.events.mark()
        resp = pstn.mgr.send_action({"Action": "Originate", "Channel": "PJSIP/1001", "Context": "korund-operators",
                                     "Exten": exten, "Priority": "1", "Async": "true", "Timeout": "20000"})
        if resp.get_header("Response") != "Success":   # Asterisk found no such extension to start with
            assert "xtension" in (resp.get_header("Message") or ""), resp.get_header("Message")
            continue
        carrier.events.wait(cmark, 30, Event="UserEvent", UserEvent="SimPhoneRang", Phone="1001")
        wait_for(lambda: not [ln for ln in pstn.cli("core show channels concise") if ln.startswith("PJSIP/1001-")],
                 20, what="the operator's channel to be hung up")
    assert not pstn.events.find(mark, Event="Newexten", Context="korund-inbound")
    assert not pstn.events.find(mark, Event="Newexten", Context="korund-route")
    assert not rang(carrier, mark, "100") and not rang(carrier, mark, "1002")


def dial_from_phone(appliance, carrier, number: str, phone: str = "1001"):
    """Operator *phone* dials *number* (the appliance rings the phone, which
    answers, then runs what was dialled in the operators' context)."""
    mark = carrier.events.mark()
    resp = appliance.mgr.send_action({"Action": "Originate", "Channel": f"PJSIP/{phone}", "Context": "korund-operators",
                                      "Exten": number, "Priority": "1", "Async": "true", "Timeout": "20000"})
    assert resp.get_header("Response") == "Success"
    # (the phone's answer may not be reported: a refused call can end before it is)
    carrier.events.wait(mark, 30, Event="UserEvent", UserEvent="SimPhoneRang", Phone=phone)
    wait_for(lambda: not [ln for ln in appliance.cli("core show channels concise") if ln.startswith(f"PJSIP/{phone}-")],
             40, what=f"{phone}'s call to end")
    return mark


@pytest.mark.parametrize("number, reason", [("810441234567890", "international"), ("+441234567890", "international"),
                                            ("88091234567", "denied"), ("89541234567", "denied")])
def test_an_operator_cannot_dial_abroad_or_premium_rate(pstn, carrier, number, reason):
    since = audit_mark(pstn)
    mark = dial_from_phone(pstn, carrier, number)
    assert not rang(carrier, mark, number) and not rang(carrier, mark, number.lstrip("+"))
    [refusal] = refusals(pstn, number, since)
    assert (refusal["by"], refusal["purpose"], refusal["reason"], refusal["caller"]) == (
        "phone 1001", "operator", reason, "1001")


def test_an_operator_dials_a_national_number_out(pstn, carrier):
    carrier.phone(NATIONAL, "busy")
    since = audit_mark(pstn)
    mark = dial_from_phone(pstn, carrier, NATIONAL)
    assert rang(carrier, mark, NATIONAL)               # it went out through the trunk
    assert refusals(pstn, NATIONAL, since) == []


def order_by_phone(carrier, ani: str, keys: str):
    """A caller on the callback scenario (number 500): *keys* as the caller presses them."""
    return carrier.call(ani=ani, dnis="500", hold=5, dtmf=keys, dtmf_delay=1.2)


def entering(number: str, waits: int) -> str:
    """1 = as soon as possible; 2 = not my number, then *number* and #, then
    1 = right, once the number has been read back (*waits* half seconds)."""
    return "1" + "w" * 19 + "2" + "w" * 4 + number + "#" + "w" * waits + "1"


def heard_refusal(call, prompt: str) -> None:
    call.ended()
    heard = audio.samples(call.recording())
    refused_at = audio.first_tone_at(heard, REFUSAL_TONES[prompt])
    assert refused_at is not None, f"the caller did not hear {prompt}"
    assert audio.first_tone_at(heard, PROMPT_TONES["t-cb-confirm"]) < refused_at
    assert audio.first_tone_at(heard, PROMPT_TONES["t-cb-done"]) is None     # no "thank you, ordered"


@pytest.mark.parametrize("ani, number, waits, reason", [
    ("4951230041", "810441234567890", 30, "international"),   # 15 digits read back
    ("4951230042", "88091234567", 21, "denied"),              # 8-809: premium rate
])
def test_a_caller_cannot_order_a_callback_abroad_or_to_premium_rate(pstn, carrier, ani, number, waits, reason):
    since = audit_mark(pstn)
    call = order_by_phone(carrier, ani, entering(number, waits))
    refusal = wait_for(lambda: refusals(pstn, number, since), 90, what="the refusal")[0]
    assert (refusal["by"], refusal["purpose"], refusal["reason"], refusal["caller"]) == (
        "ivr", "callback", reason, ani)
    heard_refusal(call, "callback-refused")
    assert orders(pstn, ani) == []


def test_a_caller_cannot_order_past_the_cap_for_their_number(pstn, carrier):
    set_policy(pstn, max_open=1)
    ani = "4951230043"
    since = audit_mark(pstn)
    first = order_by_phone(carrier, ani, "1" + "w" * 19 + "1")       # as soon as possible, to my own number
    wait_for(lambda: orders(pstn, ani), 60, what="the first order")
    first.ended()
    second = order_by_phone(carrier, ani, "1" + "w" * 19 + "1")
    refusal = wait_for(lambda: refusals(pstn, ani, since), 60, what="the refusal")[0]
    assert refusal["reason"] == "open-orders" and refusal["caller"] == ani
    heard_refusal(second, "callback-limit")
    assert len(orders(pstn, ani)) == 1


def test_with_own_number_only_a_caller_cannot_order_a_call_to_someone_else(pstn, carrier):
    set_policy(pstn, own_number_only=True)
    ani, victim = "4951230044", "89161234567"
    since = audit_mark(pstn)
    call = order_by_phone(carrier, ani, entering(victim, 21))
    refusal = wait_for(lambda: refusals(pstn, victim, since), 90, what="the refusal")[0]
    assert refusal["reason"] == "own-number" and refusal["caller"] == ani
    heard_refusal(call, "callback-own-number")
    assert orders(pstn, ani) == []
    # the caller's own number is still taken
    call = order_by_phone(carrier, ani, "1" + "w" * 19 + "1")
    assert wait_for(lambda: orders(pstn, ani), 60, what="the order")[0]["number"] == ani
    call.ended()


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def test_the_dialer_refuses_an_order_stored_before_the_policy_was_tightened(pstn, carrier):
    set_policy(pstn, scope="international")
    since = audit_mark(pstn)
    due = utc(datetime.now(UTC) - timedelta(minutes=1))
    with pstn.db() as conn:
        ids = [conn.execute(
            "INSERT INTO callbacks (grp, number, ani, asap, slot_from, status, uniqueid, created_at) "
            "VALUES ('support', ?, ?, 1, ?, 'new', '', ?)", [number, number, due, due]).lastrowid
            for number in (ABROAD, "74957770051")]
    set_policy(pstn, scope="national")
    carrier.phone("74957770051", "busy")
    mark = carrier.events.mark()
    pstn.start_service("dialer")
    try:
        with pstn.db() as conn:
            refused = wait_for(lambda: conn.execute("SELECT * FROM callbacks WHERE id = ? AND status = 'failed'",
                                                    [ids[0]]).fetchone(), 30, what="the foreign order refused")
        assert json.loads(refused["refused"])["reason"] == "international" and refused["changed_by"] == "dialer"
        # the allowed order is placed as usual: operator first, then the client
        carrier.events.wait(mark, 40, Event="UserEvent", UserEvent="SimPhoneRang", Phone="74957770051")
        with pstn.db() as conn:
            wait_for(lambda: conn.execute("SELECT result FROM callback_attempts WHERE callback_id = ? "
                                          "AND result IS NOT NULL", [ids[1]]).fetchone(), 40,
                     what="the allowed order's attempt")
            tried = conn.execute("SELECT COUNT(*) FROM callback_attempts WHERE callback_id = ?", [ids[0]]).fetchone()
    finally:
        pstn.stop_service("dialer")
        with pstn.db() as conn:
            conn.execute("UPDATE callbacks SET status = 'cancelled' WHERE status = 'new'")
    assert tried[0] == 0                                   # no operator was rung for it
    assert not carrier.events.find(mark, Event="UserEvent", UserEvent="SimPhoneRang", CallerNum="441234567890")
    assert not rang(carrier, mark, ABROAD) and not rang(carrier, mark, ABROAD.lstrip("+"))
    [refusal] = refusals(pstn, ABROAD, since)
    assert (refusal["by"], refusal["purpose"]) == ("dialer", "callback-attempt")


def test_a_scenario_route_abroad_goes_to_an_operator_instead(pstn, carrier):
    before, since = pstn.last_call_id(), audit_mark(pstn)
    call = carrier.call(ani="4951230045", dnis="510", hold=6)
    answered = call.answered_by_phone()
    assert answered["Phone"] in ("1001", "1002")
    call.ended()
    assert not rang(carrier, call.mark, ABROAD) and not rang(carrier, call.mark, ABROAD.lstrip("+"))
    [refusal] = refusals(pstn, ABROAD, since)
    assert refusal["purpose"] == "route" and refusal["caller"] == "4951230045"
    assert pstn.call_row(ani="4951230045", since_id=before)["grp"] == "support"
    # a national number is dialled out as the scenario says
    carrier.phone(NATIONAL, "busy")
    call = carrier.call(ani="4951230046", dnis="511", hold=4)
    call.wait("SimPhoneRang", Phone=NATIONAL)
    call.ended()

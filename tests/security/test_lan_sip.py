"""The LAN SIP boundary: brute force on REGISTER and INVITE, guessed account
names, and a secure phone's calls over plain UDP -- each tried against the
real appliance and seen refused, while a good phone at another address
keeps registering and calling.

The attackers are SIPp (Debian's sip-tester, on the host) on addresses of
this test slot that are not the appliance's or the carrier's
(127.0.0.N3 ... N6, tests/conftest.py). The secure phone is a third
Asterisk from the root filesystem that registers over TLS, as a desk phone
would, and answers with a tone over SRTP."""
from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from appliance.base import ami, supervisor
from appliance.base.instance import Instance
from appliance.operators import devices, sip_guard, store as operators
from appliance.render.core import NOLOAD, NOLOAD_WITHOUT_DAHDI
from tests import audio, harness
from tests.conftest import APPLIANCE_ADDR, RTP_BASE, SLOT, TONES
from tests.harness import SANDBOX, configure, in_root, ready, wait_for
from tests.web.conftest import as_role

SIPP_DIR = Path(__file__).parent / "sipp"
TARGET = f"{APPLIANCE_ADDR}:5060"
# This slot's addresses beside the appliance (N1) and the carrier (N2).
REGISTER_ATTACKER = f"127.0.0.{13 + 10 * SLOT}"
GOOD_PHONE = f"127.0.0.{14 + 10 * SLOT}"
TLS_PHONE = f"127.0.0.{15 + 10 * SLOT}"
INVITE_ATTACKER = f"127.0.0.{16 + 10 * SLOT}"
NAME_GUESSER = f"127.0.0.{17 + 10 * SLOT}"
GOOD = "1005"      # an operator whose IP phone registers (no fixed contact)
SECURE = "1003"    # an operator with a secure phone: TLS and SRTP
SECURE_TONE = 900
TLS_PORT = 5061


def sipp(scenario: str, service: str, local: str, *args: str, calls: int = 1, rate: float = 10,
         timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a SIPp scenario of tests/security/sipp from *local* against the
    appliance; returncode 0 when every call went as the scenario expects."""
    cmd = ["sipp", "-sf", str(SIPP_DIR / scenario), "-s", service, "-i", local, "-bind_local",
           "-p", "5060", "-mp", "16000", "-m", str(calls), "-r", str(rate), "-l", "10", "-nostdin",
           "-recv_timeout", "8000", "-timeout", f"{int(timeout)}s", "-timeout_error", *args, TARGET]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30, check=False,
                          stdin=subprocess.DEVNULL, cwd="/tmp")


def secret(appliance, extension: str) -> str:
    with appliance.db() as conn:
        return conn.execute("SELECT sip_secret FROM operators WHERE extension = ?", [extension]).fetchone()[0]


def ban_of(appliance, address: str, active: bool = True) -> dict | None:
    with appliance.db() as conn:
        row = conn.execute("SELECT * FROM sip_bans WHERE address = ? ORDER BY id DESC LIMIT 1",
                           [address]).fetchone()
    if row is None or (active and row["ended_at"] is not None):
        return None
    return dict(row)


def audited(appliance, action: str, target: str) -> bool:
    with appliance.db() as conn:
        return conn.execute("SELECT 1 FROM audit WHERE action = ? AND target = ?", [action, target]).fetchone() \
            is not None


def refused(address: str) -> bool:
    """*address* gets 403 Forbidden for a REGISTER, with no challenge."""
    return sipp("forbidden.xml", "1001", address, timeout=15).returncode == 0


def challenged(address: str) -> bool:
    """*address* gets the usual 401 challenge: it is not banned."""
    return sipp("challenged.xml", "1001", address, timeout=15).returncode == 0


class Background:
    """A good phone doing *fn* over and over in a thread until stopped; the
    SIPp results, all of which must succeed."""

    def __init__(self, fn):
        self.fn = fn
        self.results: list[subprocess.CompletedProcess] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set():
            self.results.append(self.fn())

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(120)

    def failures(self) -> list[str]:
        return [r.stdout[-800:] + r.stderr[-400:] for r in self.results if r.returncode != 0]


@pytest.fixture(scope="module")
def lab(pbx):
    """The appliance with a phone that registers (GOOD), a secure phone
    (SECURE) and the guard's default limits: 10 failures in 60 s, 30 min."""
    if shutil.which("sipp") is None:
        pytest.skip("SIPp is missing: make host-deps installs sip-tester")
    appliance, _carrier = pbx

    def change(db):
        operators.add_operator(db, GOOD, "Good Phone")
        operators.add_operator(db, SECURE, "Secure Phone")
        devices.set_secure(db, SECURE, True)
        sip_guard.set_policy(db, {"failures": "10", "window": "60", "ban_minutes": "30"}, by="test")
    configure(appliance, change)
    wait_for(lambda: any("transport-tls" in ln for ln in appliance.cli("pjsip show transports")), 20,
             what="the TLS transport")
    appliance.add_user("tech", "technician", "Lift-Bans-Carefully-42")
    return appliance


def good_register(appliance) -> subprocess.CompletedProcess:
    return sipp("register.xml", GOOD, GOOD_PHONE, "-au", GOOD, "-ap", secret(appliance, GOOD), timeout=20)


def good_call(appliance) -> subprocess.CompletedProcess:
    return sipp("call.xml", "1001", GOOD_PHONE, "-key", "caller", GOOD, "-au", GOOD,
                "-ap", secret(appliance, GOOD), timeout=40)


# --- brute force ----------------------------------------------------------------

def test_a_register_brute_force_is_banned_while_a_good_phone_and_a_call_carry_on(lab, carrier):
    appliance = lab
    assert good_register(appliance).returncode == 0
    assert challenged(REGISTER_ATTACKER)
    # A call in progress must not notice the ban being put in force.
    call = carrier.call(ani="4951110001", dnis="100", hold=25)
    call.answered_by_phone(timeout=40)

    with Background(lambda: good_register(appliance)) as good:
        attack = sipp("register_wrong_password.xml", "1001", REGISTER_ATTACKER, "-ap", "Wrong-Password",
                      calls=40, rate=10)
        ban = wait_for(lambda: ban_of(appliance, REGISTER_ATTACKER), 20, what="a ban of the attacker")
        banned_at = time.monotonic()
        wait_for(lambda: refused(REGISTER_ATTACKER), 20, what="403 for every request of the attacker")
        took = time.monotonic() - banned_at
    assert attack.returncode == 0, attack.stdout[-2000:]
    assert not good.failures(), good.failures()[0]
    assert len(good.results) >= 2
    assert ban["failures"] >= 10 and "ChallengeResponseFailed" in ban["events"]
    assert "1001" in ban["accounts"]
    assert datetime.fromisoformat(ban["until"]) - datetime.fromisoformat(ban["started_at"]) \
        == timedelta(minutes=30)
    assert took < 10, f"the ban took {took:.1f} s to be in force"
    print(f"ban stored -> 403 seen by a new SIPp probe: {took:.2f} s")
    assert audited(appliance, "sip address banned", REGISTER_ATTACKER)

    # The good phone still calls; the call in progress lasted its whole time.
    assert good_call(appliance).returncode == 0
    call.wait("SimCallerDone", timeout=60, Call=call.id)
    call.ended()

    # A technician lifts the ban through the API: the attacker is challenged again.
    token = appliance.api_token("tech", "lift")
    req = urllib.request.Request(f"{appliance.panel_url()}/api/v1/sip-bans/{ban['id']}/lift", method="POST",
                                 headers={"Authorization": f"Bearer {token}"}, data=b"")
    with urllib.request.urlopen(req, timeout=20) as resp:
        assert json.load(resp)["active"] is False
    wait_for(lambda: challenged(REGISTER_ATTACKER), 20, what="the attacker challenged again after the lift")
    assert audited(appliance, "sip ban lifted", REGISTER_ATTACKER)


def test_guessing_account_names_is_banned(lab):
    appliance = lab
    attack = sipp("register_wrong_password.xml", "admin", NAME_GUESSER, "-ap", "admin", calls=20, rate=10)
    ban = wait_for(lambda: ban_of(appliance, NAME_GUESSER), 20, what="a ban of the name guesser")
    assert "InvalidAccountID" in ban["events"]
    wait_for(lambda: refused(NAME_GUESSER), 20, what="403 for the name guesser")
    assert attack.returncode == 0, attack.stdout[-2000:]
    assert good_register(appliance).returncode == 0


# --- secure phones ----------------------------------------------------------------

class TlsPhone:
    """A desk phone with TLS and SRTP, played by an Asterisk of its own from
    the root filesystem: it registers as SECURE over TLS and answers every
    call with a SECURE_TONE tone."""

    def __init__(self, root: Path, appliance, address: str):
        self.base = f"{SANDBOX}/test_lan_sip-tlsphone"
        self.host_base = root / self.base.lstrip("/")
        self.conf = f"{self.base}/etc/asterisk/asterisk.conf"
        self.appliance = appliance
        self.address = address

    def files(self) -> dict[str, str]:
        appl = self.appliance.address
        b = self.base
        cert, key = f"{self.appliance.base}/sip-tls/sip.crt", f"{self.appliance.base}/sip-tls/sip.key"
        return {
            "asterisk.conf": f"""[directories]
astetcdir => {b}/etc/asterisk
astmoddir => /usr/lib/x86_64-linux-gnu/asterisk/modules
astvarlibdir => /usr/share/asterisk
astdbdir => {b}/lib
astkeydir => {b}/lib
astdatadir => /usr/share/asterisk
astagidir => /usr/share/asterisk/agi-bin
astspooldir => {b}/spool
astrundir => {b}/run
astlogdir => {b}/log
astsbindir => /usr/sbin
""",
            "modules.conf": "[modules]\nautoload = yes\n" + "".join(
                f"noload => {m}\n" for m in NOLOAD + NOLOAD_WITHOUT_DAHDI + ["app_queue.so"]),
            "logger.conf": "[logfiles]\nmessages.log => notice,warning,error\n",
            "rtp.conf": f"[general]\nrtpstart = {RTP_BASE + 1500}\nrtpend = {RTP_BASE + 1999}\n",
            "pjsip.conf": f"""[transport-tls]
type = transport
protocol = tls
bind = {self.address}:{TLS_PORT}
cert_file = {cert}
priv_key_file = {key}
method = tlsv1_2
verify_server = no

[appliance]
type = endpoint
transport = transport-tls
context = phone
from_user = {SECURE}
disallow = all
allow = alaw,ulaw
direct_media = no
rtp_symmetric = yes
media_encryption = sdes
media_encryption_optimistic = no
outbound_auth = appliance-auth
aors = appliance

[appliance-auth]
type = auth
auth_type = userpass
username = {SECURE}
password = {secret(self.appliance, SECURE)}

[appliance]
type = aor
contact = sip:{appl}:{TLS_PORT};transport=tls

[appliance]
type = identify
endpoint = appliance
match = {appl}

[register]
type = registration
transport = transport-tls
outbound_auth = appliance-auth
server_uri = sip:{appl}:{TLS_PORT};transport=tls
client_uri = sip:{SECURE}@{appl}:{TLS_PORT};transport=tls
contact_user = {SECURE}
retry_interval = 5
expiration = 120
line = yes
endpoint = appliance
""",
            "extensions.conf": f"""[phone]
exten => _X.,1,Answer()
 same => n,Playtones({SECURE_TONE})
 same => n,Wait(600)
 same => n,Hangup()
""",
        }

    def start(self):
        self.stop()
        shutil.rmtree(self.host_base, ignore_errors=True)
        for d in ("etc/asterisk", "lib", "spool", "run", "log"):
            (self.host_base / d).mkdir(parents=True, exist_ok=True)
        for name, text in self.files().items():
            (self.host_base / "etc/asterisk" / name).write_text(text)
        in_root("/usr/sbin/asterisk", "-C", self.conf)
        wait_for(lambda: self.cli("core waitfullybooted").returncode == 0, 30, what="the TLS phone's Asterisk")

    def cli(self, command: str) -> subprocess.CompletedProcess:
        return in_root("/usr/sbin/asterisk", "-C", self.conf, "-rx", command, check=False, timeout=30)

    def stop(self):
        if (self.host_base / "run" / "asterisk.ctl").exists():
            self.cli("core stop now")
            time.sleep(1)   # let it exit before its leftovers are killed
        supervisor.kill_leftovers(Instance(Path(self.base)))


@pytest.fixture
def tls_phone(root, lab):
    phone = TlsPhone(root, lab, TLS_PHONE)
    phone.start()
    try:
        yield phone
    finally:
        phone.stop()
        assert not supervisor.leftovers(Instance(Path(phone.base)))


def channel_var(appliance, channel: str, name: str) -> str | None:
    resp = appliance.mgr.send_action({"Action": "Getvar", "Channel": channel, "Variable": name})
    return resp.get_header("Value") if resp.get_header("Response") == "Success" else None


def secure_contact(appliance) -> str:
    return next((ln for ln in appliance.cli("pjsip show contacts")
                 if f"{SECURE}/sip:{SECURE}@{TLS_PHONE}" in ln), "")


def test_a_secure_phone_registers_over_tls_and_its_calls_carry_srtp(lab, carrier, tls_phone):
    appliance = lab
    contact = wait_for(lambda: secure_contact(appliance), 40, what="the secure phone registered")
    assert "transport=tls" in contact.lower()

    def only_secure(db):
        operators.set_members(db, "support", [SECURE])
        operators.set_group_acd(db, "support", {"wrapup": 0, "noanswer_pause": 0})
    configure(appliance, only_secure)
    try:
        ready(appliance, SECURE)
        call = carrier.call(ani="4951110003", dnis="100", hold=14)
        call.wait("SimCallerAnswered", timeout=30, Call=call.id)
        channel = wait_for(lambda: next((ln.split("!")[0] for ln in appliance.cli("core show channels concise")
                                         if ln.startswith(f"PJSIP/{SECURE}-")), None),
                           40, what="the appliance's channel to the secure phone")
        wait_for(lambda: channel_var(appliance, channel, "CHANNEL(rtp,secure)") == "1", 15,
                 what="SRTP on the secure phone's call")
        assert channel_var(appliance, channel, "CHANNEL(pjsip,secure)") == "1"   # signalling over TLS
        call.ended(timeout=60)
        heard = audio.samples(call.recording())
        assert audio.tone_seconds(heard, SECURE_TONE) > 2, "the caller did not hear the secure phone"
        assert all(audio.tone_seconds(heard, t) == 0 for t in TONES.values())
    finally:
        configure(appliance, lambda db: harness.support_group(db, "rrmemory", 15))

    # The secure phone calls operator 1001 over TLS: the appliance takes it.
    mark = carrier.events.mark()
    tls_phone.cli("channel originate PJSIP/1001@appliance application Wait 4")
    rang = carrier.events.wait(mark, 30, Event="UserEvent", UserEvent="SimPhoneRang", Phone="1001")
    assert rang["CallerNum"] == SECURE
    carrier.events.wait(mark, 30, Event="UserEvent", UserEvent="SimPhoneHangup", Phone="1001")


def test_a_secure_phone_is_refused_over_plain_udp(lab, carrier):
    appliance = lab
    mark = carrier.events.mark()
    password = secret(appliance, SECURE)
    # The right password and even an SRTP offer, but over UDP: 403 before
    # anything answers, nothing rings.
    srtp = sipp("secure_call_over_udp.xml", "1001", GOOD_PHONE, "-key", "caller", SECURE, "-au", SECURE,
                "-ap", password, timeout=30)
    assert srtp.returncode == 0, srtp.stdout[-2000:]
    # A plain RTP offer is not even taken up (488).
    plain = sipp("call.xml", "1001", GOOD_PHONE, "-key", "caller", SECURE, "-au", SECURE, "-ap", password,
                 timeout=30)
    assert plain.returncode != 0
    assert "488" in plain.stdout or "488" in plain.stderr or "Not Acceptable" in plain.stdout
    assert not carrier.events.find(mark, Event="UserEvent", UserEvent="SimPhoneRang")
    # The right password is not an attack: the phone is not banned for it.
    assert ban_of(appliance, GOOD_PHONE) is None


# --- the ban ends -----------------------------------------------------------------

def test_an_invite_flood_is_banned_the_ban_outlives_a_restart_and_expires(lab, carrier):
    appliance = lab
    with Background(lambda: good_call(appliance)) as good:
        attack = sipp("invite_wrong_password.xml", "1001", INVITE_ATTACKER, "-key", "caller", GOOD,
                      "-au", GOOD, "-ap", "Wrong-Password", calls=40, rate=10)
        ban = wait_for(lambda: ban_of(appliance, INVITE_ATTACKER), 20, what="a ban of the INVITE flood")
        wait_for(lambda: refused(INVITE_ATTACKER), 20, what="403 for the INVITE flood")
    assert attack.returncode == 0, attack.stdout[-2000:]
    assert not good.failures(), good.failures()[0]
    assert good.results
    assert "ChallengeResponseFailed" in ban["events"]

    # Asterisk restarts (a crash, a reboot): the ban is in force from its start.
    old = appliance.kill_service("asterisk")
    appliance.disconnect()
    appliance.wait_service("asterisk", not_pid=old, timeout=60)
    appliance.connect()
    ami.command(appliance.mgr, "core waitfullybooted")
    assert refused(INVITE_ATTACKER)
    wait_for(lambda: good_register(appliance).returncode == 0, 40, what="the good phone registered again")

    # Its time is up: the guard ends it and lets the address in again.
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="seconds")
    with appliance.db() as conn:
        conn.execute("UPDATE sip_bans SET until = ? WHERE id = ?", [past, ban["id"]])
    wait_for(lambda: ban_of(appliance, INVITE_ATTACKER) is None, 20, what="the ban to end")
    wait_for(lambda: challenged(INVITE_ATTACKER), 20, what="the address challenged again")
    assert audited(appliance, "sip ban expired", INVITE_ATTACKER)
    ended = ban_of(appliance, INVITE_ATTACKER, active=False)
    assert ended["ended_by"] == ""


# --- the panel: who may see and lift bans -------------------------------------------

def test_only_admins_and_technicians_see_and_lift_bans(panel):
    db = panel.config["KORUND_INSTANCE"].open_store()
    b = sip_guard.ban(db, sip_guard.Crossed("192.0.2.99", 12, {"ChallengeResponseFailed": 12}, ["1001"]), 30)
    db.close()
    for user in ("super", "anna"):
        client = as_role(panel, user)
        assert client.client.get("/sip-bans/").status_code == 403
        assert client.client.get("/api/v1/sip-bans").status_code == 403
        assert client.post("/sip-bans/", {"action": "lift", "ban": b.id}, token_from="/profile").status_code == 403
    tech = as_role(panel, "tech")
    page = tech.client.get("/sip-bans/").get_data(as_text=True)
    assert "192.0.2.99" in page and 'id="save"' not in page
    assert tech.post("/sip-bans/", {"action": "settings", "failures": "3"}).status_code == 403
    assert tech.post("/sip-bans/", {"action": "lift", "ban": b.id}).status_code == 302
    assert tech.client.get("/api/v1/sip-bans").get_json() == []
    assert tech.client.post(f"/api/v1/sip-bans/{b.id}/lift",
                            headers={"X-CSRF-Token": tech.token("/sip-bans/")}).status_code == 422
    assert tech.client.post("/api/v1/sip-bans/999/lift",
                            headers={"X-CSRF-Token": tech.token("/sip-bans/")}).status_code == 404


def test_the_guard_limits_are_validated_and_set_by_an_admin_only(panel):
    admin = as_role(panel, "admin")
    bad = admin.post("/sip-bans/", {"action": "settings", "failures": "1", "window": "60", "ban_minutes": "30",
                                    "allow": ""})
    assert bad.status_code == 400
    bad = admin.post("/sip-bans/", {"action": "settings", "failures": "10", "window": "60", "ban_minutes": "30",
                                    "allow": "10.0.0.0/8 ; evil"})
    assert bad.status_code == 400
    ok = admin.post("/sip-bans/", {"action": "settings", "failures": "5", "window": "30", "ban_minutes": "60",
                                   "allow": "192.168.1.0/24"})
    assert ok.status_code == 302
    got = admin.client.get("/api/v1/sip-guard").get_json()
    assert got == {"failures": 5, "window": 30, "ban_minutes": 60, "allow": ["192.168.1.0/24"]}
    csrf = {"X-CSRF-Token": admin.token("/sip-bans/")}
    assert admin.client.put("/api/v1/sip-guard", json={"window": 2}, headers=csrf).status_code == 422
    assert admin.client.put("/api/v1/sip-guard", json={"bogus": 1}, headers=csrf).status_code == 422
    tech = as_role(panel, "tech")
    assert tech.client.put("/api/v1/sip-guard", json={"failures": 3},
                           headers={"X-CSRF-Token": tech.token("/sip-bans/")}).status_code == 403


def test_the_operator_form_makes_a_phone_secure(panel):
    admin = as_role(panel, "admin")
    form = {"name": "Boris Petrov", "device": "", "enabled": "1", "skills": "", "contact": "", "secure": "1"}
    assert admin.post("/operators/1002", form).status_code == 302
    page = admin.client.get("/operators/1002").get_data(as_text=True)
    assert 'id="f-secure" type="checkbox" name="secure" value="1" checked' in page
    assert admin.client.get("/api/v1/operators/1002").get_json()["secure"] is True
    db = panel.config["KORUND_INSTANCE"].open_store()
    try:
        assert devices.secure_phones(db) == {"1002"}
        db.execute("UPDATE operators SET device = 'DAHDI/49' WHERE extension = '1001'")
    finally:
        db.close()
    # an analog phone cannot be secure: refused, and nothing of the change is kept
    refused_form = {k: v for k, v in form.items() if k != "device"} | {"name": "Anna Ivanova"}
    r = admin.post("/operators/1001", refused_form)
    assert r.status_code == 400 and 'id="error-secure"' in r.get_data(as_text=True)
    del form["secure"]
    assert admin.post("/operators/1002", form).status_code == 302
    assert admin.client.get("/api/v1/operators/1002").get_json()["secure"] is False

"""The SIP guard's pure parts (counting, the policy, the bans in the store,
the ACL it writes) and the rendering of secure phones; the real attack
against Asterisk is tests/security/test_lan_sip.py."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from appliance import render
from appliance.base.errors import ConfigError
from appliance.operators import devices, sip_guard, sip_tls, store as operators
from appliance.render import config as render_config, pjsip

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(name="ChallengeResponseFailed", address="IPV4/UDP/192.0.2.7/5060", service="PJSIP", account="1001"):
    return {"Event": name, "Service": service, "RemoteAddress": address, "AccountID": account}


def test_only_refused_sip_requests_count():
    assert sip_guard.failed_address(event()) == "192.0.2.7"
    assert sip_guard.failed_address(event("InvalidAccountID", "IPV6/UDP/2001:db8::5/5060")) == "2001:db8::5"
    assert sip_guard.failed_address(event("SuccessfulAuth")) is None
    assert sip_guard.failed_address(event("ChallengeSent")) is None
    assert sip_guard.failed_address(event(service="AMI")) is None
    assert sip_guard.failed_address(event(address="IPV4/UDP/not-an-ip/5060")) is None
    assert sip_guard.failed_address(event(address="")) is None


def test_an_address_crosses_once_within_the_window():
    c = sip_guard.Counter(failures=3, window=60)
    assert c.add("192.0.2.7", 0, "InvalidAccountID", "admin") is None
    assert c.add("192.0.2.7", 10, "ChallengeResponseFailed", "1001") is None
    assert c.add("192.0.2.8", 11) is None   # another address counts apart
    crossed = c.add("192.0.2.7", 20, "ChallengeResponseFailed", "1001")
    assert crossed.failures == 3
    assert crossed.events == {"InvalidAccountID": 1, "ChallengeResponseFailed": 2}
    assert crossed.accounts == ["admin", "1001"]
    assert c.count("192.0.2.7", 20) == 0   # forgotten: it crosses once


def test_old_failures_fall_out_of_the_window():
    c = sip_guard.Counter(failures=3, window=60)
    c.add("192.0.2.7", 0)
    c.add("192.0.2.7", 30)
    assert c.add("192.0.2.7", 61) is None   # the first one is older than 60 s
    assert c.count("192.0.2.7", 61) == 2


def test_the_counter_remembers_a_bounded_number_of_addresses():
    c = sip_guard.Counter(failures=5, window=60, max_tracked=100)
    for i in range(1000):
        c.add(f"10.0.{i // 256}.{i % 256}", 1)
    assert len(c._seen) == 100


def test_policy_defaults_and_validation(db):
    p = sip_guard.policy(db)
    assert (p.failures, p.window, p.ban_minutes, p.allow) == (10, 60, 30, ())
    p = sip_guard.set_policy(db, {"failures": "5", "allow": "192.168.10.0/24, 10.1.2.3"}, by="admin")
    assert p.failures == 5 and p.allow_text == "192.168.10.0/24, 10.1.2.3/32"
    for data, field in (({"failures": "2"}, "failures"), ({"window": "x"}, "window"),
                        ({"ban_minutes": "0"}, "ban_minutes"), ({"allow": "192.168.1.300"}, "allow"),
                        ({"allow": "10.0.0.1; DROP"}, "allow")):
        with pytest.raises(ConfigError) as exc:
            sip_guard.set_policy(db, {"failures": "7", **data}, by="admin")
        assert exc.value.field == field
    assert sip_guard.policy(db).failures == 5   # nothing of a refused change is kept


def test_own_addresses_trunks_and_the_allow_list_are_never_banned(demo_db):
    settings = {"net.address": "127.0.0.71"}
    never = sip_guard.own_addresses(settings) | sip_guard.trunk_addresses(demo_db)
    allow = sip_guard.parse_allow("192.168.5.0/24")
    assert sip_guard.exempt("127.0.0.71", never, allow)
    assert sip_guard.exempt("127.0.0.1", never, allow)
    assert sip_guard.exempt("127.0.0.2", never, allow)     # the demo's carrier (trunk pstn)
    assert sip_guard.exempt("192.168.5.40", never, allow)
    assert not sip_guard.exempt("127.0.0.73", never, allow)   # not all of loopback: test slots
    assert not sip_guard.exempt("2001:db8::1", never, allow)


def test_a_ban_is_stored_audited_lifted_and_expires(db):
    crossed = sip_guard.Crossed("192.0.2.7", 12, {"ChallengeResponseFailed": 12}, ["1001"])
    b = sip_guard.ban(db, crossed, 30, T0)
    assert b.active and b.until == "2026-03-01T12:30:00+00:00"
    assert sip_guard.ban(db, crossed, 30, T0) is None   # already banned
    assert sip_guard.expire(db, T0 + timedelta(minutes=29)) == []
    other = sip_guard.ban(db, sip_guard.Crossed("192.0.2.8", 10, {}, []), 30, T0)
    lifted = sip_guard.lift(db, other.id, "admin", T0 + timedelta(minutes=1))
    assert not lifted.active and lifted.ended_by == "admin"
    with pytest.raises(ConfigError):
        sip_guard.lift(db, other.id, "admin")
    with pytest.raises(ConfigError):
        sip_guard.lift(db, 999, "admin")
    ended = sip_guard.expire(db, T0 + timedelta(minutes=30))
    assert [e.address for e in ended] == ["192.0.2.7"]
    assert sip_guard.active(db) == []
    actions = [r[0] for r in db.execute("SELECT action FROM audit ORDER BY id")]
    assert actions == ["sip address banned", "sip address banned", "sip ban lifted", "sip ban expired"]


def test_the_rules_file_denies_exactly_the_banned(inst):
    assert sip_guard.write_rules(inst.etc, ["192.0.2.7", "2001:db8::5"])
    text = (inst.etc / sip_guard.BANS_FILE).read_text()
    assert "deny = 192.0.2.7/32\n" in text and "deny = 2001:db8::5/128\n" in text
    assert not sip_guard.write_rules(inst.etc, ["2001:db8::5", "192.0.2.7"])   # unchanged
    assert sip_guard.write_rules(inst.etc, [])
    assert "deny" not in (inst.etc / sip_guard.BANS_FILE).read_text()


class FakeAmi:
    """Answers the two CLI commands the guard sends, as Asterisk would."""

    def __init__(self, etc):
        self.etc = etc
        self.commands = []

    def command(self, cli):
        self.commands.append(cli)
        out = "Module 'acl' reloaded successfully." if cli == "module reload acl" else \
            f"ACL: {sip_guard.ACL_NAME}\n" + (self.etc / sip_guard.BANS_FILE).read_text().replace("deny = ", "  000: deny - ")
        return SimpleNamespace(response=[f"Output: {line}\r\n" for line in out.splitlines()])


def test_the_guard_bans_after_the_limit_and_reloads_only_the_acl(inst, db, monkeypatch):
    sip_guard.set_policy(db, {"failures": "3"}, by="admin")
    mgr = FakeAmi(inst.etc)
    guard = sip_guard.Guard(db, inst.etc, monotonic=lambda: 100.0, now=lambda: T0)
    guard.tick(mgr)   # first sync: the (empty) rules are put in force
    for _ in range(3):
        guard.on_event(event(address="IPV4/UDP/192.0.2.9/5060"))
    guard.on_event(event(address=f"IPV4/UDP/{db.execute('SELECT value FROM settings WHERE key = ?', ['net.address']).fetchone()[0]}/5060"))
    guard.tick(mgr)
    assert [b.address for b in sip_guard.active(db)] == ["192.0.2.9"]
    assert "deny = 192.0.2.9/32" in (inst.etc / sip_guard.BANS_FILE).read_text()
    assert set(mgr.commands) == {"module reload acl", f"acl show {sip_guard.ACL_NAME}"}


def test_a_new_session_does_not_reload_rules_asterisk_already_holds(inst, db):
    sip_guard.write_rules(inst.etc, [])   # as written before Asterisk started, which read it
    mgr = FakeAmi(inst.etc)
    guard = sip_guard.Guard(db, inst.etc, monotonic=lambda: 100.0, now=lambda: T0)
    guard.tick(mgr)
    assert mgr.commands == [f"acl show {sip_guard.ACL_NAME}"]
    assert guard.applied == set()


def test_secure_phones_render_tls_srtp_and_a_transport_check(inst, demo_db, monkeypatch):
    devices.set_secure(demo_db, "1002", True)
    monkeypatch.setattr(sip_tls, "available", lambda base: True)
    files = render.render_all(render_config.load(demo_db), inst)
    conf = files["pjsip.conf"]
    assert "[transport-tls]\ntype = transport\nprotocol = tls\n" in conf
    secure = conf.split("[1002]\ntype = endpoint\n", 1)[1].split("\n\n", 1)[0]
    assert "transport = transport-tls" in secure and "media_encryption = sdes" in secure
    assert "media_encryption_optimistic = no" in secure and "context = korund-operators-tls" in secure
    plain = conf.split("[1001]\ntype = endpoint\n", 1)[1].split("\n\n", 1)[0]
    assert "transport = transport-udp" in plain and "media_encryption" not in plain
    assert f"[{pjsip.GUARD_SECTION}]\ntype = acl\nacl = {sip_guard.ACL_NAME}\n" in conf
    assert f"#tryinclude {sip_guard.BANS_FILE}" in files["acl.conf"]
    dialplan = files["extensions.conf"]
    assert "[korund-operators-tls]" in dialplan and '${REGEX(":5061$" ${CHANNEL(pjsip,local_addr)})}' in dialplan


def test_an_analog_phone_cannot_be_secure(demo_db):
    demo_db.execute("UPDATE operators SET device = 'DAHDI/49' WHERE extension = '1001'")
    with pytest.raises(ConfigError) as exc:
        devices.set_secure(demo_db, "1001", "1")
    assert exc.value.field == "secure"
    assert devices.set_secure(demo_db, "1002", "on") and devices.is_secure(demo_db, "1002")
    assert not devices.set_secure(demo_db, "1002", "0") and devices.secure_phones(demo_db) == set()
    with pytest.raises(ConfigError):
        devices.set_secure(demo_db, "4242", True)
    assert operators.load_all(demo_db)[0]   # the operators still load with the new column

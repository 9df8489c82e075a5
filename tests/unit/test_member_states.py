"""Which queue members app_queue holds as unavailable by mistake
(appliance.operators.member_states), from `queue show` and `pjsip show contacts` as
Asterisk 22 prints them."""
from __future__ import annotations

from appliance.operators import member_states

QUEUE_SHOW = """\
loop_pri has 1 calls (max unlimited) in 'ringall' strategy (0s holdtime, 0s talktime), W:0, C:0, A:0, SL:0.0%, SL2:0.0% within 0s
   Members: 
      Loop PRI Operator (PJSIP/1091) (ringinuse disabled) (Unavailable) has taken no calls yet (login was 151 secs ago)
      Ann (PJSIP/1001) (ringinuse disabled) (Not in use) has taken 2 calls (last was 40 secs ago) (login was 300 secs ago)
      Bob (PJSIP/1002) (ringinuse disabled) (paused:lunch was 10 secs ago) (Invalid) has taken no calls yet (login was 9 secs ago)
      Eve (PJSIP/1003) (ringinuse disabled) (Unavailable) has taken no calls yet (login was 9 secs ago)
      Fxs (DAHDI/18) (ringinuse disabled) (Invalid) has taken no calls yet (login was 9 secs ago)
   Callers: 
      1. DAHDI/i2/4951234567-1 (wait: 2:19, prio: 0)
""".splitlines()

CONTACTS = """\

  Contact:  <Aor/ContactUri..............................> <Hash....> <Status> <RTT(ms)..>
==========================================================================================

  Contact:  1091/sip:1091@127.0.0.2:5060                  6d1bd1d3e3 Unknown         nan
  Contact:  1001/sip:1001@127.0.0.2:5060                  0e2a0fb1c4 Unknown         nan
  Contact:  1002/sip:1002@10.0.0.9:5060;ob                7a0c3d2e1f Avail         1.204
  Contact:  1003/sip:1003@10.0.0.10:5060                  1b2c3d4e5f Unavail         nan

Objects found: 4
""".splitlines()


DAHDI_SHOW = """\
   Chan Extension  Context         Language   MOH Interpret        Blocked     In Service  Description
 pseudo            default                    default                          Yes
     17            korund-inbound  ru         default                          Yes
     18            korund-operators ru        default                          Yes
""".splitlines()


def test_unavailable_or_invalid_with_a_live_contact_is_stale():
    assert member_states.stale_members(QUEUE_SHOW, CONTACTS) == {"PJSIP/1091", "PJSIP/1002"}


def test_a_phone_known_unreachable_or_without_contact_is_left_alone():
    stale = member_states.stale_members(QUEUE_SHOW, CONTACTS)
    assert "PJSIP/1003" not in stale          # qualify said unreachable: really unavailable
    assert member_states.stale_members(QUEUE_SHOW, ["No objects found."]) == set()


def test_an_fxs_port_chan_dahdi_has_is_stale_only_while_chan_dahdi_lists_it():
    assert "DAHDI/18" in member_states.stale_members(QUEUE_SHOW, CONTACTS, DAHDI_SHOW)
    # chan_dahdi not loaded (the command is missing): the port really is not there
    assert "DAHDI/18" not in member_states.stale_members(QUEUE_SHOW, CONTACTS, ["No such command"])


class _Resp:
    def get_header(self, name):
        return "Success" if name == "Response" else ""


class _Ami:
    """Answers the two CLI commands with the recorded lines; keeps the Originates."""

    def __init__(self):
        self.sent = []

    def send_action(self, action):
        if action["Action"] == "Command":
            raise AssertionError("ami.command goes through ami.command")
        self.sent.append(action)
        return _Resp()


def test_each_member_is_nudged_at_most_once_a_minute(monkeypatch):
    now = [1000.0]
    answers = {"queue show": QUEUE_SHOW, "pjsip show contacts": CONTACTS, "dahdi show channels": DAHDI_SHOW}
    monkeypatch.setattr(member_states.ami, "command", lambda mgr, cli: answers[cli])
    fake = _Ami()
    refresher = member_states.Refresher(clock=lambda: now[0])
    assert refresher.refresh(fake) == ["DAHDI/18", "PJSIP/1002", "PJSIP/1091"]
    originated = [a for a in fake.sent if a["Action"] == "Originate"]
    assert [a["Channel"] for a in originated] == [
        "Local/d18@korund-devstate/n", "Local/1002@korund-devstate/n", "Local/1091@korund-devstate/n"]
    assert all(a["Variable"] == ["CDR_PROP(disable)=1"] for a in originated)
    # the IP phones are qualified too (an analog port has nothing to qualify)
    assert [a["Endpoint"] for a in fake.sent if a["Action"] == "PJSIPQualify"] == ["1002", "1091"]
    now[0] += 30
    assert refresher.refresh(fake) == []
    now[0] += 31
    assert refresher.refresh(fake) == ["DAHDI/18", "PJSIP/1002", "PJSIP/1091"]


def test_a_failing_ami_session_is_not_fatal(monkeypatch):
    def broken(mgr, cli):
        raise ConnectionError("AMI went away")
    monkeypatch.setattr(member_states.ami, "command", broken)
    assert member_states.Refresher().refresh(_Ami()) == []


def test_a_pjsip_member_still_stale_makes_res_pjsip_rebuild_once_in_a_while(monkeypatch, tmp_path):
    now = [1000.0]
    ran = []
    answers = {"queue show": QUEUE_SHOW, "pjsip show contacts": CONTACTS, "dahdi show channels": []}

    def command(mgr, cli):
        ran.append(cli)
        return answers.get(cli, ["Module 'res_pjsip.so' reloaded successfully."])
    monkeypatch.setattr(member_states.ami, "command", command)
    conf = tmp_path / "pjsip.conf"
    conf.write_text("; endpoints\n")
    import os
    os.utime(conf, (1, 1))
    refresher = member_states.Refresher(pjsip_conf=conf, clock=lambda: now[0])
    assert "res_pjsip" not in refresher.refresh(_Ami())       # first seen: the channel nudge only
    now[0] += 10
    assert "res_pjsip" not in refresher.refresh(_Ami())       # not yet RESYNC_AFTER
    now[0] += 15
    assert refresher.refresh(_Ami()) == ["res_pjsip"]         # 25 s stale: rebuild
    assert "module reload res_pjsip.so" in ran and conf.stat().st_mtime > 1   # the file marked changed
    now[0] += 30
    assert "res_pjsip" not in refresher.refresh(_Ami())       # at most once per RESYNC_EVERY
    # mended: a member that is no longer stale starts afresh
    answers["queue show"] = [ln.replace("(Unavailable)", "(Not in use)").replace("(Invalid)", "(Not in use)")
                             for ln in QUEUE_SHOW]
    assert refresher.refresh(_Ami()) == [] and refresher.first_seen == {}

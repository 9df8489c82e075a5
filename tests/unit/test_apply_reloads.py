"""Asterisk's apply reloads only the modules that read a changed file, in
dependency order, and never chan_dahdi (appliance/apply.py RELOADS): a
`core reload` under live MFC/R2 links crashes Asterisk 22.
The real Asterisk's side: tests/telephony/test_apply_reloads.py."""
from __future__ import annotations

import re

import pytest

from appliance import apply
from appliance.operators import store as operators
from appliance import render
from appliance.render import config as render_config

ALL = [module for module, _ in apply.RELOADS]


def rendered(db, inst):
    return apply.stamp_generation(render.render_all(render_config.load(db), inst))


def test_every_rendered_file_has_its_module_or_a_reason_for_none(demo_db, inst):
    owned = {name for _, names in apply.RELOADS for name in names}
    files = set(rendered(demo_db, inst))
    assert files <= owned | set(apply.NOT_RELOADED), files - owned - set(apply.NOT_RELOADED)
    assert not owned & set(apply.NOT_RELOADED)
    assert "chan_dahdi.conf" in apply.NOT_RELOADED


def test_each_file_reloads_its_own_module():
    assert apply.modules_to_reload({"queues.conf"}) == ["app_queue.so"]
    assert apply.modules_to_reload({"queuerules.conf"}) == ["app_queue.so"]
    assert apply.modules_to_reload({"pjsip.conf"}) == ["res_pjsip.so"]
    assert apply.modules_to_reload({"extensions.conf"}) == ["pbx_config.so"]
    assert apply.modules_to_reload({"musiconhold.conf"}) == ["res_musiconhold.so"]
    assert apply.modules_to_reload({"cdr_custom.conf", "cel.conf"}) == ["cdr_custom.so", "cel"]
    assert apply.modules_to_reload({"rtp.conf", "manager.conf"}) == ["manager", "res_rtp_asterisk.so"]
    assert apply.modules_to_reload(set()) == []


def test_endpoints_before_queues_and_the_dialplan_last():
    got = apply.modules_to_reload({"extensions.conf", "queues.conf", "pjsip.conf", "musiconhold.conf"})
    assert got == ["res_musiconhold.so", "res_pjsip.so", "app_queue.so", "pbx_config.so"]
    assert ALL.index("res_pjsip.so") < ALL.index("app_queue.so") < ALL.index("pbx_config.so")
    assert ALL[0] == "logger" and ALL[-1] == "pbx_config.so"


@pytest.mark.parametrize("changed", [None, {"something-new.conf"}, {"queues.conf", "unknown.conf"}])
def test_unknown_changes_reload_every_module_but_chan_dahdi(changed):
    assert apply.modules_to_reload(changed) == ALL
    assert not any("dahdi" in m for m in ALL)


def test_files_without_a_reload_reload_nothing():
    assert apply.modules_to_reload({"chan_dahdi.conf", "modules.conf", "asterisk.conf"}) == []


def test_a_new_generation_stamp_alone_is_no_dialplan_change(demo_db, inst):
    a = rendered(demo_db, inst)
    group = render_config.load(demo_db).groups[0]
    operators.update_group(demo_db, group.name, group.title, "ringall", 21, True)
    b = rendered(demo_db, inst)
    assert a["extensions.conf"] != b["extensions.conf"]   # the stamp differs
    assert apply.changed_files(b, a) == {"queues.conf"}
    assert apply.changed_files(b, a, b) == {"queues.conf"}
    assert apply.changed_files(b, a, {}) is None            # nothing known on one side
    assert apply.changed_files(b) is None
    operators.update_operator(demo_db, "1001", "Anna Renamed", "sip:1001@127.0.0.2:5060", True)
    c = rendered(demo_db, inst)
    assert apply.changed_files(c, b) == {"pjsip.conf", "queues.conf"}
    removed = dict(c)
    del removed["amd.conf"]
    assert apply.changed_files(removed, c) == {"amd.conf"}


class FakeAsterisk:
    """The AMI session apply talks to: answers `module reload` like Asterisk
    22's CLI and keeps the global variables Setvar sets."""

    def __init__(self, answers=None):
        self.commands: list[str] = []
        self.answers = answers or {}
        self.globals: dict[str, str] = {}

    def command(self, _mgr, cli):
        self.commands.append(cli)
        module = cli.removeprefix("module reload ")
        answer = self.answers.get(module)
        if callable(answer):
            answer = answer()
        return [answer or f"Module '{module}' reloaded successfully."]

    def send_action(self, action):
        assert action["Action"] == "Setvar" and "Channel" not in action, action
        self.globals[action["Variable"]] = action["Value"]
        return Response({"Response": "Success"})


class Response:
    def __init__(self, headers):
        self.headers = headers

    def get_header(self, name):
        return self.headers.get(name)


@pytest.fixture
def asterisk(monkeypatch):
    fake = FakeAsterisk()
    monkeypatch.setattr(apply.ami, "command", fake.command)
    return fake


def generation(files):
    return re.search(rf"^{apply.GENERATION_VAR} = (\w+)", files["extensions.conf"], re.M).group(1)


def test_a_queue_change_reloads_app_queue_only_and_stamps_the_dialplan(demo_db, inst, asterisk, monkeypatch):
    checked = []
    monkeypatch.setattr(apply, "verify", lambda mgr, files: checked.append(files) or [])
    apply.apply(inst, demo_db)                       # Asterisk not running: the set is the last good one
    group = render_config.load(demo_db).groups[0]
    operators.update_group(demo_db, group.name, group.title, "ringall", 21, True)
    result = apply.apply(inst, demo_db, asterisk)
    assert asterisk.commands == ["module reload app_queue.so"]
    assert result.reloaded and result.modules == ["app_queue.so"]
    now = apply.read_set(inst.etc)
    assert asterisk.globals == {apply.GENERATION_VAR: generation(now)} and checked == [now]
    assert apply.read_set(inst.last_good) == now
    # nothing changed: nothing reloaded, still verified
    asterisk.commands.clear()
    assert apply.apply(inst, demo_db, asterisk).modules == [] and asterisk.commands == []
    assert len(checked) == 2


def test_a_dialplan_change_reloads_pbx_config_which_sets_the_generation(demo_db, inst, asterisk, monkeypatch):
    monkeypatch.setattr(apply, "verify", lambda mgr, files: [])
    apply.apply(inst, demo_db)
    operators.add_operator(demo_db, "1003", "Vera", contact="sip:1003@127.0.0.2:5060")
    operators.add_member(demo_db, "support", "1003")
    assert apply.apply(inst, demo_db, asterisk).modules == ["res_pjsip.so", "app_queue.so", "pbx_config.so"]
    assert asterisk.commands == ["module reload res_pjsip.so", "module reload app_queue.so",
                                 "module reload pbx_config.so"]
    assert asterisk.globals == {}   # the dialplan's reload brings its own stamp


def test_without_a_last_good_set_every_module_is_reloaded(demo_db, inst, asterisk, monkeypatch):
    monkeypatch.setattr(apply, "verify", lambda mgr, files: [])
    assert apply.apply(inst, demo_db, asterisk).modules == ALL
    assert asterisk.commands == [f"module reload {m}" for m in ALL]
    assert not any("dahdi" in c or c == "core reload" for c in asterisk.commands)


def test_a_failed_module_reload_rolls_back_and_reloads_the_module_again(demo_db, inst, asterisk, monkeypatch):
    monkeypatch.setattr(apply, "verify", lambda mgr, files: [])
    apply.apply(inst, demo_db)
    good = apply.read_set(inst.etc)
    asterisk.answers["app_queue.so"] = "The module 'app_queue.so' reported a reload failure"
    group = render_config.load(demo_db).groups[0]
    operators.update_group(demo_db, group.name, group.title, "ringall", 21, True)
    with pytest.raises(apply.ApplyError) as exc:
        apply.apply(inst, demo_db, asterisk)
    assert "Asterisk could not reload app_queue.so: The module 'app_queue.so' reported a reload failure" \
        in str(exc.value)
    assert apply.read_set(inst.etc) == good == apply.read_set(inst.last_good)
    assert asterisk.commands == ["module reload app_queue.so"] * 2
    assert asterisk.globals == {apply.GENERATION_VAR: generation(good)}   # back to the previous stamp


def test_a_module_asterisk_does_not_have_is_a_failure(asterisk):
    asterisk.answers["app_queue.so"] = "No such module 'app_queue.so'"
    assert apply.reload_module(None, "app_queue.so") == \
        "Asterisk could not reload app_queue.so: No such module 'app_queue.so'"


def test_a_reload_already_running_is_waited_for(asterisk):
    answers = iter(["A module reload request is already in progress; please be patient"] * 2)
    asterisk.answers["cdr"] = lambda: next(answers, None)
    now = [0.0]
    assert apply.reload_module(None, "cdr", clock=lambda: now[0],
                               sleep=lambda s: now.__setitem__(0, now[0] + s)) is None
    assert asterisk.commands == ["module reload cdr"] * 3
    asterisk.answers["cdr"] = "A module reload request is already in progress; please be patient"
    said = apply.reload_module(None, "cdr", clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert said and "already in progress" in said


def test_chan_dahdi_is_refused(asterisk):
    with pytest.raises(ValueError):
        apply.reload_module(None, "chan_dahdi.so")
    assert asterisk.commands == []

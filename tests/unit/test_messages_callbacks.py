"""Message and callback-order nodes: validation, the simulator's account of
them, the AGI side with a fake channel, and the stores behind the panel."""
from __future__ import annotations

import struct
from datetime import datetime
from pathlib import Path

import pytest

from appliance.callbacks import store as callbacks
from appliance.messages import store as messages
from appliance.agi.call_io import AgiCallIO
from appliance.base.errors import ConfigError
from appliance.scenarios.graph import check
from appliance.scenarios.nodes import TYPES
from appliance.scenarios.simulate import simulate

MESSAGE = {"type": "message", "prompts": ["leave"], "group": "support", "next": {"next": "bye", "empty": "bye"}}
CALLBACK = {"type": "callback", "prompts": ["offer"], "group": "support",
            "slots": ["14:00-16:00", "tomorrow 09:00-12:00"],
            "number_prompts": ["your-number"], "confirm_prompts": ["confirm"], "enter_prompts": ["enter"],
            "next": {"next": "bye", "fail": "bye"}}


def graph(node: dict) -> dict:
    return {"start": "n", "nodes": {"n": node, "bye": {"type": "hangup"}}}


def wav(samples) -> bytes:
    pcm = struct.pack(f"<{len(samples)}h", *samples)
    return (b"RIFF" + struct.pack("<I", 0) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
            + b"data" + struct.pack("<I", 0) + pcm)   # sizes left 0, as Asterisk does until it closes


def tone(seconds: float, amplitude: int = 4000) -> list[int]:
    return [amplitude if (i // 4) % 2 else -amplitude for i in range(int(8000 * seconds))]


# --- validation -----------------------------------------------------------------

def test_valid_nodes_have_no_problems():
    assert check(graph(MESSAGE)) == [] and check(graph(CALLBACK)) == []
    assert TYPES["message"].waits and TYPES["callback"].waits
    assert {f["name"] for f in TYPES["message"].fields} >= {"prompts", "group", "max_seconds", "beep", "silence"}
    assert {f["kind"] for f in TYPES["callback"].fields} >= {"prompts", "list", "group", "int"}


@pytest.mark.parametrize("change, problem", [
    ({"group": "Support;x"}, "'group' must name a group"),
    ({"max_seconds": 3}, "'max_seconds' must be a whole number from 5 to 300"),
    ({"silence": "5"}, "'silence' must be a whole number from 0 to 30"),
    ({"beep": "yes"}, "'beep' must be true or false"),
    ({"prompts": []}, "at least one prompt"),
])
def test_message_validation(change, problem):
    assert problem in TYPES["message"].validate({**MESSAGE, **change})


@pytest.mark.parametrize("change, problem", [
    ({"slots": ["25:00-26:00"]}, "'25:00-26:00' has a time that does not exist"),
    ({"slots": ["16:00-14:00"]}, "'16:00-14:00' ends before it starts"),
    ({"slots": ["morning"]}, "'morning' is not a slot like 14:00-16:00 or tomorrow 09:00-12:00"),
    ({"slots": ["10:00-11:00"] * 9}, "at most 8 slots (keys 2 to 9)"),
    ({"slots": "10:00-11:00"}, "'slots' must be a list"),
    ({"confirm_prompts": []}, "'confirm_prompts' is required"),
    ({"min_digits": 12, "max_digits": 10}, "'min_digits' is more than 'max_digits'"),
    ({"group": ""}, "'group' must name a group"),
])
def test_callback_validation(change, problem):
    assert problem in TYPES["callback"].validate({**CALLBACK, **change})


def test_outputs_lead_somewhere():
    broken = dict(MESSAGE, next={"next": "bye"})
    assert [p.message for p in check(graph(broken))] == ["output 'empty' leads nowhere"]


# --- slots ----------------------------------------------------------------------

def test_slots_mean_the_next_such_window():
    now = datetime(2026, 11, 26, 15, 0)
    assert callbacks.resolve("14:00-16:00", now) == (now, datetime(2026, 11, 26, 16, 0))
    assert callbacks.resolve("09:00-12:00", now) == (datetime(2026, 11, 27, 9, 0), datetime(2026, 11, 27, 12, 0))
    assert callbacks.resolve("17:00-19:00", now) == (datetime(2026, 11, 26, 17, 0), datetime(2026, 11, 26, 19, 0))
    assert callbacks.resolve("завтра 17:00-19:00", now)[0] == datetime(2026, 11, 27, 17, 0)
    assert callbacks.resolve("22:00-24:00", now)[1] == datetime(2026, 11, 27, 0, 0)
    with pytest.raises(ConfigError):
        callbacks.resolve("later", now)


# --- the simulator --------------------------------------------------------------

def test_the_simulator_reports_the_message_it_would_record():
    walk = simulate(graph(MESSAGE), "")
    record = [e for e in walk["events"] if "record" in e][0]
    assert record["note"] == "would record a message for group support" and record["max_seconds"] == 120
    assert [s["node"] for s in walk["path"] if "type" in s] == ["n", "bye"] and walk["vars"]["message_id"] == "0"
    silent = simulate(graph(MESSAGE), "#")
    assert "message_id" not in silent["vars"] and [e for e in silent["events"] if "record" in e][0]["empty"]


def test_the_simulator_reports_the_callback_order_it_would_store():
    now = datetime(2026, 11, 26, 15, 0)
    own = simulate(graph(CALLBACK), "21", ani="4951234567", now=now)
    order = [e for e in own["events"] if "callback" in e][0]
    assert order["note"] == "would store a callback order for group support: 4951234567, 2026-11-26 15:00-16:00"
    assert {"say": "4951234567", "as": "digits"} in own["events"]
    asap = simulate(graph(CALLBACK), "1279161234567#1", ani="4951234567", now=now)
    order = [e for e in asap["events"] if "callback" in e][0]
    assert order["number"] == "79161234567" and order["asap"] and order["until"] is None
    assert asap["vars"]["callback_slot"] == "asap"
    tomorrow = simulate(graph(CALLBACK), "31", ani="4951234567", now=now)
    assert [e for e in tomorrow["events"] if "callback" in e][0]["from"] == "2026-11-27T09:00"


def test_without_a_usable_caller_number_the_caller_enters_one():
    walk = simulate(graph(CALLBACK), "1123#1", ani="anonymous", now=datetime(2026, 11, 26, 15, 0))
    # "123" is too short (5 digits at least): asked again, then 'fail' after the retries
    assert [e for e in walk["events"] if "callback" in e] == []
    walk = simulate(graph(CALLBACK), "174951112233#1", ani="", now=datetime(2026, 11, 26, 15, 0))
    assert [e for e in walk["events"] if "callback" in e][0]["number"] == "74951112233"


def test_wrong_keys_then_fail():
    walk = simulate(graph(dict(CALLBACK, retries=1)), "77", ani="4951234567")
    assert [s["node"] for s in walk["path"] if "type" in s] == ["n", "bye"]
    assert not [e for e in walk["events"] if "callback" in e]


# --- the AGI side ---------------------------------------------------------------

class FakeAgi:
    """RECORD FILE writes what the 'caller' said, then reports a hang-up."""

    def __init__(self, said):
        self.said = said
        self.env = {"agi_uniqueid": "1700000000.7"}
        self.commands = []

    def execute(self, command, *args):
        self.commands.append((command, args))
        if command == "RECORD FILE":
            Path(args[0].strip('"') + ".wav").write_bytes(wav(self.said))
            raise ValueError("User hungup during execution")
        return {"result": ("0", "")}


def test_a_recording_is_kept_and_listed(db, inst):
    agi = FakeAgi(tone(2.5))
    io = AgiCallIO(agi, inst.sounds, "ru", db)
    message_id = io.record_message("support", 60, True, 5, "4951234567")
    (command, args), = agi.commands
    assert args[1:] == ("wav", '"#"', "60000", "0", "BEEP", "s=5")
    m = messages.get(db, message_id)
    assert m["ani"] == "4951234567" and m["uniqueid"] == "1700000000.7" and m["duration"] == 2.5
    path = messages.audio_path(inst.base, m)
    import wave
    with wave.open(str(path)) as w:   # the header's sizes are written
        assert w.getnframes() == 20000


@pytest.mark.parametrize("said", [[], [0] * 24000, tone(0.5)])
def test_nothing_said_leaves_no_file_and_no_row(db, inst, said):
    io = AgiCallIO(FakeAgi(said), inst.sounds, "ru", db)
    assert io.record_message("support", 60, False, 0, "4951234567") is None
    assert list((inst.base / "messages").iterdir()) == []
    assert messages.list_messages(db) == []


def test_stores_list_and_close(db):
    now = datetime(2026, 11, 26, 15, 0).astimezone()
    a = callbacks.add(db, "support", "79161234567", "4951234567", "u1", now, None, asap=True)
    b = callbacks.add(db, "sales", "74951112233", "", "u2", *callbacks.resolve("16:00-18:00", now))
    with pytest.raises(ConfigError) as exc:
        callbacks.add(db, "support", "1;Dial(x)", "", "u3", now)
    assert exc.value.field == "number"
    assert [o["id"] for o in callbacks.list_orders(db)] == [a, b]
    assert [o["id"] for o in callbacks.list_orders(db, group="sales")] == [b]
    assert callbacks.set_status(db, a, "cancelled", "boss")["changed_by"] == "boss"
    with pytest.raises(ConfigError):
        callbacks.set_status(db, a, "done", "boss")
    with pytest.raises(ConfigError):
        callbacks.set_status(db, b, "placed", "boss")
    assert [o["id"] for o in callbacks.list_orders(db, status="new")] == [b]
    m1 = messages.add(db, "support", "4951234567", "u1", "a.wav", 3.0)
    m2 = messages.add(db, "sales", "", "u2", "b.wav", 4.0)
    with pytest.raises(ConfigError):
        messages.add(db, "support", "", "", "../etc/passwd", 1.0)
    assert [m["id"] for m in messages.list_messages(db)] == [m2, m1]
    assert messages.mark_handled(db, m1, "anna")["handled_by"] == "anna"
    assert messages.mark_handled(db, m1, "boris")["handled_by"] == "anna"
    assert [m["id"] for m in messages.list_messages(db, status="new")] == [m2]
    with pytest.raises(LookupError):
        messages.mark_handled(db, 999, "anna")


def test_the_command_line_lists_and_closes(inst, db, capsys):
    from korund import cli
    base = ["-i", str(inst.base)]
    message_id = messages.add(db, "support", "4951234567", "u1", "a.wav", 3.0)
    order = callbacks.add(db, "support", "79161234567", "4951234567", "u1", datetime.now().astimezone(), None, True)
    assert cli.main(base + ["messages", "--status", "new"]) == 0
    assert "4951234567" in capsys.readouterr().out
    assert cli.main(base + ["messages", "--handled", str(message_id)]) == 0
    assert messages.get(db, message_id)["handled_by"] == "korund-cli"
    assert cli.main(base + ["messages", "--handled", "99"]) == 1
    assert cli.main(base + ["callbacks"]) == 0
    assert "as soon as possible" in capsys.readouterr().out
    assert cli.main(base + ["callbacks", "--cancel", str(order)]) == 0
    assert cli.main(base + ["callbacks", "--done", str(order)]) == 2   # refused: already cancelled
    assert "already cancelled" in capsys.readouterr().err
    assert [r[0] for r in db.execute("SELECT action FROM audit ORDER BY id")] == ["message handled",
                                                                                  "callback cancelled"]

"""An IVR call's steps reach the history as the walk goes: a FastAGI server
that dies in the middle of a call (the thread never reaches its end) has
written the steps up to that moment, and the end writes none twice."""
import json

import pytest

from appliance.scenarios import engine, store as scenarios
from appliance.scenarios.simulate import SimulatedCall

GRAPH = {
    "start": "hello",
    "nodes": {
        "hello": {"type": "play", "prompts": ["p1"], "next": {"next": "menu"}},
        "menu": {"type": "menu", "prompts": ["p2"], "options": {"1": "bye"}, "timeout": 3, "retries": 0,
                 "next": {"fail": "bye"}},
        "bye": {"type": "hangup", "prompts": []},
    },
}


class DiesInTheMenu(SimulatedCall):
    """The server's process is killed while the caller hears the menu."""
    def play(self, prompts, interruptible):
        if prompts == ["p2"]:
            raise KeyboardInterrupt("killed")
        return super().play(prompts, interruptible)


def steps(db, uniqueid):
    return [json.loads(r[0]) for r in db.execute(
        "SELECT step FROM call_steps WHERE uniqueid = ? ORDER BY seq", [uniqueid])]


def test_the_steps_before_a_crash_are_kept(db):
    log = scenarios.StepLog(db, "1.1")
    with pytest.raises(KeyboardInterrupt):
        engine.run(GRAPH, DiesInTheMenu("1"), engine.Session(), on_step=lambda s: log.write(s.path))
    assert [s.get("node") for s in steps(db, "1.1")] == ["hello", "menu"]


def test_a_whole_walk_is_written_once(db):
    log = scenarios.StepLog(db, "2.2")
    session = engine.Session()
    engine.run(GRAPH, SimulatedCall("1"), session, on_step=lambda s: log.write(s.path))
    log.write(session.path)
    log.write(session.path)
    assert steps(db, "2.2") == session.path
    assert [s.get("node") for s in session.path if "type" in s] == ["hello", "menu", "bye"]


def test_the_fastagi_server_writes_handed_over_steps_on_its_own_thread(inst, db):
    import threading

    from appliance.agi.server import StepWriter
    writer = StepWriter(inst.db_path)
    stop = threading.Event()
    thread = threading.Thread(target=writer.run, args=(stop,))
    thread.start()
    session = engine.Session()
    log = scenarios.StepLog(db, "3.3", sink=writer.put)
    engine.run(GRAPH, SimulatedCall("1"), session, on_step=lambda s: log.write(s.path))
    log.write(session.path)
    stop.set()   # what was handed over is still written before the thread ends
    thread.join(10)
    assert steps(db, "3.3") == session.path

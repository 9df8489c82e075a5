"""Numbers and money said in Russian on real calls: the caller hears the
right words in the right grammatical forms (тысяча пятьсот, двадцать одна
тысяча, два рубля, две копейки), every one of them a file that exists --
Asterisk logs no "does not exist" for the call, as it did for every balance
above 999 with SAY NUMBER and the stock Russian sounds."""
from __future__ import annotations

import re

from appliance.base import store
from appliance.scenarios import store as scenarios
from tests import audio
from tests.harness import in_root, wait_for

SAYS = [("98000", "number"), ("320", "number"), ("1500", "number"), ("21001.02", "money"),
        ("2000000", "money")]
GRAPH = {
    "start": "s0",
    "nodes": {
        **{f"s{i}": {"type": "say", "value": value, "as": kind, "next": {"next": f"s{i + 1}"}}
           for i, (value, kind) in enumerate(SAYS)},
        f"s{len(SAYS)}": {"type": "hangup"},
    },
}
WORDS = [
    "90", "8", "thousand-5",                                   # девяносто восемь тысяч
    "300", "20",                                               # триста двадцать
    "thousand-1", "500",                                       # тысяча пятьсот
    "20", "1f", "thousand-1", "1", "rouble-1", "2f", "kopeck-2",   # двадцать одна тысяча один рубль две копейки
    "2", "million-2", "rouble-5",                              # два миллиона рублей
]


def played_words(appliance, mark: int) -> list[str]:
    """The number words the appliance streamed since *mark*, in order (AGI's
    STREAM FILE as AMI reports it)."""
    commands = [e.get("Command", "") for e in appliance.events.find(mark, Event="AGIExecStart")]
    return [m[1] for c in commands if (m := re.search(r"^STREAM FILE \S*/sounds/ru/numbers/([\w-]+) ", c))]


def asterisk_log(appliance) -> bytes:
    path = appliance.host_base / "log" / "messages.log"
    return path.read_bytes() if path.exists() else b""


def bind(appliance, name: str, graph: dict, dnis: str) -> None:
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        scenarios.create(db, name, name.title(), graph)
        scenarios.publish(db, name, "test")
        scenarios.bind(db, dnis, scenario=name)
    finally:
        db.close()


def test_a_scenario_says_numbers_and_money_in_russian(appliance, carrier):
    bind(appliance, "numbers", GRAPH, "300")
    logged = len(asterisk_log(appliance))
    mark = appliance.events.mark()
    call = carrier.call(ani="4953000001", dnis="300", hold=60)
    call.ended(timeout=90)
    assert played_words(appliance, mark) == WORDS
    new_lines = asterisk_log(appliance)[logged:]
    assert b"does not exist" not in new_lines, new_lines.decode(errors="replace")
    # What the caller heard is the words, one after another: sound for about
    # as long as the words last, and no long gap between them.
    folder = appliance.host_base / "sounds" / "ru" / "numbers"
    words_seconds = sum(len(audio.samples(folder / f"{w}.wav")) for w in WORDS) / audio.RATE
    heard = audio.samples(call.recording())
    loud = sum(1 for level in audio.envelope(heard) if level > 300) * 0.05
    assert 0.5 * words_seconds < loud < 1.2 * words_seconds, (loud, words_seconds)


def test_the_demo_balance_is_said_right(appliance, carrier):
    """The demo IVR (number 200): account 1001's balance, 1500, is
    "тысяча пятьсот" after the prompt that says "рублей"."""
    in_root("korund", "-i", appliance.base, "init", "--demo", "--demo-ivr", "--address", appliance.address,
            "--carrier", appliance.carrier, "--rtp-start", str(appliance.rtp),
            "--rtp-end", str(appliance.rtp + 999), timeout=300)
    logged = len(asterisk_log(appliance))
    mark = appliance.events.mark()
    call = carrier.call(ani="4953000002", dnis="200", hold=30, dtmf="1wwwwwwww1001#", dtmf_delay=1)
    wait_for(lambda: len(played_words(appliance, mark)) >= 2, 60, what="the balance to be said")
    call.ended(timeout=90)
    assert played_words(appliance, mark) == ["thousand-1", "500"]
    new_lines = asterisk_log(appliance)[logged:]
    assert b"does not exist" not in new_lines, new_lines.decode(errors="replace")

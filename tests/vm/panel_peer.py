"""The host end of the guest's front panel: a simulated display on the VM's
serial port (qemu ``-serial unix:PATH,server=on,wait=off`` = the guest's
ttyS1).

It connects to the socket, runs drivers.frontpanel's DisplaySimulator on it,
logs every screen it receives and every key it sends (JSON lines), and presses
buttons by a small script, the way a person at the appliance would:

  1. on the status screen (IP address, 1/4) press DOWN until the Alarms
     screen (3/4) is shown;
  2. wait there until an alarm is active ("N active");
  3. press ENTER (the list of alarms), then BACK twice (back to the status
     screen);
  4. then only watch, until the socket closes (the guest powered off).

Each step looks at the screen first, so a press that was lost or obeyed late
is simply corrected by the next one. Exit status 0 when the socket closed
after a connection, 1 when it never connected.

    python tests/vm/panel_peer.py --socket /tmp/vm/panel.sock --log /tmp/vm/panel.jsonl
    python tests/vm/panel_peer.py --verify /tmp/vm/panel.jsonl   # the host test's assertion

``verify(log)`` lists what the log lacks (the status screens, the alarm
screen with an alarm, the presses); tests/vm/test_vm.py calls it.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from drivers import frontpanel  # noqa: E402
from tests.waiting import WaitTimeout, wait_for  # noqa: E402

HEADER = re.compile(r"^(?P<title>.*?)(?P<mark>!?)\s+(?P<index>\d)/(?P<count>\d)$")
ACTIVE = re.compile(r"^(\d+) active$")
RETRY = 5.0          # seconds without the expected screen before pressing again
SETTLE = 0.3         # a screen is read once no byte arrived for this long


def parse(lines: list[str]) -> dict:
    """What a screen says: title, index (1-based), alarm mark, list or summary."""
    m = HEADER.match((lines or [""])[0].rstrip())
    if not m:
        return {"title": None, "index": None, "alarm": False, "active": None, "list": False}
    body = [line.rstrip() for line in lines[1:]]
    active = ACTIVE.match(body[0]) if body else None
    title = m.group("title").strip()
    return {"title": title, "index": int(m.group("index")), "count": int(m.group("count")),
            "alarm": m.group("mark") == "!",
            "active": int(active.group(1)) if active else None,
            # The alarms screen's summary starts with "N active"/"No alarms"; its list
            # shows the alarms themselves.
            "list": title == "Alarms" and bool(body and body[0]) and not active
            and body[0] != "No alarms"}


ALARMS_INDEX = frontpanel.SCREENS.index("alarms") + 1


class Script:
    """The button presses, as goals: each step is (name, reached(screen), key or a
    function choosing the key from the screen)."""

    def __init__(self):
        self.steps = [
            ("alarms screen", lambda s: s["title"] == "Alarms" and not s["list"], self._towards_alarms),
            ("an alarm shown", lambda s: s["title"] == "Alarms" and (s["active"] or 0) > 0, None),
            ("alarm list", lambda s: s["list"], "enter"),
            ("alarm summary", lambda s: s["title"] == "Alarms" and not s["list"], "back"),
            ("status screen", lambda s: s["index"] == 1, "back"),
        ]
        self.step = 0
        self.pressed_at = 0.0

    @staticmethod
    def _towards_alarms(s: dict) -> str | None:
        if s["index"] is None:
            return None
        return "down" if s["index"] < ALARMS_INDEX else "up"

    @property
    def done(self) -> bool:
        return self.step >= len(self.steps)

    def next_key(self, screen: dict, now: float) -> str | None:
        """The key to press now (or None), advancing past the goals reached."""
        while not self.done and self.steps[self.step][1](screen):
            self.step += 1
            self.pressed_at = 0.0
        if self.done or screen["index"] is None:
            return None
        key = self.steps[self.step][2]
        if callable(key):
            key = key(screen)
        if key is None or now - self.pressed_at < RETRY:
            return None
        self.pressed_at = now
        return key


def connect(path: str, timeout: float) -> socket.socket | None:
    """A connection to the display socket, once qemu has made it (None if it
    never does within *timeout* seconds)."""
    def attempt() -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            raise
        return sock
    try:
        return wait_for(attempt, timeout, 0.2, what=f"the display socket {path}", ignoring=OSError)
    except WaitTimeout:
        return None


def run(sock: socket.socket, log_file, width: int = 20, height: int = 4) -> None:
    """Serve the display on *sock* until it closes."""
    closed = False

    def read() -> bytes:
        nonlocal closed
        try:
            data = sock.recv(4096)
        except socket.timeout:
            return b""
        except OSError:                # reset: the guest went away
            data = b""
        if not data:
            closed = True
        return data

    def log(**entry) -> None:
        entry["t"] = round(time.time(), 3)
        log_file.write(json.dumps(entry) + "\n")
        log_file.flush()

    def write(data: bytes) -> None:
        try:
            sock.sendall(data)
        except OSError:
            pass

    sock.settimeout(SETTLE)
    sim = frontpanel.DisplaySimulator(read, write, width, height)
    script = Script()
    shown, finished = None, False
    log(event="connected")
    while not closed:
        data = read()
        if data:
            sim.consume(data)
            continue                   # read on until the line is quiet: a whole screen
        screen = sim.screen()
        if screen != shown and any(screen):
            shown = screen
            log(event="screen", lines=screen, backlight=sim.backlight)
        if shown is None:
            continue
        key = script.next_key(parse(shown), time.monotonic())
        if key:
            sim.press(key)
            log(event="press", key=key, step=script.steps[script.step][0])
        if script.done and not finished:
            finished = True
            log(event="script done")
    log(event="closed")


def read_log(path: str | os.PathLike) -> list[dict]:
    out = []
    for line in Path(path).read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def verify(path: str | os.PathLike) -> list[str]:
    """What the peer's log lacks; [] when the panel worked end to end."""
    try:
        entries = read_log(path)
    except OSError as exc:
        return [f"no front-panel peer log: {exc}"]
    screens = [e["lines"] for e in entries if e.get("event") == "screen"]
    parsed = [parse(s) for s in screens]
    keys = [e["key"] for e in entries if e.get("event") == "press"]
    problems = []
    if not any(e.get("event") == "connected" for e in entries):
        problems.append("the peer never connected to the guest's serial port")
    if not screens:
        problems.append("no screen received from the guest")
    if not any(p["title"] == "IP address" for p in parsed):
        problems.append("the status screen (IP address) never arrived")
    if not any(p["title"] == "Calls now" for p in parsed):
        problems.append("the calls screen never arrived (DOWN not obeyed?)")
    if not any(p["title"] == "Alarms" and (p["active"] or 0) > 0 for p in parsed):
        problems.append("no alarm screen with an active alarm arrived")
    if not any(p["list"] for p in parsed):
        problems.append("the list of alarms never arrived (ENTER not obeyed?)")
    for key in ("down", "enter", "back"):
        if key not in keys:
            problems.append(f"the peer never pressed {key.upper()}")
    if not any(e.get("event") == "script done" for e in entries):
        problems.append("the button script did not finish (BACK to the status screen not obeyed?)")
    return problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--socket", help="qemu's unix socket of the guest's front-panel port")
    p.add_argument("--log", help="where to log screens and presses (JSON lines)")
    p.add_argument("--connect-timeout", type=float, default=120.0)
    p.add_argument("--size", default="20x4", help="display columns x rows")
    p.add_argument("--verify", metavar="LOG", help="check a log instead: print what it lacks")
    args = p.parse_args(argv)
    if args.verify:
        problems = verify(args.verify)
        for line in problems:
            print(line)
        print("front panel: ok" if not problems else f"front panel: {len(problems)} problem(s)")
        return 1 if problems else 0
    if not args.socket or not args.log:
        p.error("--socket and --log are needed (or --verify LOG)")
    width, _, height = args.size.partition("x")
    sock = connect(args.socket, args.connect_timeout)
    with open(args.log, "a") as log_file:
        if sock is None:
            log_file.write(json.dumps({"event": "no connection", "socket": args.socket,
                                       "t": round(time.time(), 3)}) + "\n")
            return 1
        try:
            run(sock, log_file, int(width), int(height))
        finally:
            sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

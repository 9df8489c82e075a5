"""The front panel: a character display with buttons on a serial port.

Protocol: the Matrix Orbital LK/VK command set (its manuals are public;
CrystalFontz and many HD44780-over-serial backpacks accept the same subset),
19200 baud 8N1 by default. What Korund sends:

    0xFE 0x58            clear the screen, cursor home
    0xFE 0x47 col row    move the cursor (1-based column and row)
    0xFE 0x42 0x00       backlight on (0 = no timeout)
    printable ASCII      written at the cursor (anything else becomes '?')

What the display sends: one byte per key press, the module's default key
codes for a 5-key pad:

    'B' (0x42) up    'H' (0x48) down    'E' (0x45) enter    'D' (0x44) back (left)

(other codes can be mapped with ``keys=``). Screens: IP address (and, while
the appliance has no administrator, the panel's one-time setup code), calls now,
alarms, temperatures — up/down moves between them, enter opens the list of a
screen (alarms, sensors) and up/down scrolls it, back returns. The display
stays ASCII (the HD44780 character ROM has no Cyrillic), so screens are in
English. A missing or unplugged panel is tolerated: the port is re-opened
every few seconds.

``DisplaySimulator`` is the other end (a pty in tests, a VM's serial port on
the host): it keeps the screen as the module would and sends key presses.
"""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

CMD = 0xFE
CLEAR, GOTO, BACKLIGHT_ON, HOME = 0x58, 0x47, 0x42, 0x48
DEFAULT_KEYS = {b"B": "up", b"H": "down", b"E": "enter", b"D": "back"}
SCREENS = ("ip", "calls", "alarms", "temperature")
BAUD = 19200


def ascii_text(text: str) -> str:
    text = str(text).replace("°", "")
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)


def alarm_line(alarm: dict) -> str:
    """One alarm as a display line, the important part first: a span's alarm
    as "CRIT span 2 RED" (its name would push the alarm off a 20-column
    screen), anything else as "CRIT <message>"."""
    sev = str(alarm.get("severity", ""))[:4].upper()
    source = str(alarm.get("source") or "")
    if source.startswith("span:") and alarm.get("kind"):
        return f"{sev} span {source[5:]} {str(alarm['kind']).upper()}"
    return f"{sev} {alarm.get('message', '')}"


def encode_screen(lines: list[str], width: int) -> bytes:
    """The bytes that put *lines* on the display."""
    out = bytearray([CMD, CLEAR])
    for row, line in enumerate(lines, start=1):
        out += bytes([CMD, GOTO, 1, row])
        out += ascii_text(line)[:width].ljust(width).encode("ascii")
    return bytes(out)


class FrontPanel:
    """The screens and the button logic, independent of the port."""

    def __init__(self, source, width: int = 20, height: int = 4, keys: dict | None = None):
        self.source = source            # () -> an appliance.health.store.panel_status()-like dict
        self.width, self.height = width, height
        self.keys = keys or DEFAULT_KEYS
        self.screen = 0
        self.detail = False
        self.offset = 0
        self.status: dict = {}
        self.refresh()

    def refresh(self) -> None:
        try:
            self.status = self.source() or {}
        except Exception as exc:  # noqa: BLE001 - the panel keeps showing something
            log.warning("front panel: status unavailable: %s", exc)
            self.status = {"error": str(exc)}

    # -- content ---------------------------------------------------------------
    def _items(self, name: str) -> list[str]:
        st = self.status
        if name == "alarms":
            return [alarm_line(a) for a in st.get("alarms", [])] or ["No alarms"]
        if name == "temperature":
            out = []
            for s in st.get("sensors", []):
                if s.get("value") is None:
                    out.append(f"{s['label']}: not present")
                elif s["kind"] == "temperature":
                    out.append(f"{s['label']}: {s['value']:g}C")
                elif s["kind"] == "fan":
                    out.append(f"{s['label']}: {s['value']:g}rpm")
                else:
                    out.append(f"{s['label']}: {s['status']}")
            return out or ["No sensors"]
        return []

    def lines(self) -> list[str]:
        st = self.status
        name = SCREENS[self.screen]
        alarms = st.get("alarms", [])
        mark = "!" if alarms else " "
        title = {"ip": "IP address", "calls": "Calls now", "alarms": "Alarms",
                 "temperature": "Sensors"}[name]
        head = f"{title}{mark}".ljust(self.width - 4) + f"{self.screen + 1}/{len(SCREENS)}".rjust(4)
        if st.get("error"):
            body = ["Status unavailable", st["error"]]
        elif name == "ip" and st.get("setup_code"):
            # Until the first administrator exists, the panel's first visit
            # needs this code; whoever stands at the box can read it.
            body = [st.get("ip") or "-", "Setup code:", st["setup_code"]]
        elif name == "ip":
            body = [st.get("ip") or "-"]
        elif name == "calls":
            body = [str(st.get("calls_now", 0))]
        elif self.detail:
            items = self._items(name)
            body = items[self.offset:self.offset + self.height - 1]
        elif name == "alarms":
            body = [f"{len(alarms)} active" if alarms else "No alarms"] + self._items(name)[:1 if alarms else 0]
        else:
            temps = [s for s in st.get("sensors", []) if s["kind"] == "temperature" and s.get("value") is not None]
            hottest = max(temps, key=lambda s: s["value"]) if temps else None
            body = [f"Max {hottest['value']:g}C {hottest['label']}" if hottest else "No readings",
                    "ENTER: all sensors"]
        out = [head] + body
        out = (out + [""] * self.height)[:self.height]
        return [ascii_text(line)[:self.width] for line in out]

    def for_log(self, lines: list[str]) -> list[str]:
        """*lines* as the service log may keep them: without the setup code,
        which only the display may show (logs go into support bundles)."""
        code = self.status.get("setup_code")
        return [line.replace(code, "<setup code>") for line in lines] if code else lines

    # -- buttons ---------------------------------------------------------------------
    def where(self) -> str:
        """Where the panel is, for the log: "alarms 3/4" or "alarms 3/4 list"."""
        return (f"{SCREENS[self.screen]} {self.screen + 1}/{len(SCREENS)}"
                + (" list" if self.detail else ""))

    def press(self, key: str) -> None:
        self._press(key)
        log.info("front panel: key %s -> %s", key, self.where())

    def _press(self, key: str) -> None:
        name = SCREENS[self.screen]
        if self.detail:
            count = len(self._items(name))
            if key == "up":
                self.offset = max(0, self.offset - 1)
            elif key == "down":
                self.offset = min(max(0, count - (self.height - 1)), self.offset + 1)
            elif key == "back":
                self.detail, self.offset = False, 0
            return
        if key == "up":
            self.screen = (self.screen - 1) % len(SCREENS)
        elif key == "down":
            self.screen = (self.screen + 1) % len(SCREENS)
        elif key == "enter" and name in ("alarms", "temperature"):
            self.detail, self.offset = True, 0
        elif key == "back":
            self.screen = 0

    def feed(self, data: bytes) -> bool:
        """Key bytes from the display; True if any was a known key."""
        known = False
        for i in range(len(data)):
            key = self.keys.get(data[i:i + 1])
            if key:
                self.press(key)
                known = True
        return known


def serve(port: str, source, *, baud: int = BAUD, width: int = 20, height: int = 4,
          refresh: float = 2.0, retry: float = 5.0, stop: threading.Event | None = None,
          opener=None) -> None:
    """Drive the panel on *port* until *stop* is set; re-open when it goes away."""
    import serial
    opener = opener or (lambda: serial.serial_for_url(port, baudrate=baud, timeout=0.2))
    stop = stop or threading.Event()
    panel = FrontPanel(source, width, height)
    complained = False
    while not stop.is_set():
        try:
            conn = opener()
        except (serial.SerialException, OSError, ValueError) as exc:
            if not complained:
                log.warning("front panel on %s not available (%s); retrying every %ss", port, exc, retry)
                complained = True
            stop.wait(retry)
            continue
        complained = False
        log.info("front panel on %s opened", port)
        try:
            conn.write(bytes([CMD, BACKLIGHT_ON, 0]))
            shown, last = None, 0.0
            while not stop.is_set():
                if time.monotonic() - last >= refresh:
                    panel.refresh()
                    last = time.monotonic()
                lines = panel.lines()
                if lines != shown:
                    conn.write(encode_screen(lines, width))
                    conn.flush()
                    shown = lines
                    log.info("front panel: shows %s", " | ".join(line.rstrip() for line in panel.for_log(lines)))
                data = conn.read(16)
                if data:
                    panel.feed(data)
        except (serial.SerialException, OSError) as exc:
            log.warning("front panel on %s lost: %s", port, exc)
        finally:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass
        stop.wait(retry)


class DisplaySimulator:
    """A Matrix Orbital-style display: parses the command stream into a screen
    and sends key bytes. *read* and *write* are the port's byte functions."""

    def __init__(self, read, write, width: int = 20, height: int = 4, keys: dict | None = None):
        self.read, self.write = read, write
        self.width, self.height = width, height
        self.codes = {v: k for k, v in (keys or DEFAULT_KEYS).items()}
        self.grid = [[" "] * width for _ in range(height)]
        self.col = self.row = 0
        self.backlight = False
        self._pending = b""

    def screen(self) -> list[str]:
        return ["".join(r).rstrip() for r in self.grid]

    def text(self) -> str:
        return "\n".join(self.screen())

    def press(self, key: str) -> None:
        self.write(self.codes[key])

    def consume(self, data: bytes) -> None:
        data = self._pending + data
        self._pending = b""
        i = 0
        while i < len(data):
            b = data[i]
            if b == CMD:
                if i + 1 >= len(data):
                    break
                cmd = data[i + 1]
                need = {GOTO: 4, BACKLIGHT_ON: 3}.get(cmd, 2)
                if i + need > len(data):
                    break
                if cmd == CLEAR:
                    self.grid = [[" "] * self.width for _ in range(self.height)]
                    self.col = self.row = 0
                elif cmd == HOME:
                    self.col = self.row = 0
                elif cmd == GOTO:
                    self.col = min(self.width, max(1, data[i + 2])) - 1
                    self.row = min(self.height, max(1, data[i + 3])) - 1
                elif cmd == BACKLIGHT_ON:
                    self.backlight = True
                i += need
                continue
            if self.col < self.width:
                self.grid[self.row][self.col] = chr(b) if 32 <= b < 127 else "?"
                self.col += 1
            i += 1
        self._pending = data[i:]

    def wait_for(self, predicate, timeout: float = 10.0) -> str:
        """Read until *predicate(screen text)* holds; the text, or AssertionError."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            if predicate(text):
                return text
            data = self.read()
            if data:
                self.consume(data)
        raise AssertionError(f"display never showed what was expected; it shows:\n{self.text()}")

"""Capacity: how many calls at once the appliance carries, and what each
costs, with SIPp (Debian's sip-tester) as the PSTN carrier.

A sandboxed demo appliance (tests/harness.py, 127.0.0.91) with the demo IVR
on number 200, the recording policy "all" and a second SIP trunk, "sipp",
for SIPp's signalling address (127.0.0.93): its calls are PSTN calls like
the carrier's. The PSTN simulator (127.0.0.92) plays the two demo operators'
phones, which answer. For each load of the ladder SIPp places that many
calls over --ramp seconds and holds each --hold seconds, with G.711 A-law
audio from 127.0.0.94; half dial 200 (press 1 in the menu, then the account
1001 and #: the balance is said, then the support group's queue), half dial
100 (a prompt, then the queue). Every call has its own caller number.

Measured per load:

- calls placed, failed (SIPp's failed calls), not answered (no 200), dropped
  (no 200 to the caller's BYE: the appliance ended the call first, or it
  failed later);
- CPU of asterisk and of each Korund service (utime+stime with their reaped
  and live children, /proc/<pid>/stat of each supervisord program), per
  call, the Python services' total against Asterisk's, and the machine's CPU
  (/proc/stat) while all calls are up, with SIPp's own share shown apart;
- INVITE->200 and BYE->200 p50/p95/max (SIPp's -trace_rtt);
- keys heard: IVR callers whose call found the account (the IVR's steps in
  call_steps reach the balance);
- history: one complete row per placed call (ended_at set, the right
  number), none missing, none twice; channels left afterwards.

SIPp 3.6 plays a pcap through one raw socket per call, and Linux hands a
copy of every datagram addressed to the media address to every such socket,
charged to the sender (Asterisk). So SIPp's media has an address of its own
and the RTP sent to it is dropped on arrival while measuring (an nftables
table, removed at the end; ``--keep-rtp`` leaves it out, to see the trap).

--faults: at one load (--fault-load, default 120), while the calls are up,
SIGKILL events, agi, dialer, archive and web one at a time (--fault-gap s
apart) and report how long each takes to be RUNNING again, calls dropped,
and history rows lost or duplicated.

Prints a table and writes bench/results/capacity.json (or
capacity_faults.json); the exit status is 1 when a load went wrong (a
failed or dropped call, a key not heard, a history row missing or twice, a
channel left) or the bench could not measure. It never judges speed.

Run as root (the root filesystem, SIPp's raw sockets, nft):
    .venv/bin/python bench/capacity.py [--loads 30,60] [--hold 45] [--ramp 10]
    .venv/bin/python bench/capacity.py --faults [--fault-load 120]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from math import pi, sin
from pathlib import Path
from typing import Self

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.lines import trunks
from appliance.recordings import store as recordings
from tests.harness import configure, in_root, ready, rootfs_path, start_pair, stop_pair, wait_for

HERE = Path(__file__).resolve().parent
SIPP_DIR = HERE / "sipp"
RESULTS = HERE / "results"
APPLIANCE_ADDR, CARRIER_ADDR, SIPP_ADDR, MEDIA_ADDR = "127.0.0.91", "127.0.0.92", "127.0.0.93", "127.0.0.94"
RTP = 30000             # the appliance 30000-30999, the simulator 31000-31999
MEDIA_PORT = 32000      # SIPp's media port on MEDIA_ADDR, outside every Asterisk's RTP range
LOADS = (30, 60, 120, 240, 360)
FAULT_SERVICES = ("events", "agi", "dialer", "archive", "web")

TRUNK = "sipp"
IVR_DNIS, QUEUE_DNIS = "200", "100"
ACCOUNT, BALANCE = "1001", "1500"          # devtools/demo.py's accounts table
MENU_KEY_AT = 3.0                           # s after the answer: "1" in the menu
ACCOUNT_KEYS_AT = 7.5                       # then the account and #
OPERATOR_TONES = {"1001": 700, "1002": 1300}
# Python services on the appliance (supervisord programs); everything else
# supervisord runs besides asterisk is counted with them.
PYTHON_SERVICES = ("agi", "events", "dialer", "archive", "web", "health")


# --- the caller's media: one RTP stream per kind of call, as a pcap -------------------

def _alaw(sample: int) -> int:
    """One 16-bit linear sample in G.711 A-law (ITU-T G.711, as Sun's g711.c)."""
    seg_end = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)
    sample >>= 3
    if sample >= 0:
        mask = 0xD5
    else:
        mask, sample = 0x55, -sample - 1
    seg = next((i for i, end in enumerate(seg_end) if sample <= end), 8)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((sample >> (1 if seg < 2 else seg)) & 0xF)) ^ mask


# 20 ms of a quiet 400 Hz tone: a whole number of periods, so every frame is the same.
FRAME = bytes(_alaw(int(3000 * sin(2 * pi * 400 * n / 8000))) for n in range(160))
DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
KEY_TICKS, GAP_TICKS = 6, 9                 # a key held 120 ms, 180 ms between keys


def rtp_stream(seconds: float, keys: list[tuple[float, str]]) -> list[tuple[float, bytes]]:
    """(time, RTP packet) of a caller talking for *seconds*, pressing each
    (at, digits) of *keys* as RFC 4733 events (payload type 101) in the same
    stream: one SSRC, one sequence, the audio paused while a key is down, and
    the key's end sent three times with the same sequence number."""
    events = {}
    for at, digits in keys:
        tick = round(at / 0.02)
        for d in digits:
            events[tick] = DTMF_EVENTS[d]
            tick += KEY_TICKS + GAP_TICKS
    ssrc, seq, out, tick, ticks = 0x4B0C0DE5, 1000, [], 0, round(seconds / 0.02)
    while tick < ticks:
        t = tick * 0.02
        if tick in events:
            start = tick * 160
            for k in range(KEY_TICKS):
                end = k == KEY_TICKS - 1
                payload = struct.pack("!BBH", events[tick], (0x80 if end else 0) | 10, (k + 1) * 160)
                head = struct.pack("!BBHII", 0x80, (0x80 if k == 0 else 0) | 101, seq & 0xFFFF, start, ssrc)
                for _ in range(3 if end else 1):
                    out.append((t + k * 0.02, head + payload))
                seq += 1
            tick += KEY_TICKS
            continue
        head = struct.pack("!BBHII", 0x80, 8, seq & 0xFFFF, (tick * 160) & 0xFFFFFFFF, ssrc)
        out.append((t, head + FRAME))
        seq += 1
        tick += 1
    return out


def write_pcap(path: Path, packets: list[tuple[float, bytes]]) -> None:
    """An Ethernet pcap of UDP datagrams (SIPp takes the UDP part and puts its
    own addresses and ports on it)."""
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, rtp in packets:
            udp = struct.pack("!HHHH", 40000, 6000, 8 + len(rtp), 0) + rtp
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                             bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
            frame = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip + udp
            sec = int(t)
            f.write(struct.pack("<IIII", sec, round((t - sec) * 1e6), len(frame), len(frame)) + frame)


def write_scenario(workdir: Path, hold: float) -> Path:
    """The scenario and its two streams in *workdir*; SIPp finds the pcaps
    next to the scenario file."""
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / "caller.xml"
    shutil.copyfile(SIPP_DIR / "caller.xml", scenario)
    seconds = hold + 5    # longer than the call: SIPp stops the stream at the BYE
    write_pcap(workdir / "ivr.pcap", rtp_stream(seconds, [(MENU_KEY_AT, "1"), (ACCOUNT_KEYS_AT, ACCOUNT + "#")]))
    write_pcap(workdir / "queue.pcap", rtp_stream(seconds, []))
    return scenario


# --- dropping the RTP sent to SIPp ----------------------------------------------------

class RtpDrop:
    """An nftables table that drops every UDP datagram to SIPp's media
    address as it arrives, so no copy reaches SIPp's raw sockets. Removed on
    exit; ``dropped()`` counts what it dropped."""

    def __init__(self, address: str):
        self.address = address
        self.table = "korund_bench_" + address.replace(".", "_")
        self.active = False

    def __enter__(self) -> Self:
        if shutil.which("nft") is None:
            raise RuntimeError("nft is missing (apt-get install nftables): it drops the RTP sent to SIPp")
        self._delete()
        # Dropped as it arrives, before any socket sees it: the sender's
        # sendto() succeeds (dropped on output, Asterisk would log every RTCP
        # report it failed to send).
        rules = (f"table ip {self.table} {{\n chain arriving {{\n  type filter hook prerouting priority -300;\n"
                 f"  ip daddr {self.address} meta l4proto udp counter drop\n }}\n}}\n")
        subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True, capture_output=True)
        self.active = True
        return self

    def dropped(self) -> int:
        if not self.active:
            return 0
        out = subprocess.run(["nft", "list", "table", "ip", self.table], capture_output=True, text=True,
                             check=False).stdout
        words = out.split()
        return int(words[words.index("packets") + 1]) if "packets" in words else 0

    def _delete(self) -> None:
        subprocess.run(["nft", "delete", "table", "ip", self.table], capture_output=True, check=False)

    def __exit__(self, *exc) -> None:
        if self.active:
            self._delete()
            self.active = False


class NoDrop:
    active = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def dropped(self) -> int:
        return 0


# --- the appliance as the bench wants it ------------------------------------------------

def prepare(appliance, carrier, sipp_addr: str) -> None:
    """The demo IVR on 200, a trunk for SIPp's address, every call recorded,
    both demo operators' phones answering and the operators ready."""
    in_root("korund", "-i", appliance.base, "init", "--demo", "--demo-ivr", "--address", appliance.address,
            "--carrier", appliance.carrier, "--rtp-start", str(appliance.rtp),
            "--rtp-end", str(appliance.rtp + 999), timeout=300)

    def change(db):
        if not db.execute("SELECT 1 FROM trunks WHERE name = ?", [TRUNK]).fetchone():
            trunks.add_sip_trunk(db, TRUNK, sipp_addr, 5060)
        recordings.set_policy(db, "bench", "default", mode="all")
    configure(appliance, change)
    wait_for(lambda: any(sipp_addr in line for line in appliance.cli(f"pjsip show endpoint {TRUNK}")), 30,
             what="the SIPp trunk in Asterisk")
    for ext, tone in OPERATOR_TONES.items():
        carrier.phone(ext, "answer", tone=tone)
    ready(appliance, *OPERATOR_TONES)
    if PANEL_USER not in in_root("korund", "-i", appliance.base, "user", "list").stdout:
        appliance.add_user(PANEL_USER, "operator", PANEL_PASSWORD, "--extension", "1001")
    # The harness's AMI sessions keep a log of every event for the tests; the
    # bench reads none, and parsing them all (at 240 calls, thousands a
    # second) would take this machine's CPU from the appliance.
    for node in (appliance, carrier):
        node.mgr.send_action({"Action": "Events", "EventMask": "off"})


# --- CPU from /proc ----------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                kids.setdefault(int(fields[1]), []).append(int(entry.name))
    return kids


def tree_cpu(pid: int, kids: dict[int, list[int]]) -> float | None:
    """CPU seconds of *pid*: its own, its reaped children's, and its live
    descendants' (a child counted live now is counted reaped later)."""
    fields = _stat(pid)
    if fields is None:
        return None
    own = sum(int(v) for v in fields[11:15]) / TICK
    return own + sum(tree_cpu(k, kids) or 0.0 for k in kids.get(pid, ()))


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs so far."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(v[:8])
    return total - v[3] - v[4], total


class Sampler:
    """Once a second: the machine's CPU and the CPU of every supervisord
    program of the appliance (following new PIDs after a restart), of SIPp
    and of the simulator's Asterisk."""

    def __init__(self, appliance, others: dict[str, int]):
        self.appliance = appliance
        self.others = others
        self.samples: list[dict] = []
        self.base: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _pids(self) -> dict[str, int]:
        pids = {name: st["pid"] for name, st in self.appliance.services().items() if st.get("pid")}
        return {**pids, **self.others}

    def sample(self) -> None:
        kids = _children_map()
        busy, total = machine_jiffies()
        row = {"t": time.monotonic(), "busy": busy, "total": total, "cpu": {}}
        first = not self.samples
        for name, pid in self._pids().items():
            cpu = tree_cpu(pid, kids)
            if cpu is None:
                continue
            key = (name, pid)
            if key not in self.base:
                # there at the start: count from here; a restarted process: from its start
                self.base[key] = cpu if first else 0.0
            self.last[key] = cpu
            row["cpu"][name] = cpu
        self.samples.append(row)

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            try:
                self.sample()
            except Exception as exc:   # noqa: BLE001 - a missed sample only blurs the mean
                print(f"warning: CPU sample failed: {exc}", file=sys.stderr)

    def __enter__(self) -> Self:
        self.sample()
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(10)
        self.sample()

    def cpu_seconds(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for (name, _pid), last in self.last.items():
            out[name] = out.get(name, 0.0) + last - self.base[(name, _pid)]
        return out

    def machine_pct(self, t0: float, t1: float, less: str | None = None) -> float | None:
        """The machine's CPU mean between monotonic t0 and t1 (% of all
        CPUs), less the share of program *less*."""
        rows = [s for s in self.samples if t0 <= s["t"] <= t1]
        if len(rows) < 2:
            return None
        a, b = rows[0], rows[-1]
        busy = b["busy"] - a["busy"]
        if less and less in a["cpu"] and less in b["cpu"]:
            busy -= (b["cpu"][less] - a["cpu"][less]) * TICK
        return round(100 * busy / (b["total"] - a["total"]), 1) if b["total"] > a["total"] else None


# --- the panel while the calls are up ---------------------------------------------------

PANEL_USER, PANEL_PASSWORD = "bench-anna", "Bench-Capacity-42"


class PanelProbe:
    """Once a second, as operator 1001's panel user: the status page and the
    operator desktop, each timed (the panel must keep answering under load).
    Failures are counted, not raised."""

    def __init__(self, url: str):
        import http.cookiejar
        import urllib.request
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.times: dict[str, list[float]] = {"status": [], "desktop": []}
        self.failures = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def login(self) -> None:
        import re
        import urllib.parse
        page = self.opener.open(self.url + "/login", timeout=10).read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"csrf_token": token, "username": PANEL_USER,
                                       "password": PANEL_PASSWORD}).encode()
        landed = self.opener.open(self.url + "/login", data=form, timeout=10).geturl()
        if "/login" in landed:
            raise RuntimeError("the bench's panel user could not log in")

    def _get(self, name: str, path: str) -> None:
        t0 = time.monotonic()
        try:
            with self.opener.open(self.url + path, timeout=10) as resp:
                resp.read()
                ok = resp.status == 200 and "/login" not in resp.geturl()
        except OSError:
            ok = False
        if ok:
            self.times[name].append((time.monotonic() - t0) * 1000)
        else:
            self.failures += 1

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            self._get("status", "/")
            self._get("desktop", "/desktop")

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(15)

    def figures(self) -> dict:
        return {**{name: latency(v) for name, v in self.times.items()}, "failures": self.failures}


# --- one load ----------------------------------------------------------------------------

def pct(values: list[float], p: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def latency(values: list[float]) -> dict:
    r = lambda v: None if v is None else round(v, 1)
    return {"n": len(values), "p50_ms": r(pct(values, 50)), "p95_ms": r(pct(values, 95)),
            "max_ms": r(max(values)) if values else None}


def callers(calls: int, tag: int) -> list[tuple[str, str, str]]:
    """(caller number, number dialled, kind): every other call into the IVR."""
    return [(f"495{tag:02d}{i:05d}", *((IVR_DNIS, "ivr") if i % 2 == 0 else (QUEUE_DNIS, "queue")))
            for i in range(calls)]


def sipp_command(scenario: Path, inject: Path, appliance_addr: str, sipp_addr: str, media_addr: str,
                 media_port: int, calls: int, hold: float, ramp: float) -> list[str]:
    return ["sipp", "-sf", str(scenario), "-inf", str(inject), "-i", sipp_addr, "-p", "5060", "-bind_local",
            "-mi", media_addr, "-mp", str(media_port),
            "-m", str(calls), "-l", str(calls), "-r", str(calls), "-rp", str(max(1, int(ramp * 1000))),
            "-d", str(int(hold * 1000)), "-aa", "-nostdin", "-recv_timeout", "60000",
            "-timeout", f"{int(ramp + hold + 240)}s",
            "-trace_stat", "-fd", "5", "-trace_rtt", "-rtt_freq", "1", "-trace_logs", "-trace_err",
            f"{appliance_addr}:5060"]


def _one(directory: Path, pattern: str) -> Path | None:
    found = sorted(directory.glob(pattern))
    return found[-1] if found else None


def read_sipp(workdir: Path) -> dict:
    """What SIPp wrote: the last statistics row, the round trips, the log."""
    out = {"stats": {}, "rtt": {"invite": [], "bye": []}, "answered": set(), "done": set(), "errors": ""}
    stat = _one(workdir, "caller_*_.csv")
    if stat:
        rows = list(csv.reader(stat.open(), delimiter=";"))
        if len(rows) >= 2:
            out["stats"] = dict(zip(rows[0], rows[-1]))
    rtt = _one(workdir, "caller_*_rtt.csv")
    if rtt:
        for row in list(csv.reader(rtt.open(), delimiter=";"))[1:]:
            if len(row) >= 3 and row[2] in out["rtt"]:
                out["rtt"][row[2]].append(float(row[1]))
    log = _one(workdir, "caller_*_logs.log")
    if log:
        for line in log.read_text(errors="replace").splitlines():
            words = line.split()
            if len(words) >= 2 and words[-2] in ("answered", "done"):
                out[words[-2]].add(words[-1])
    err = _one(workdir, "caller_*_errors.log")
    if err:
        out["errors"] = err.read_text(errors="replace")[-3000:]
    return out


def stat_count(stats: dict, name: str) -> int | None:
    value = stats.get(name)
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def history(appliance, placed: list[tuple[str, str, str]]) -> tuple[dict, dict[str, list[dict]]]:
    numbers = {ani: dnis for ani, dnis, _ in placed}
    prefix = placed[0][0][:5] if placed else ""
    with appliance.db() as conn:
        rows = [dict(r) for r in conn.execute(
            "SELECT uniqueid, ani, dnis, ended_at FROM calls WHERE ani LIKE ?", [prefix + "%"])]
    by_ani: dict[str, list[dict]] = {}
    for r in rows:
        if r["ani"] in numbers:
            by_ani.setdefault(r["ani"], []).append(r)
    counts = {"complete": 0, "missing": 0, "duplicated": 0, "not_ended": 0, "wrong_dnis": 0}
    for ani, dnis in numbers.items():
        found = by_ani.get(ani, [])
        if not found:
            counts["missing"] += 1
        elif len(found) > 1:
            counts["duplicated"] += 1
        elif not found[0]["ended_at"]:
            counts["not_ended"] += 1
        elif found[0]["dnis"] != dnis:
            counts["wrong_dnis"] += 1
        else:
            counts["complete"] += 1
    return counts, by_ani


def keys_heard(appliance, placed, by_ani) -> tuple[int, int]:
    """(IVR callers whose keys reached the IVR, IVR callers' calls with no IVR
    step recorded at all). Keys reached it when the call's steps found the
    account (the balance looked up, or its saying reached); a call without
    steps never had its IVR session recorded (the FastAGI server could not
    be reached, or died with the session)."""
    heard = without = 0
    with appliance.db() as conn:
        for ani, _dnis, kind in placed:
            if kind != "ivr" or not by_ani.get(ani):
                continue
            steps = []
            for r in by_ani[ani]:
                steps += [json.loads(s[0]) for s in conn.execute(
                    "SELECT step FROM call_steps WHERE uniqueid = ? ORDER BY seq", [r["uniqueid"]])]
            if any(s.get("node") == "amount" or (s.get("set") == "client_balance" and s.get("value") == BALANCE)
                   for s in steps):
                heard += 1
            without += not steps
    return heard, without


def _children_of(pid: int) -> list[int]:
    return _children_map().get(pid, [])


def run_load(appliance, carrier, *, calls: int, hold: float, ramp: float, sipp_addr: str, media_addr: str,
             media_port: int, workdir: Path, tag: int, drop=None, faults: tuple[str, ...] = (),
             fault_gap: float = 6.0, settle: float = 120) -> dict:
    """Place *calls* SIPp calls over *ramp* seconds, each held *hold* s, and
    measure them (see the module's docstring); with *faults*, SIGKILL those
    services one at a time while the calls are up. Returns the figures."""
    drop = drop or NoDrop()
    workdir = workdir / f"load-{tag:02d}-{calls}"
    scenario = write_scenario(workdir, hold)
    placed = callers(calls, tag)
    inject = workdir / "calls.csv"
    inject.write_text("SEQUENTIAL\n" + "".join(f"{a};{d};{k}\n" for a, d, k in placed))
    services = appliance.services()
    carrier_pid = int((carrier.inst.run / "asterisk.pid").read_text().strip())

    # A few quiet seconds first: what the services cost doing nothing.
    with Sampler(appliance, {"carrier": carrier_pid}) as idle:
        time.sleep(5)
    idle_s = idle.samples[-1]["t"] - idle.samples[0]["t"]
    idle_pct = {k: round(100 * v / idle_s, 2) for k, v in idle.cpu_seconds().items()} if idle_s else {}

    dropped_before = drop.dropped()
    cmd = sipp_command(scenario, inject, appliance.address, sipp_addr, media_addr, media_port, calls, hold, ramp)
    stdout = (workdir / "sipp.out").open("w")
    started = time.monotonic()
    sipp = subprocess.Popen(cmd, cwd=workdir, stdout=stdout, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    kills = []
    probe = PanelProbe(appliance.panel_url())
    probe.login()
    with probe, Sampler(appliance, {"carrier": carrier_pid, "sipp": sipp.pid}) as sampler:
        if faults:
            time.sleep(max(0.0, started + ramp + 2 - time.monotonic()))
            for name in faults:
                at = time.monotonic()
                dead = appliance.kill_service(name)
                try:
                    appliance.wait_service(name, not_pid=dead, timeout=120)
                    back = round(time.monotonic() - at, 2)
                except AssertionError:
                    back = None
                kills.append({"service": name, "at_s": round(at - started, 1), "back_after_s": back})
                time.sleep(max(0.0, at + fault_gap - time.monotonic()))
        try:
            sipp_rc = sipp.wait(timeout=ramp + hold + 300)
        except subprocess.TimeoutExpired:
            sipp.kill()
            sipp_rc = sipp.wait()
        stdout.close()
        ended = time.monotonic()
        # What follows the calls is theirs too: history rows, recordings, reaped AGI processes.
        try:
            wait_for(lambda: appliance.active_channels() == 0 and carrier.active_channels() == 0, 60,
                     what="the calls' channels to go")
        except AssertionError:
            pass
        try:
            wait_for(lambda: history(appliance, placed)[0]["complete"] == len(placed), settle, interval=1,
                     what="a complete history row for every call")
        except AssertionError:
            pass
        agi = services.get("agi", {}).get("pid")
        if agi and not faults:
            try:
                wait_for(lambda: not _children_of(agi), 30, what="the FastAGI server's per-call processes to end")
            except AssertionError:
                pass
        time.sleep(2)
    wall = time.monotonic() - started

    got = read_sipp(workdir)
    rows, by_ani = history(appliance, placed)
    stats = got["stats"]
    cpu = sampler.cpu_seconds()
    appliance_cpu = {k: round(v, 2) for k, v in cpu.items() if k not in ("sipp", "carrier")}
    python = sum(v for k, v in cpu.items() if k not in ("asterisk", "sipp", "carrier"))
    per_call = {k: round(v * 1000 / calls, 1) for k, v in cpu.items()}
    plateau = (started + ramp + 2, started + hold - 1) if hold - 1 > ramp + 2 else (started, ended)
    ivr_callers = sum(1 for *_, k in placed if k == "ivr")
    heard, without = keys_heard(appliance, placed, by_ani)
    result = {
        "calls": calls, "hold_s": hold, "ramp_s": ramp,
        "setup_rate_per_s": round(calls / ramp, 1) if ramp else None,
        "placed": stat_count(stats, "TotalCallCreated"),
        "failed": stat_count(stats, "FailedCall(C)"),
        "not_answered": sum(1 for a, *_ in placed if a not in got["answered"]),
        "dropped": sum(1 for a, *_ in placed if a in got["answered"] and a not in got["done"]),
        "sipp_failures": {k: int(v) for k, v in stats.items() if k.startswith("Failed") and k.endswith("(C)")
                          and v.isdigit() and int(v)},
        "retransmissions": stat_count(stats, "Retransmissions(C)"),
        "sipp_exit": sipp_rc,
        "invite_200": latency(got["rtt"]["invite"]), "bye_200": latency(got["rtt"]["bye"]),
        "cpu_s": appliance_cpu,
        "cpu_ms_per_call": {k: v for k, v in per_call.items() if k not in ("sipp", "carrier")},
        "python_ms_per_call": round(python * 1000 / calls, 1),
        "python_to_asterisk": round(python / cpu["asterisk"], 2) if cpu.get("asterisk") else None,
        "machine_cpu_pct": sampler.machine_pct(*plateau),
        "machine_cpu_pct_without_sipp": sampler.machine_pct(*plateau, less="sipp"),
        "machine_cpu_pct_whole_run": sampler.machine_pct(started, ended),
        "sipp_cpu_s": round(cpu.get("sipp", 0.0), 2), "simulator_cpu_s": round(cpu.get("carrier", 0.0), 2),
        "idle_cpu_pct": idle_pct,
        "ivr_callers": ivr_callers, "keys_heard": heard, "ivr_without_steps": without,
        "history": rows,
        "channels_left": {"appliance": appliance.active_channels(), "simulator": carrier.active_channels()},
        "rtp_dropped_packets": drop.dropped() - dropped_before if drop.active else None,
        "wall_s": round(wall, 1),
        "panel_ms": probe.figures(),
    }
    if faults:
        result["kills"] = kills
    if got["errors"]:
        result["sipp_errors_tail"] = got["errors"][-1500:]
    result["problems"] = problems(result)
    return result


# --- the soak: hours of steady load --------------------------------------------------------

def _proc_figures(pid: int) -> dict | None:
    """Open file descriptors and resident memory (kB) of *pid*."""
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if line.startswith("VmRSS:"))
    except (OSError, StopIteration, ValueError):
        return None
    return {"fds": fds, "rss_kb": rss}


def soak_sample(appliance, started: float) -> dict:
    db_bytes = sum(p.stat().st_size for p in appliance.host_base.glob("korund.db*") if p.is_file())
    with appliance.db() as conn:
        rows = {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]   # fixed table names
                for table in ("calls", "call_legs", "call_steps", "recordings")}
    services = {}
    for name, st in appliance.services().items():
        if st.get("pid"):
            services[name] = {"pid": st["pid"], **(_proc_figures(st["pid"]) or {})}
    return {"at_s": round(time.monotonic() - started), "channels": appliance.active_channels(),
            "db_bytes": db_bytes, "rows": rows, "services": services}


def run_soak(appliance, carrier, *, calls: int, minutes: float, hold: float, sipp_addr: str, media_addr: str,
             media_port: int, workdir: Path, drop=None, every: float = 60) -> dict:
    """Keep *calls* calls up for *minutes* (a new call every hold/calls
    seconds, each held *hold* s) and sample every *every* s: channels, open
    files and memory of every service, the database's size and rows."""
    drop = drop or NoDrop()
    workdir = workdir / f"soak-{calls}"
    scenario = write_scenario(workdir, hold)
    total = int(calls / hold * minutes * 60)
    placed = callers(total, 90)
    inject = workdir / "calls.csv"
    inject.write_text("SEQUENTIAL\n" + "".join(f"{a};{d};{k}\n" for a, d, k in placed))
    cmd = sipp_command(scenario, inject, appliance.address, sipp_addr, media_addr, media_port, calls, hold, hold)
    cmd[cmd.index("-m") + 1] = str(total)
    cmd[cmd.index("-timeout") + 1] = f"{int(minutes * 60 + hold + 300)}s"
    started = time.monotonic()
    samples = []
    with (workdir / "sipp.out").open("w") as stdout:
        sipp = subprocess.Popen(cmd, cwd=workdir, stdout=stdout, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        while sipp.poll() is None:
            samples.append(soak_sample(appliance, started))
            print(f"soak {samples[-1]['at_s']:>5} s: {samples[-1]['channels']} channels, "
                  f"{samples[-1]['rows']['calls']} call rows", flush=True)
            try:
                sipp.wait(timeout=every)
            except subprocess.TimeoutExpired:
                pass
    try:
        wait_for(lambda: appliance.active_channels() == 0, 120, what="the soak's channels to go")
        wait_for(lambda: history(appliance, placed)[0]["complete"] == len(placed), 180, interval=2,
                 what="a complete history row for every soak call")
    except AssertionError:
        pass
    time.sleep(5)
    samples.append(soak_sample(appliance, started))
    got = read_sipp(workdir)
    rows, _ = history(appliance, placed)
    # Growth from the first sample at full load (after one hold time) to the
    # last one still under load, and the database's bytes per call written.
    steady = [s for s in samples[:-1] if s["at_s"] >= hold + 5] or samples[:-1]
    first, last, after = steady[0], steady[-1], samples[-1]
    growth = {}
    for name, fig in last["services"].items():
        was = first["services"].get(name, {})
        growth[name] = {"restarted": was.get("pid") != fig.get("pid"),
                        "fds": fig.get("fds", 0) - was.get("fds", 0),
                        "rss_kb": fig.get("rss_kb", 0) - was.get("rss_kb", 0)}
    written = after["rows"]["calls"] - samples[0]["rows"]["calls"]
    result = {
        "calls": calls, "minutes": minutes, "hold_s": hold, "placed": stat_count(got["stats"], "TotalCallCreated"),
        "failed": stat_count(got["stats"], "FailedCall(C)"),
        "dropped": sum(1 for a, *_ in placed if a in got["answered"] and a not in got["done"]),
        "history": rows, "channels_after": after["channels"],
        "channels_first_last": [first["channels"], last["channels"]],
        "growth_steady": growth,
        "db_bytes_per_call": round((after["db_bytes"] - samples[0]["db_bytes"]) / written) if written else None,
        "samples": samples,
    }
    result["problems"] = [p for p in (
        f"{result['failed']} failed calls" if result["failed"] else "",
        f"{result['dropped']} calls dropped" if result["dropped"] else "",
        "history rows: " + ", ".join(f"{k} {v}" for k, v in rows.items()) if rows["complete"] != total else "",
        f"{after['channels']} channels left" if after["channels"] else "",
        *(f"{name} restarted during the soak" for name, g in growth.items() if g["restarted"]),
    ) if p]
    return result


def problems(r: dict) -> list[str]:
    """What went wrong in a load, in words (empty when every call went right)."""
    out = []
    if r["placed"] != r["calls"]:
        out.append(f"SIPp placed {r['placed']} of {r['calls']} calls (exit {r['sipp_exit']})")
    for key, what in (("failed", "failed calls (SIPp)"), ("not_answered", "calls never answered"),
                      ("dropped", "calls dropped before the caller hung up")):
        if r[key]:
            out.append(f"{r[key]} {what}")
    # Under --faults a caller in the IVR when agi is killed loses the rest of
    # it (the dialplan's fallback takes the call to the queue): reported, but
    # what must hold there is no call dropped and no history row lost.
    if r["keys_heard"] != r["ivr_callers"] and not r.get("kills"):
        out.append(f"keys heard for {r['keys_heard']} of {r['ivr_callers']} IVR callers"
                   + (f" ({r['ivr_without_steps']} with no IVR step recorded)" if r["ivr_without_steps"] else ""))
    h = r["history"]
    if h["complete"] != r["calls"]:
        out.append("history rows: " + ", ".join(f"{k} {v}" for k, v in h.items()))
    if any(r["channels_left"].values()):
        out.append(f"channels left: {r['channels_left']}")
    # (under --faults the panel is down while web restarts)
    if r.get("panel_ms", {}).get("failures") and not r.get("kills"):
        out.append(f"the panel failed {r['panel_ms']['failures']} time(s) while the calls were up")
    for k in r.get("kills", []):
        if k["back_after_s"] is None:
            out.append(f"{k['service']} not RUNNING again")
    return out


# --- the run ------------------------------------------------------------------------------

def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def checkout() -> dict:
    """The code measured: the commit, and whether the appliance's code
    differed from it (runs before and after a change are compared by this)."""
    top = HERE.parent

    def git(*args):
        return subprocess.run(["git", "-C", str(top), *args], capture_output=True, text=True,
                              check=False).stdout.strip()
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "modified": bool(git("status", "--porcelain", "--", "appliance", "korund", "web", "devtools"))}


def f(v, unit="") -> str:
    if v is None:
        return "-"
    return f"{v:g}{unit}" if isinstance(v, int) else f"{v:.1f}{unit}"


def print_soak(r: dict) -> None:
    print(f"\nSoak: {r['calls']} calls at once for {r['minutes']:g} min, {r['placed']} placed, "
          f"{r['failed']} failed, {r['dropped']} dropped; history {r['history']}")
    print(f"channels at full load, first/last: {r['channels_first_last']}; left after: {r['channels_after']}")
    print(f"database: {r['db_bytes_per_call']} bytes per call written")
    print("growth at full load, first to last sample:")
    for name, g in sorted(r["growth_steady"].items()):
        print(f"  {name:12} fds {g['fds']:+d}  rss {g['rss_kb']:+d} kB{'  RESTARTED' if g['restarted'] else ''}")
    for p in r["problems"]:
        print(f"soak: {p}")


def print_table(report: dict) -> None:
    loads = report["loads"]
    services = sorted({k for r in loads for k in r["cpu_ms_per_call"]},
                      key=lambda s: (s != "asterisk", s not in PYTHON_SERVICES, s))
    rows = [
        ("calls placed", [f(r["placed"]) for r in loads]),
        ("new calls per s (ramp)", [f(r.get("setup_rate_per_s")) for r in loads]),
        ("failed (SIPp)", [f(r["failed"]) for r in loads]),
        ("not answered / dropped", [f"{r['not_answered']}/{r['dropped']}" for r in loads]),
        ("INVITE->200 p50 ms", [f(r["invite_200"]["p50_ms"]) for r in loads]),
        ("INVITE->200 p95 ms", [f(r["invite_200"]["p95_ms"]) for r in loads]),
        ("BYE->200 p50 ms", [f(r["bye_200"]["p50_ms"]) for r in loads]),
        ("BYE->200 p95 ms", [f(r["bye_200"]["p95_ms"]) for r in loads]),
        ("keys heard (IVR callers)", [f"{r['keys_heard']}/{r['ivr_callers']}" for r in loads]),
        ("history rows complete", [f"{r['history']['complete']}/{r['calls']}" for r in loads]),
        ("channels left", [str(sum(r["channels_left"].values())) for r in loads]),
        ("panel status p95 ms", [f(r.get("panel_ms", {}).get("status", {}).get("p95_ms")) for r in loads]),
        ("panel desktop p95 ms", [f(r.get("panel_ms", {}).get("desktop", {}).get("p95_ms")) for r in loads]),
        ("machine CPU, calls up %", [f(r["machine_cpu_pct"]) for r in loads]),
        ("  without SIPp %", [f(r["machine_cpu_pct_without_sipp"]) for r in loads]),
    ]
    rows += [(f"CPU/call {s} ms", [f(r["cpu_ms_per_call"].get(s)) for r in loads]) for s in services]
    rows += [
        ("Python services ms/call", [f(r["python_ms_per_call"]) for r in loads]),
        ("Python / asterisk", [f(r["python_to_asterisk"], "x") for r in loads]),
        ("SIPp CPU s (kept out)", [f(r["sipp_cpu_s"]) for r in loads]),
        ("RTP to SIPp dropped", [f(r["rtp_dropped_packets"]) for r in loads]),
    ]
    m = report["machine"]
    code = report["checkout"]
    print(f"\nCapacity, hold {report['hold_s']:g} s, ramp {report['ramp_s']:g} s; {m['cpus']} CPUs "
          f"({m['cpu_model']}), {report['date']}, code {code['commit']}{' modified' if code['modified'] else ''}")
    print(f"{'calls at once':28}" + "".join(f"{r['calls']:>10}" for r in loads))
    for name, values in rows:
        print(f"{name:28}" + "".join(f"{v:>10}" for v in values))
    for r in loads:
        for k in r.get("kills", []):
            print(f"killed {k['service']:8} at {k['at_s']:5.1f} s: RUNNING again after "
                  f"{f(k['back_after_s'], ' s')}")
        for p in r["problems"]:
            print(f"{r['calls']} calls: {p}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loads", default=",".join(map(str, LOADS)), help="calls at once, e.g. 30,60")
    ap.add_argument("--hold", type=float, default=45, help="seconds each call is held (default 45)")
    ap.add_argument("--ramp", type=float, default=10, help="seconds over which a load's calls are placed")
    ap.add_argument("--faults", action="store_true", help="kill services one at a time under load")
    ap.add_argument("--fault-load", type=int, default=120)
    ap.add_argument("--fault-gap", type=float, default=6, help="seconds between two kills")
    ap.add_argument("--keep-rtp", action="store_true", help="do not drop the RTP sent to SIPp (the trap)")
    ap.add_argument("--soak", type=float, metavar="MINUTES", help="hold --soak-load calls up this long (by hand)")
    ap.add_argument("--soak-load", type=int, default=120)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if shutil.which("sipp") is None:
        print("SIPp is missing: make host-deps installs sip-tester", file=sys.stderr)
        return 1
    loads = [args.fault_load] if args.faults else [int(x) for x in args.loads.split(",") if x.strip()]
    out = args.out or RESULTS / ("capacity_soak.json" if args.soak else
                                 "capacity_faults.json" if args.faults else "capacity.json")
    info = machine()
    code = checkout()
    workdir = Path(tempfile.mkdtemp(prefix="korund-capacity-"))
    results = []
    appliance, carrier = start_pair(rootfs_path(), "bench-capacity", APPLIANCE_ADDR, CARRIER_ADDR, rtp=RTP)
    try:
        info["asterisk"] = next((line for line in appliance.cli("core show version") if line.strip()), "")
        prepare(appliance, carrier, SIPP_ADDR)
        with (NoDrop() if args.keep_rtp else RtpDrop(MEDIA_ADDR)) as drop:
            if args.soak:
                r = run_soak(appliance, carrier, calls=args.soak_load, minutes=args.soak, hold=args.hold,
                             sipp_addr=SIPP_ADDR, media_addr=MEDIA_ADDR, media_port=MEDIA_PORT, workdir=workdir,
                             drop=drop)
                results.append(r)
                loads = []
            for tag, calls in enumerate(loads):
                print(f"{calls} calls ...", flush=True)
                r = run_load(appliance, carrier, calls=calls, hold=args.hold, ramp=args.ramp, sipp_addr=SIPP_ADDR,
                             media_addr=MEDIA_ADDR, media_port=MEDIA_PORT, workdir=workdir, tag=tag, drop=drop,
                             faults=FAULT_SERVICES if args.faults else (), fault_gap=args.fault_gap)
                results.append(r)
                print(f"{calls} calls: {'; '.join(r['problems']) or 'all went right'}", flush=True)
    finally:
        leftovers = stop_pair(appliance, carrier)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": info, "checkout": code,
        "hold_s": args.hold, "ramp_s": args.ramp, "faults": args.faults,
        "mix": f"half to {IVR_DNIS} (menu 1, account {ACCOUNT}#, balance, then the queue), half to {QUEUE_DNIS}",
        "recording_policy": "all", "rtp_to_sipp_dropped": not args.keep_rtp,
        "leftover_processes": leftovers,
        **({"soak": results[0]} if args.soak else {"loads": results}),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    if args.soak:
        print_soak(results[0])
    else:
        print_table(report)
    print(f"written: {out}")
    bad = [p for r in results for p in r["problems"]] + ([f"processes left: {leftovers}"] if leftovers else [])
    if not bad:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"SIPp's files kept in {workdir}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

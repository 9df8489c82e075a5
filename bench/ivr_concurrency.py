"""IVR concurrency: N simultaneous calls walking a scenario, against the same
flow written as plain dialplan, on one real Asterisk.

A sandboxed appliance and carrier (tests/harness.py, on 127.0.0.71/.72) are
started. Each caller walks

    menu (press 2) -> input (account digits + #) -> look-up (found)
    -> say the balance (SAY NUMBER) -> hang up

once through the IVR engine (a published scenario bound to DNIS 100, run
by the FastAGI server) and once through a plain-dialplan context with the same
prompts, the same keys and an AstDB look-up (DNIS 900; the context is appended
to the sandbox's own extensions.conf, the product's renderer is untouched).

Measured on the appliance from its AMI events, which carry Asterisk's own
timestamps:

- step latency: a caller's key that ends a wait (DTMFEnd, received on the
  inbound channel) to the next prompt starting (AGIExecStart of STREAM FILE /
  GET DATA / SAY ..., or Newexten of Read / SayNumber / Playback);
  the engine's part is split into Asterisk returning the command
  (DTMFEnd -> AGIExecEnd) and the FastAGI turn-around (AGIExecEnd -> the next
  AGIExecStart: socket, pyst2, the engine, SQLite);
- CPU per call: utime+stime of asterisk and of the FastAGI server including
  its reaped per-call children (cutime+cstime), from /proc, before and after
  each batch, divided by the calls.

AMI stamps an event when it formats it, not when it happened: on a saturated
machine the tails include scheduling delay of Asterisk's threads (compare the
two flows of one run, and the engine's "Asterisk part", which has no Python in
it).

Sanity: every call reached the end of the flow with the right balance, and no
channel is left on either side; the exit status is 1 otherwise. Prints a table and writes
bench/results/ivr_concurrency.json.

Run: make bench, or .venv/bin/python bench/ivr_concurrency.py --calls 10
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.base import store
from appliance.tables import store as datatables
from appliance.scenarios import store as scenarios
from tests.harness import in_root, rootfs_path, start_pair, stop_pair, wait_for  # noqa: E402

APPLIANCE_ADDR, CARRIER_ADDR, RTP = "127.0.0.71", "127.0.0.72", 24000
RESULTS = Path(__file__).resolve().parent / "results" / "ivr_concurrency.json"
TARGET_P99_MS, TARGET_CPU_RATIO = 20.0, 1.5

ENGINE_DNIS, PLAIN_DNIS = "100", "900"
PROMPTS = {"bench-menu": 500, "bench-account": 1100}   # tone prompts (Hz)
PROMPT_SECONDS = 8
# The caller presses 2 four seconds into the menu, thinks four seconds more, then
# keys the account and # into the account prompt: a call lasts about 12 s, so a
# batch placed over a couple of seconds really is N calls at once.
CALLER_DELAY, CALLER_PAUSE = 4, "w" * 8
ACCOUNTS = {str(1000 + i): str(100 + (i * 7919) % 90000) for i in range(1000)}

GRAPH = {
    "start": "main",
    "nodes": {
        "main": {"type": "menu", "prompts": ["bench-menu"], "options": {"1": "bye", "2": "account"},
                 "timeout": 3, "retries": 1, "next": {"fail": "bye"}},
        "account": {"type": "input", "prompts": ["bench-account"], "variable": "account",
                    "min_digits": 4, "max_digits": 6, "timeout": 4, "retries": 0,
                    "next": {"next": "find", "fail": "bye"}},
        "find": {"type": "lookup", "table": "accounts", "by": "account", "prefix": "client",
                 "next": {"found": "balance", "not_found": "bye"}},
        "balance": {"type": "say", "value": "{client_balance}", "as": "number", "next": {"next": "done"}},
        "done": {"type": "hangup"},
        "bye": {"type": "hangup"},
    },
}
ENGINE_PATH = ["main", "account", "find", "balance", "done"]


def plain_dialplan(sounds: str) -> str:
    """The same flow as the scenario, in plain dialplan."""
    return f"""
; --- bench/ivr_concurrency.py: the plain-dialplan baseline ---
[korund-inbound]
exten => {PLAIN_DNIS},1,Goto(korund-bench-plain,s,1)

[korund-bench-plain]
exten => s,1,Answer()
 same => n,Set(TRY=0)
 same => n(menu),Read(KEY,{sounds}/bench-menu,1,,1,3)
 same => n,GotoIf($["${{KEY}}" = "2"]?account)
 same => n,Set(TRY=$[${{TRY}} + 1])
 same => n,GotoIf($[${{TRY}} <= 1]?menu:bye)
 same => n(account),Read(ACCOUNT,{sounds}/bench-account,6,,1,4)
 same => n,GotoIf($[${{LEN(${{ACCOUNT}})}} < 4]?bye)
 same => n,GotoIf(${{DB_EXISTS(korund-bench/${{ACCOUNT}})}}?found:bye)
 same => n(found),SayNumber(${{DB_RESULT}})
 same => n,Hangup(16)
 same => n(bye),Hangup(31)
"""


# --- what the appliance is doing --------------------------------------------

def proc_stat(pid: int) -> list[str]:
    """/proc/<pid>/stat from field 3 (state) on: index = field number - 3."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def proc_cpu(pid: int) -> tuple[float, float]:
    """(own utime+stime, reaped children's cutime+cstime) of *pid*, in seconds."""
    fields = proc_stat(pid)
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return out


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far: asterisk (all threads), the FastAGI server with its
    finished calls, the events (history) process."""
    own, _ = proc_cpu(pids["asterisk"])
    agi_own, agi_children = proc_cpu(pids["agi"])
    events_own, _ = proc_cpu(pids["events"])
    return {"asterisk": own, "agi": agi_own + agi_children, "agi_server": agi_own,
            "agi_calls": agi_children, "events": events_own,
            # page faults of the finished per-call children: copy-on-write after fork
            "agi_calls_minor_faults": int(proc_stat(pids["agi"])[7])}


# --- measuring from AMI events -----------------------------------------------

PLAYS_AGI = ("STREAM FILE", "GET DATA", "SAY ", "CONTROL STREAM FILE", "GET OPTION")
PLAYS_APP = ("Read", "SayNumber", "SayDigits", "Playback", "Background")


def ts(e: dict) -> float:
    return float(e["Timestamp"])


def is_prompt_start(e: dict) -> bool:
    if e.get("Event") == "AGIExecStart":
        return e.get("Command", "").upper().startswith(PLAYS_AGI)
    return e.get("Event") == "Newexten" and e.get("Application") in PLAYS_APP


def calls_of(events: list[dict]) -> dict[str, list[dict]]:
    """The events of each inbound (trunk) channel, by Uniqueid."""
    inbound = {e["Uniqueid"] for e in events if e.get("Event") == "Newchannel"
               and e.get("Context") == "korund-inbound"}
    out: dict[str, list[dict]] = {u: [] for u in inbound}
    for e in events:
        if e.get("Uniqueid") in out:
            out[e["Uniqueid"]].append(e)
    for evs in out.values():
        evs.sort(key=ts)
    return out


def steps(evs: list[dict]) -> list[dict]:
    """Each wait a key ended: from that key to the next prompt starting."""
    out, last_key = [], None
    for i, e in enumerate(evs):
        if e.get("Event") == "DTMFEnd" and e.get("Direction") == "Received":
            last_key = (i, e)
        elif is_prompt_start(e):
            if last_key:
                k, key = last_key
                step = {"key": key.get("Digit"), "ms": (ts(e) - ts(key)) * 1000}
                ends = [x for x in evs[k:i] if x.get("Event") == "AGIExecEnd"]
                if e.get("Event") == "AGIExecStart" and ends:
                    step["asterisk_ms"] = (ts(ends[0]) - ts(key)) * 1000
                    step["agi_ms"] = (ts(e) - ts(ends[-1])) * 1000
                out.append(step)
            last_key = None
    return out


def completed(evs: list[dict], balance: str) -> bool:
    """The caller heard its balance and the call was then hung up normally."""
    said = [i for i, e in enumerate(evs) if (
        e.get("Event") == "AGIExecStart"
        and e.get("Command", "").replace('"', "").split()[:3] == ["SAY", "NUMBER", balance]
    ) or (e.get("Event") == "Newexten" and e.get("Application") == "SayNumber" and e.get("AppData") == balance)]
    return bool(said) and any(e.get("Event") == "Newexten" and e.get("Application") == "Hangup"
                              and e.get("AppData") == "16" for e in evs[said[0]:])


def peak_concurrency(calls: dict[str, list[dict]]) -> int:
    edges = []
    for evs in calls.values():
        edges += [(ts(evs[0]), 1), (ts(evs[-1]), -1)]
    peak = now = 0
    for _, d in sorted(edges):
        now += d
        peak = max(peak, now)
    return peak


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if p < 100 else max(values)


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": pct(values, 50), "p99_ms": pct(values, 99),
            "max_ms": max(values) if values else None}


# --- one batch -----------------------------------------------------------------

def run_batch(appliance, carrier, pids, dnis: str, calls: int, ramp: float, first: int,
              engine: bool) -> dict:
    accounts = list(ACCOUNTS)
    mark = appliance.events.mark()
    before = cpu_snapshot(pids)
    placed = []
    started = time.monotonic()
    for i in range(calls):
        account = accounts[(first + i) % len(accounts)]
        call = carrier.call(ani=f"4957{first + i:06d}", dnis=dnis, hold=40,
                            dtmf=f"2{CALLER_PAUSE}{account}#", dtmf_delay=CALLER_DELAY)
        placed.append((call, account))
        time.sleep(ramp / calls)
    placing = time.monotonic() - started
    not_ended = 0
    for call, _ in placed:
        try:
            call.ended(timeout=max(5.0, 120 - (time.monotonic() - started)))
        except AssertionError:
            not_ended += 1
    wall = time.monotonic() - started
    # The FastAGI server reaps its finished children every half second or so.
    try:
        wait_for(lambda: appliance.active_channels() == 0 and not children(pids["agi"]), 30,
                 what="the appliance's channels and AGI children to go")
    except AssertionError as exc:
        print(f"warning: {exc}", file=sys.stderr)
    time.sleep(1)
    after = cpu_snapshot(pids)
    by_call = calls_of(appliance.events.events[mark:])
    all_steps = [s for evs in by_call.values() for s in steps(evs)]
    done = 0
    balances = {ani: ACCOUNTS[acc] for ani, acc in
                ((f"4957{first + i:06d}", acc) for i, (_, acc) in enumerate(placed))}
    for uid, evs in by_call.items():
        ani = next((e.get("CallerIDNum") for e in evs if e.get("Event") == "Newchannel"), "")
        ok = completed(evs, balances.get(ani, "?"))
        if ok and engine:
            with appliance.db() as conn:
                path = [json.loads(r[0]).get("node") for r in conn.execute(
                    "SELECT step FROM call_steps WHERE uniqueid = ? ORDER BY seq", [uid])]
            ok = [p for p in path if p] and list(dict.fromkeys(p for p in path if p)) == ENGINE_PATH
        done += bool(ok)
    cpu = {k: after[k] - before[k] for k in after}
    result = {
        "calls": calls, "inbound_channels_seen": len(by_call), "completed": done,
        "callers_not_hung_up_in_time": not_ended,
        "peak_concurrent_calls": peak_concurrency(by_call), "wall_s": round(wall, 1),
        "placed_in_s": round(placing, 1),
        # the AGI could not be reached (or failed) and the dialplan routed the call itself
        "agi_fallbacks": sum(any(e.get("Event") == "Newexten" and e.get("AppData", "").endswith(
            "_ROUTE_SOURCE=fallback") for e in evs) for evs in by_call.values()),
        "step": summary([s["ms"] for s in all_steps]),
        "step_by_key": {k: summary([s["ms"] for s in all_steps if s["key"] == k])
                        for k in sorted({s["key"] for s in all_steps})},
        "cpu_s": {k: round(v, 3) for k, v in cpu.items() if k != "agi_calls_minor_faults"},
        "cpu_per_call_ms": round((cpu["asterisk"] + cpu["agi"]) / calls * 1000, 2),
        "cpu_per_call_ms_parts": {k: round(v / calls * 1000, 2) for k, v in cpu.items()
                                  if k != "agi_calls_minor_faults"},
        "agi_call_minor_faults_per_call": round(cpu["agi_calls_minor_faults"] / calls),
    }
    if engine:
        result["asterisk_part"] = summary([s["asterisk_ms"] for s in all_steps if "asterisk_ms" in s])
        result["agi_turnaround"] = summary([s["agi_ms"] for s in all_steps if "agi_ms" in s])
        starts = []
        for evs in by_call.values():
            agi = next((e for e in evs if e.get("Event") == "Newexten" and e.get("Application") == "AGI"), None)
            first_cmd = next((e for e in evs if e.get("Event") == "AGIExecStart"), None)
            if agi and first_cmd:
                starts.append((ts(first_cmd) - ts(agi)) * 1000)
        result["agi_connect"] = summary(starts)
    result["channels_left"] = {"appliance": appliance.active_channels(),
                               "carrier": carrier.active_channels()}
    return result


# --- set-up ----------------------------------------------------------------------

def prepare(appliance) -> None:
    sounds = f"{appliance.base}/sounds/ru"
    for name, freq in PROMPTS.items():
        in_root("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", f"{sounds}/{name}.wav",
                "synth", str(PROMPT_SECONDS), "sine", str(freq), "vol", "0.5")
    csv = "account;balance\n" + "".join(f"{a};{b}\n" for a, b in ACCOUNTS.items())
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        datatables.import_csv(db, "accounts", csv.encode(), "account")
        scenarios.create(db, "bench", "Bench", GRAPH)
        scenarios.publish(db, "bench", "bench")
        scenarios.bind(db, ENGINE_DNIS, scenario="bench")
    finally:
        db.close()
    for account, balance in ACCOUNTS.items():
        appliance.mgr.send_action({"Action": "DBPut", "Family": "korund-bench", "Key": account, "Val": balance})
    extensions = appliance.inst.etc / "extensions.conf"
    with extensions.open("a") as f:
        f.write(plain_dialplan(sounds))
    appliance.cli("dialplan reload")
    shown = "\n".join(appliance.cli(f"dialplan show {PLAIN_DNIS}@korund-inbound"))
    if "korund-bench-plain" not in shown:
        raise RuntimeError(f"the baseline dialplan did not load:\n{shown}")


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu_model": cpu, "kernel": platform.release(),
            "load_average_at_start": os.getloadavg()}


def ratio(a, b):
    return round(a / b, 2) if a is not None and b else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=60, help="concurrent calls per batch (default 60)")
    ap.add_argument("--ramp", type=float, default=2.0, help="seconds over which a batch's calls are placed")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    info = machine()
    appliance, carrier = start_pair(rootfs_path(), "bench-ivr", APPLIANCE_ADDR, CARRIER_ADDR, rtp=RTP)
    try:
        info["asterisk"] = next((l for l in appliance.cli("core show version") if l.strip()), "")
        prepare(appliance)
        services = appliance.services()
        pids = {name: services[name]["pid"] for name in ("asterisk", "agi", "events")}
        # A few calls of each first, not counted: caches, the first forks, AstDB pages.
        for dnis, engine in ((PLAIN_DNIS, False), (ENGINE_DNIS, True)):
            run_batch(appliance, carrier, pids, dnis, 2, 0.5, 900000, engine)
        plain = run_batch(appliance, carrier, pids, PLAIN_DNIS, args.calls, args.ramp, 0, False)
        eng = run_batch(appliance, carrier, pids, ENGINE_DNIS, args.calls, args.ramp, 100000, True)
    finally:
        leftovers = stop_pair(appliance, carrier)
    overhead = (eng["step"]["p99_ms"] - plain["step"]["p99_ms"]
                if eng["step"]["p99_ms"] is not None and plain["step"]["p99_ms"] is not None else None)
    cpu_ratio = ratio(eng["cpu_per_call_ms"], plain["cpu_per_call_ms"])
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": info, "calls": args.calls, "ramp_s": args.ramp,
        "engine": eng, "dialplan": plain,
        "ratios": {"step_p50": ratio(eng["step"]["p50_ms"], plain["step"]["p50_ms"]),
                   "step_p99": ratio(eng["step"]["p99_ms"], plain["step"]["p99_ms"]),
                   "cpu_per_call": cpu_ratio},
        "engine_overhead_p99_ms": round(overhead, 2) if overhead is not None else None,
        "targets": {"overhead_p99_ms_under": TARGET_P99_MS, "cpu_ratio_under": TARGET_CPU_RATIO,
                    "overhead_met": overhead is not None and overhead < TARGET_P99_MS,
                    "cpu_met": cpu_ratio is not None and cpu_ratio < TARGET_CPU_RATIO},
        "leftover_processes": leftovers,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"written: {args.out}")
    ok = all(b["completed"] == b["calls"] and not any(b["channels_left"].values())
             for b in (eng, plain)) and not leftovers
    return 0 if ok else 1


def print_table(r: dict) -> None:
    e, p = r["engine"], r["dialplan"]

    def f(v, unit=""):
        return "-" if v is None else f"{v:.2f}{unit}"
    rows = [
        ("calls completed / placed", f"{e['completed']}/{e['calls']}", f"{p['completed']}/{p['calls']}", ""),
        ("peak concurrent calls", str(e["peak_concurrent_calls"]), str(p["peak_concurrent_calls"]), ""),
        ("AGI unreachable: dialplan fallback", str(e["agi_fallbacks"]), "-", ""),
        ("steps measured", str(e["step"]["n"]), str(p["step"]["n"]), ""),
        ("key -> next prompt p50 ms", f(e["step"]["p50_ms"]), f(p["step"]["p50_ms"]), f(r["ratios"]["step_p50"], "x")),
        ("key -> next prompt p99 ms", f(e["step"]["p99_ms"]), f(p["step"]["p99_ms"]), f(r["ratios"]["step_p99"], "x")),
        ("CPU per call ms", f(e["cpu_per_call_ms"]), f(p["cpu_per_call_ms"]), f(r["ratios"]["cpu_per_call"], "x")),
        ("  of which asterisk", f(e["cpu_per_call_ms_parts"]["asterisk"]),
         f(p["cpu_per_call_ms_parts"]["asterisk"]), ""),
        ("  of which FastAGI server", f(e["cpu_per_call_ms_parts"]["agi_server"]),
         f(p["cpu_per_call_ms_parts"]["agi_server"]), ""),
        ("  of which FastAGI call process", f(e["cpu_per_call_ms_parts"]["agi_calls"]),
         f(p["cpu_per_call_ms_parts"]["agi_calls"]), ""),
        ("events process (not counted)", f(e["cpu_per_call_ms_parts"]["events"]),
         f(p["cpu_per_call_ms_parts"]["events"]), ""),
        ("channels left (appl/carrier)", "{appliance}/{carrier}".format(**e["channels_left"]),
         "{appliance}/{carrier}".format(**p["channels_left"]), ""),
    ]
    print(f"\nIVR concurrency, {r['calls']} calls per batch, {r['machine']['cpus']} CPUs, {r['date']}")
    print(f"{'':32} {'engine':>10} {'dialplan':>10} {'ratio':>7}")
    for name, a, b, c in rows:
        print(f"{name:32} {a:>10} {b:>10} {c:>7}")
    print(f"engine step split p50/p99 ms: Asterisk returns the key {f(e['asterisk_part']['p50_ms'])}/"
          f"{f(e['asterisk_part']['p99_ms'])}, FastAGI turn-around {f(e['agi_turnaround']['p50_ms'])}/"
          f"{f(e['agi_turnaround']['p99_ms'])}; AGI connect {f(e['agi_connect']['p50_ms'])}/"
          f"{f(e['agi_connect']['p99_ms'])}")
    for name, b in (("engine", e), ("dialplan", p)):
        if b["peak_concurrent_calls"] < b["calls"]:
            print(f"warning: the {name} batch peaked at {b['peak_concurrent_calls']} concurrent calls "
                  f"(placed in {b['placed_in_s']} s); use a shorter --ramp")
    if e["completed"] < e["calls"]:
        print(f"warning: {e['calls'] - e['completed']} engine calls did not walk the flow "
              f"({e['agi_fallbacks']} could not reach the FastAGI server and were queued by the "
              f"dialplan fallback): the engine's CPU per call includes them and is not comparable")
    t = r["targets"]
    print(f"target p99 engine overhead < {t['overhead_p99_ms_under']:.0f} ms: "
          f"{f(r['engine_overhead_p99_ms'])} ms -> {'met' if t['overhead_met'] else 'NOT met'}")
    print(f"target CPU per call < {t['cpu_ratio_under']}x dialplan: "
          f"{f(r['ratios']['cpu_per_call'], 'x')} -> {'met' if t['cpu_met'] else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())

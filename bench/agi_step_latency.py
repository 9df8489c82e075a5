"""AGI step latency against plain dialplan, on real Asterisk.

Places sequential calls through a sandboxed appliance (the same set-up as the
telephony tests) and reads the appliance's AMI events, which carry Asterisk's
own timestamps:

- AGI step: from one AGI command's end (AGIExecEnd) to the next command's
  start (AGIExecStart) on the same channel: the FastAGI server's turn-around
  (socket round trip, pyst2 parsing, our code, the database).
- Baseline: from one dialplan priority (Newexten) to the next within the
  plain-dialplan part of the same call (korund-inbound's Set() lines before
  the AGI), i.e. what the same step costs with no AGI at all.
- Connect: the time from the call's channel appearing to the FastAGI
  session's first command (AGIExecStart of ANSWER), i.e. the connection set-up.

Prints medians and the ratio AGI step / dialplan step. Run: make bench
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import rootfs_path, start_pair, stop_pair  # noqa: E402

CALLS = int(sys.argv[1]) if len(sys.argv) > 1 else 10


def median_ms(values):
    return statistics.median(values) * 1000 if values else float("nan")


def main() -> int:
    appliance, carrier = start_pair(rootfs_path(), "bench", "127.0.0.21", "127.0.0.22", rtp=14000)
    try:
        for ext in ("1001", "1002"):
            carrier.phone(ext, "answer")
        agi_steps, plan_steps, connects = [], [], []
        for i in range(CALLS):
            mark = appliance.events.mark()
            call = carrier.call(ani=f"49500000{i:02d}", hold=7)
            call.answered_by_phone()
            call.ended()
            time.sleep(0.5)
            events = appliance.events.events[mark:]
            chan = next(e["Channel"] for e in events if e.get("Event") == "Newchannel"
                        and e.get("Context") == "korund-inbound")
            mine = [e for e in events if e.get("Channel") == chan]
            t = lambda e: float(e["Timestamp"])  # noqa: E731
            exten = [e for e in mine if e.get("Event") == "Newexten"
                     and e.get("Context") == "korund-inbound"]
            before_agi = [e for e in exten if e.get("Application") == "Set"]
            before_agi = before_agi[:next((k for k, e in enumerate(exten)
                                          if e.get("Application") == "AGI"), len(exten))]
            plan_steps += [t(b) - t(a) for a, b in zip(before_agi, before_agi[1:])]
            agi = [e for e in mine if e.get("Event") in ("AGIExecStart", "AGIExecEnd")]
            for a, b in zip(agi, agi[1:]):
                if a["Event"] == "AGIExecEnd" and b["Event"] == "AGIExecStart":
                    agi_steps.append(t(b) - t(a))
            start = next(e for e in mine if e.get("Event") == "Newchannel")
            first = next(e for e in agi if e["Event"] == "AGIExecStart")
            connects.append(t(first) - t(start))
        agi_ms, plan_ms = median_ms(agi_steps), median_ms(plan_steps)
        print(f"calls: {CALLS}")
        print(f"plain dialplan step   median {plan_ms:8.3f} ms  (n={len(plan_steps)})")
        print(f"FastAGI step          median {agi_ms:8.3f} ms  (n={len(agi_steps)})")
        print(f"call start -> 1st AGI median {median_ms(connects):8.3f} ms  (n={len(connects)})")
        print(f"ratio AGI step / dialplan step: {agi_ms / plan_ms:.1f}x")
    finally:
        stop_pair(appliance, carrier)
    return 0


if __name__ == "__main__":
    sys.exit(main())

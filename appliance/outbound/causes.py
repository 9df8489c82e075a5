"""What became of a call out, in words, from its Q.850 cause (ITU-T Q.850,
the causes Asterisk reports in HANGUPCAUSE and the Hangup event's Cause).

``outcome`` sorts a cause into the few outcomes an operator or a report
speaks of; ``text`` names the cause itself. Both are English keys, shown
translated by the panel.
"""
from __future__ import annotations

OUTCOMES = ("answered", "busy", "no-answer", "congestion", "number-invalid", "rejected", "failed")

# The cause numbers of each outcome; anything else is "failed".
_BY_CAUSE = {
    16: "answered",        # normal clearing (after an answer)
    17: "busy",
    18: "no-answer", 19: "no-answer", 20: "no-answer",    # no user responding, no answer, subscriber absent
    1: "number-invalid", 3: "number-invalid", 22: "number-invalid", 28: "number-invalid",
    21: "rejected", 29: "rejected", 55: "rejected", 57: "rejected", 87: "rejected",
    34: "congestion", 38: "congestion", 41: "congestion", 42: "congestion", 44: "congestion",
    47: "congestion", 27: "congestion",
}

TEXTS = {
    1: "unallocated number", 3: "no route to destination", 16: "normal clearing", 17: "user busy",
    18: "no user responding", 19: "no answer", 20: "subscriber absent", 21: "call rejected",
    22: "number changed", 27: "destination out of order", 28: "invalid number format",
    29: "facility rejected", 31: "normal, unspecified", 34: "no circuit available",
    38: "network out of order", 41: "temporary failure", 42: "switching equipment congestion",
    44: "requested circuit not available", 47: "resource unavailable", 55: "incoming calls barred",
    57: "bearer capability not authorized", 58: "bearer capability not available",
    87: "not a member of the closed user group", 102: "recovery on timer expiry",
    127: "interworking, unspecified",
}

# Dial's DIALSTATUS when no cause came back (an answered call ends with 16).
_BY_DIALSTATUS = {"ANSWER": "answered", "BUSY": "busy", "NOANSWER": "no-answer", "CONGESTION": "congestion",
                  "CHANUNAVAIL": "congestion", "REFUSED": "rejected"}

# DIALSTATUS values after which the next trunk group is tried: the number
# was not refused by the far end, the way there was full or broken.
FAILOVER_DIALSTATUS = ("CONGESTION", "CHANUNAVAIL")


def outcome(cause, dialstatus: str = "") -> str:
    """'busy', 'no-answer', ... of a cause (an int or its digits); the
    DIALSTATUS decides when the cause is missing or says only 'normal'."""
    try:
        number = int(cause)
    except (TypeError, ValueError):
        number = 0
    if dialstatus == "ANSWER":
        return "answered"
    if number in _BY_CAUSE and not (number == 16 and dialstatus):
        return _BY_CAUSE[number]
    return _BY_DIALSTATUS.get(dialstatus, "failed")


def text(cause) -> str:
    try:
        number = int(cause)
    except (TypeError, ValueError):
        return ""
    return TEXTS.get(number, f"cause {number}")

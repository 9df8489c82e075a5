"""Waiting for something the test can observe: the one polling loop of the
test suite.

Used on the host (tests/harness.py, tests/web, tests/hw) and inside the VM
(tests/guest, imported through the checkout at /opt/korund/src), so it needs
the standard library only.
"""
from __future__ import annotations

import time

# How much of the last value a timeout's message shows.
_SHOWN = 500


class WaitTimeout(AssertionError):
    """What ``wait_for`` raises when the awaited thing never came. An
    AssertionError, so pytest and the guest runner report it as a failed
    check, with its message: what was awaited, for how long, and the last
    value (or exception) the condition gave."""


def wait_for(condition, timeout: float = 30, interval: float = 0.2, *, what: str,
             ignoring: type[BaseException] | tuple[type[BaseException], ...] = ()):
    """Call ``condition()`` every *interval* seconds until it returns something
    true, and return that; after *timeout* seconds raise WaitTimeout naming
    *what* was awaited.

    An exception from ``condition()`` ends the wait at once, unless it is one of
    *ignoring*: then it counts as "not yet" (a service still starting) and,
    should time run out, the message shows the last one."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = condition()
        except ignoring as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            shown = repr(last)
            if len(shown) > _SHOWN:
                shown = shown[:_SHOWN] + "..."
            raise WaitTimeout(f"timed out after {timeout:g} s waiting for {what} (last: {shown})")
        time.sleep(interval)

"""AGI scripts by name: ``agi://host:port/<name>`` runs ``SCRIPTS[name]``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

SCRIPTS: dict[str, Callable] = {}


@dataclass
class CallContext:
    """What a script gets besides the AGI channel: its clients, passed in."""
    db: object
    settings: dict[str, str]
    sounds: Path
    # Takes (uniqueid, seq, step) rows of call_steps to write later, off the
    # call's path (appliance.agi.server.StepWriter); None: write at once.
    step_sink: Callable | None = None


def script(name: str):
    def register(fn):
        SCRIPTS[name] = fn
        return fn
    return register

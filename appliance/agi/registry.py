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


def script(name: str):
    def register(fn):
        SCRIPTS[name] = fn
        return fn
    return register

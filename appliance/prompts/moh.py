"""Music on hold: Korund's own class, synthesised by sox at ``korund init``.

Callers waiting in a group's queue (unless the group rings instead) and
callers on hold during an attended transfer hear it. The music is a calm
sequence of soft three-note chords (I–V–vi–IV, twice), about 30 s of 8 kHz
mono WAV that Asterisk loops. It is Asterisk's ``default`` class, so every
hold (Queue, a transfer's consultation) uses it without naming it.

An administrator may put their own 8 kHz mono WAV files into the class's
directory (``<instance>/moh/default``) next to the generated one; Asterisk
plays the files in name order.
"""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from appliance.base.instance import Instance
from appliance.prompts.store import limited

CLASS = "default"            # Asterisk's default class: every hold plays it
RINGING = "ringing"          # a group's callers hear ringing instead
CHOICES = (CLASS, RINGING)
FILE = "korund-chords.wav"
CHORD_SECONDS = 3.75
# Chord tones (Hz): C, G, Am, F in a low register, then again; none is near
# the tones the telephony tests give the simulated phones.
CHORDS = [
    (261.63, 329.63, 392.00), (196.00, 246.94, 293.66), (220.00, 261.63, 329.63), (174.61, 220.00, 261.63),
] * 2
TIMEOUT = 60


def directory(inst: Instance) -> Path:
    return inst.base / "moh" / CLASS


def conf(inst: Instance) -> str:
    """musiconhold.conf: the class playing the files of its directory."""
    return f"""[general]

[{CLASS}]
mode = files
directory = {directory(inst)}
sort = alpha
"""


def _chord_command(notes, target: Path) -> list[str]:
    # sox mixes several synth tones into the one output channel.
    synth = [w for f in notes for w in ("sine", f"{f:.2f}")]
    return ["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(target), "synth", str(CHORD_SECONDS), *synth,
            "fade", "q", "0.3", str(CHORD_SECONDS), "0.6", "vol", "0.35"]


def generate(inst: Instance, force: bool = False) -> Path | None:
    """Write the music file (once; again with *force*). None when sox is not
    there (it is in the appliance's root filesystem): the class then plays
    whatever files the directory has."""
    folder = directory(inst)
    target = folder / FILE
    if target.exists() and not force:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    folder.parent.chmod(0o755)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            parts = []
            for i, notes in enumerate(CHORDS):
                part = Path(tmp) / f"{i}.wav"
                subprocess.run(limited(_chord_command(notes, part)), check=True, capture_output=True,
                               timeout=TIMEOUT)
                parts.append(str(part))
            partial = folder / (FILE + ".part")
            subprocess.run(limited(["sox", *parts, "-t", "wav", str(partial)]), check=True, capture_output=True,
                           timeout=TIMEOUT)
            partial.chmod(0o644)
            partial.replace(target)
    except FileNotFoundError:   # no prlimit
        return None
    except subprocess.CalledProcessError as exc:
        if exc.returncode == 127:   # prlimit found no sox
            return None
        raise
    return target

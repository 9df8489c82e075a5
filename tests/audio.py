"""What a caller heard, from the carrier side's recording (8 kHz WAV).

Plain-Python signal checks: the RMS envelope (to match a prompt against the
prompt file it should be) and Goertzel tone power (to tell which phone's test
tone came through).
"""
from __future__ import annotations

import math
import wave
from array import array
from pathlib import Path

RATE = 8000


def samples(path: Path) -> array:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, f"{path}: expected 16-bit mono"
        data = array("h", w.readframes(w.getnframes()))
        if w.getframerate() != RATE:
            step = w.getframerate() / RATE
            data = array("h", (data[int(i * step)] for i in range(int(len(data) / step))))
    return data


def windows(data: array, seconds: float = 0.05):
    n = int(RATE * seconds)
    for i in range(0, len(data) - n + 1, n):
        yield data[i:i + n]


def rms(frame) -> float:
    return math.sqrt(sum(x * x for x in frame) / len(frame)) if len(frame) else 0.0


def envelope(data: array, seconds: float = 0.05) -> list[float]:
    return [rms(w) for w in windows(data, seconds)]


def tone_share(frame, freq: float) -> float:
    """Share of the frame's energy at *freq* (Goertzel), 0..1."""
    k = 2 * math.cos(2 * math.pi * freq / RATE)
    s1 = s2 = 0.0
    for x in frame:
        s1, s2 = x + k * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - k * s1 * s2
    energy = sum(x * x for x in frame) * len(frame) / 2
    return power / energy if energy else 0.0


def tone_seconds(data: array, freq: float, threshold: float = 0.6) -> float:
    """How many seconds of *data* carry a clean tone at *freq*."""
    return sum(0.05 for w in windows(data) if rms(w) > 200 and tone_share(w, freq) > threshold)


def first_tone_at(data: array, freq: float, threshold: float = 0.6) -> float | None:
    for i, w in enumerate(windows(data)):
        if rms(w) > 200 and tone_share(w, freq) > threshold:
            return i * 0.05
    return None


def longest_silence(data: array, level: float = 50) -> tuple[float, float]:
    """(start, length) in seconds of the longest run of 50 ms windows
    quieter than *level* (a paused recording's silent stretch)."""
    best, run = (0.0, 0.0), None
    env = envelope(data) + [float("inf")]
    for i, rms_level in enumerate(env):
        if rms_level < level and run is None:
            run = i
        elif rms_level >= level and run is not None:
            if (i - run) * 0.05 > best[1]:
                best = (run * 0.05, (i - run) * 0.05)
            run = None
    return best


def correlation(a: list[float], b: list[float]) -> float:
    n = min(len(a), len(b))
    if n < 2:
        return 0.0
    a, b = a[:n], b[:n]
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    va = math.sqrt(sum((x - ma) ** 2 for x in a))
    vb = math.sqrt(sum((y - mb) ** 2 for y in b))
    return cov / (va * vb) if va and vb else 0.0


def find_prompt(heard: array, prompt: array, max_offset: float = 3.0,
                step: float = 0.01) -> tuple[float, float]:
    """Best (correlation, offset in seconds) of *prompt*'s envelope in *heard*,
    trying offsets *step* seconds apart."""
    p = envelope(prompt)
    best = (0.0, 0.0)
    for k in range(int(max_offset / step) + 1):
        start = int(k * step * RATE)
        h = envelope(heard[start:start + len(prompt)])
        if len(h) >= len(p) * 0.9:
            c = correlation(h, p)
            if c > best[0]:
                best = (c, k * step)
    return best

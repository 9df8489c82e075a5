"""Number patterns of outbound routes, written as Asterisk writes them:
``X`` any digit, ``Z`` 1-9, ``N`` 2-9, ``[1-5,8]`` a set, other digits and a
leading ``+`` as themselves, and at the end ``.`` (one or more digits more)
or ``!`` (none or more). A leading ``_`` is accepted and dropped.

A pattern is parsed into one set of characters per position and a tail, so
that two routes' patterns can be compared: ``overlap`` gives a number both
match (or None), which is how overlapping routes are refused with an example
instead of one silently shadowing the other.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from appliance.base.errors import ConfigError

DIGITS = frozenset("0123456789")
CLASSES = {"X": DIGITS, "Z": frozenset("123456789"), "N": frozenset("23456789")}
MAX_LENGTH = 32          # characters of a written pattern
MAX_DIGITS = 20          # the longest number Korund dials (appliance.outbound.policy.NUMBER)


@dataclass(frozen=True)
class Pattern:
    text: str                           # as written, without a leading _
    sets: tuple[frozenset, ...]         # one per fixed position
    tail: str = ""                      # "", "." (one or more digits) or "!" (none or more)

    @property
    def shortest(self) -> int:
        return len(self.sets) + (1 if self.tail == "." else 0)

    def matches(self, number: str) -> bool:
        n = len(self.sets)
        if len(number) < n or any(ch not in s for ch, s in zip(number, self.sets)):
            return False
        rest = number[n:]
        if not self.tail:
            return not rest
        if self.tail == "." and not rest:
            return False
        return all(ch in DIGITS for ch in rest)

    def example(self) -> str:
        """The shortest number the pattern matches (the smallest digit at each place)."""
        return "".join(min(s) for s in self.sets) + ("0" if self.tail == "." else "")


def _set(body: str, text: str) -> frozenset:
    """[1-689] = 1 to 6, 8 and 9 (a comma between parts is allowed too)."""
    if not re.fullmatch(r"([0-9](-[0-9])?,?)+", body):
        raise ConfigError("patterns", "'{pattern}': [{set}] may hold only digits and ranges such as 1-5",
                          pattern=text, set=body)
    chars: set[str] = set()
    for lo, hi in re.findall(r"([0-9])(?:-([0-9]))?", body):
        if hi and lo > hi:
            raise ConfigError("patterns", "'{pattern}': the range {range} runs backwards",
                              pattern=text, range=f"{lo}-{hi}")
        chars |= {chr(c) for c in range(ord(lo), ord(hi or lo) + 1)}
    return frozenset(chars)


def parse(text) -> Pattern:
    """One pattern, or a ConfigError saying what is wrong with it (on the
    field ``patterns``)."""
    raw = str(text or "").strip()
    body = raw.removeprefix("_")
    if not body:
        raise ConfigError("patterns", "a pattern may not be empty")
    if len(body) > MAX_LENGTH:
        raise ConfigError("patterns", "'{pattern}' is longer than {limit} characters", pattern=raw,
                          limit=MAX_LENGTH)
    sets: list[frozenset] = []
    tail = ""
    i = 0
    while i < len(body):
        ch = body[i]
        if tail:
            raise ConfigError("patterns", "'{pattern}': {tail} may only end a pattern", pattern=raw, tail=tail)
        if ch == "+":
            if i != 0:
                raise ConfigError("patterns", "'{pattern}' can never match: + may only begin a number",
                                  pattern=raw)
            sets.append(frozenset("+"))
        elif ch.isdigit():
            sets.append(frozenset(ch))
        elif ch.upper() in CLASSES:
            sets.append(CLASSES[ch.upper()])
        elif ch == "[":
            end = body.find("]", i)
            if end < 0:
                raise ConfigError("patterns", "'{pattern}': a [ without its ]", pattern=raw)
            inner = body[i + 1:end]
            if not inner:
                raise ConfigError("patterns", "'{pattern}' can never match: [] is an empty set", pattern=raw)
            sets.append(_set(inner, raw))
            i = end
        elif ch in ".!":
            tail = ch
        else:
            raise ConfigError("patterns", "'{pattern}': '{char}' is not allowed (digits, +, X, Z, N, [ ], . and !)",
                              pattern=raw, char=ch)
        i += 1
    pattern = Pattern(body, tuple(sets), tail)
    digits = sum(1 for s in sets if s != frozenset("+"))
    if digits + (1 if tail == "." else 0) > MAX_DIGITS or (digits == 0 and tail != "."):
        raise ConfigError("patterns", "'{pattern}' can never match a phone number (1 to {limit} digits)",
                          pattern=raw, limit=MAX_DIGITS)
    return pattern


def _at(p: Pattern, i: int) -> frozenset | None:
    """What p accepts at position i (None: p has ended there)."""
    if i < len(p.sets):
        return p.sets[i]
    return DIGITS if p.tail else None


def _accepts_length(p: Pattern, length: int) -> bool:
    n = len(p.sets)
    return length == n if not p.tail else length >= n + (1 if p.tail == "." else 0)


def overlap(a: Pattern, b: Pattern) -> str | None:
    """A number both patterns match, or None. Beyond both fixed parts only
    tails remain, so lengths up to one more than the longer part decide."""
    longest = max(len(a.sets), len(b.sets))
    for length in range(1, longest + 2):
        if not (_accepts_length(a, length) and _accepts_length(b, length)):
            continue
        out = []
        for i in range(length):
            sa, sb = _at(a, i), _at(b, i)
            both = (sa & sb) if sa is not None and sb is not None else frozenset()
            if not both:
                break
            out.append(min(both))
        else:
            return "".join(out)
    return None

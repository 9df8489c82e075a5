"""Password hashes: scrypt from the standard library, stored as
``scrypt:N:r:p$salt$hex`` -- the form the panel has always written, so
hashes made before stay valid -- and compared in constant time.

Each check costs 32 MiB and about 0.1 s, so at most ``MAX_HASHING`` run at
once in a process: parallel login attempts queue instead of exhausting the
appliance's memory."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import threading

# 2^15 iterations, 8-byte blocks, no parallelism: 32 MiB and about 0.1 s per
# check on the appliance, dear enough to slow a guesser holding the database.
N, R, P = 2 ** 15, 8, 1
SALT_ALPHABET = string.ascii_letters + string.digits
MAX_HASHING = 2
HASHING_WAIT = 30.0

_hashing = threading.BoundedSemaphore(MAX_HASHING)


class Busy(Exception):
    """Too many password checks are waiting; try again shortly."""


def _scrypt(password: str, salt: str, n: int, r: int, p: int) -> str:
    if not _hashing.acquire(timeout=HASHING_WAIT):
        raise Busy()
    try:
        # hashlib's default memory cap (32 MiB) is exactly what N=2^15, r=8
        # needs and is refused: allow a little more
        return hashlib.scrypt(password.encode("utf-8"), salt=salt.encode("utf-8"), n=n, r=r, p=p,
                              maxmem=132 * n * r * p).hex()
    finally:
        _hashing.release()


def make(password: str) -> str:
    salt = "".join(secrets.choice(SALT_ALPHABET) for _ in range(16))
    return f"scrypt:{N}:{R}:{P}${salt}${_scrypt(password, salt, N, R, P)}"


def matches(stored: str, password: str) -> bool:
    """Whether *password* is the one *stored* was made from; an unreadable
    hash matches nothing."""
    try:
        method, salt, digest = stored.split("$", 2)
        kind, n, r, p = method.split(":")
        if kind != "scrypt":
            return False
        got = _scrypt(password, salt, int(n), int(r), int(p))
    except (ValueError, AttributeError):
        return False
    return hmac.compare_digest(got, digest)


# A hash of the same cost that no password matches (its digest is not one
# scrypt gives for this salt in practice): checking against it is exactly
# one real check, with nothing to compute first.
_DECOY = f"scrypt:{N}:{R}:{P}$decoysaltdecoysa${'0' * 128}"


def spend_a_check(password: str) -> None:
    """The cost of one real check, for a user name that does not exist, so the
    time taken does not tell which names do."""
    matches(_DECOY, password)

"""Which operator group a call goes to."""
from __future__ import annotations


def choose_group(db, ani: str | None, dnis: str | None) -> str | None:
    """The group for a call from *ani* to *dnis*: for now the default group.

    (The ACD issue adds rules on ANI, DNIS and what the caller chose.)
    """
    row = db.execute("SELECT name FROM groups WHERE is_default = 1").fetchone()
    return row[0] if row else None

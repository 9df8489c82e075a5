"""The demo configuration `make run` starts with: a SIP trunk standing in for
the E1, and two operators whose phones the PSTN simulator plays."""
from __future__ import annotations

from . import model


def seed(db, carrier_host: str = "127.0.0.2", carrier_port: int = 5060) -> bool:
    """Fill an empty store with the demo; leave a configured one alone."""
    if db.execute("SELECT COUNT(*) FROM trunks").fetchone()[0]:
        return False
    with db.atomic():
        model.add_sip_trunk(db, "pstn", carrier_host, carrier_port)
        model.add_group(db, "support", "Support", is_default=True)
        for ext, name in (("1001", "Anna Ivanova"), ("1002", "Boris Petrov")):
            model.add_operator(db, ext, name, contact=f"sip:{ext}@{carrier_host}:{carrier_port}")
            model.add_member(db, "support", ext)
    return True

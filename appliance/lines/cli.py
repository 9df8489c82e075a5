"""``korund trunk NAME HOST[:PORT]``: point a SIP trunk at a carrier and
apply (appliance.lines.trunks)."""
from __future__ import annotations

from appliance.lines import trunks as sip_trunks


def add_parser(sub, apply) -> None:
    """*apply* is ``korund apply`` as a command, ``(args, inst) -> exit
    status``: rendering and reloading sit above the features, so the caller
    hands it in."""
    s = sub.add_parser("trunk", help="point a SIP trunk at a carrier address and apply")
    s.add_argument("name")
    s.add_argument("address", help="HOST[:PORT]")
    s.set_defaults(fn=lambda args, inst: trunk(args, inst, apply))


def trunk(args, inst, apply) -> int:
    db = inst.open_store()
    host, _, port = args.address.partition(":")
    sip_trunks.update_sip_trunk(db, args.name, host, port or 5060)
    return apply(args, inst)

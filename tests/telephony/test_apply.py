"""Config changes reach a running Asterisk with a reload; a set Asterisk
rejects is rolled back and calls keep working."""
from __future__ import annotations

import textwrap

from tests.harness import in_root

APPLY_BROKEN = textwrap.dedent("""
    import sys
    from appliance import apply, render
    from appliance.base import ami, store
    from appliance.base.instance import Instance
    from appliance.render import config as render_config
    inst = Instance.at(sys.argv[1])
    db = inst.open_store()
    files = render.render_all(render_config.load(db), inst)
    # A dialplan Asterisk cannot parse: an unterminated context header.
    files["extensions.conf"] = files["extensions.conf"].replace("[korund-route]", "[korund-route")
    mgr = ami.connect(store.settings(db))
    try:
        apply.apply(inst, db, mgr, files=files)
    except apply.ApplyError as exc:
        print("REFUSED:", exc)
    else:
        print("ACCEPTED")
    mgr.close()
""")


def test_a_rejected_config_is_rolled_back(appliance, carrier):
    good = (appliance.host_base / "etc" / "asterisk" / "extensions.conf").read_text()
    out = in_root("/opt/korund/venv/bin/python", "-c", APPLY_BROKEN, appliance.base).stdout
    assert "REFUSED:" in out, out
    assert "no closing ']'" in out and "extensions.conf" in out
    assert (appliance.host_base / "etc" / "asterisk" / "extensions.conf").read_text() == good
    # Calls still route after the rollback.
    before = appliance.last_call_id()
    call = carrier.call(ani="4953334455", hold=8)
    call.answered_by_phone()
    call.ended()
    assert appliance.call_row(ani="4953334455", since_id=before)["outcome"] == "answered"


def test_a_changed_carrier_address_is_applied_with_a_reload(appliance, carrier):
    base = appliance.base
    try:
        out = in_root("korund", "-i", base, "trunk", "pstn", "127.0.0.99:5070").stdout
        assert "applied" in out
        assert "127.0.0.99" in "\n".join(appliance.cli("pjsip show identify pstn"))
        bad = in_root("korund", "-i", base, "trunk", "pstn", "not a host;", check=False)
        assert bad.returncode == 2 and "not an IP address or host name" in bad.stderr
    finally:
        in_root("korund", "-i", base, "trunk", "pstn", f"{carrier.address}:5060")
    assert carrier.address in "\n".join(appliance.cli("pjsip show identify pstn"))

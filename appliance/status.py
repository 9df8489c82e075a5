"""What the appliance is doing now: services, Asterisk, trunks, calls, disk."""
from __future__ import annotations

import re
import shutil

from appliance.base import ami, store, supervisor
from appliance.base.instance import Instance
from appliance.render import config as render_config


def collect(inst: Instance, db) -> dict:
    settings = store.settings(db)
    config = render_config.load(db)
    result = {
        "services": supervisor.status(inst),
        "asterisk": {"up": False},
        "trunks": [{"name": t.name, "kind": t.kind, "host": t.host, "port": t.port,
                    "state": "unknown"} for t in config.trunks],
        "operators": [{"extension": o.extension, "name": o.name, "state": "unknown"}
                      for o in config.operators],
        "calls_now": None,
        "disk": dict(zip(("total", "used", "free"), shutil.disk_usage(inst.base))),
        "calls_today": db.execute(
            "SELECT COUNT(*) FROM calls WHERE started_at >= date('now')").fetchone()[0],
    }
    try:
        mgr = ami.connect(settings, timeout=1)
    except ami.AmiError:
        return result
    try:
        core = mgr.send_action({"Action": "CoreStatus"})
        version = ami.command(mgr, "core show version")
        result["asterisk"] = {
            "up": True,
            "version": version[0] if version else "",
            "started": f"{core.get_header('CoreStartupDate')} {core.get_header('CoreStartupTime')}",
            "reloaded": f"{core.get_header('CoreReloadDate')} {core.get_header('CoreReloadTime')}",
        }
        result["calls_now"] = int(core.get_header("CoreCurrentCalls") or 0)
        endpoints = "\n".join(ami.command(mgr, "pjsip show endpoints"))
        states = dict(re.findall(r"Endpoint:\s+(\S+?)(?:/\S+)?\s+(Not in use|In use|Unavailable|Busy|Ringing|Invalid|On Hold|Ring\+Inuse)", endpoints))
        for row in result["trunks"] + result["operators"]:
            key = row.get("name") if "kind" in row else row["extension"]
            row["state"] = states.get(key, "missing")
    finally:
        ami.close(mgr)
    return result

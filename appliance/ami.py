"""A thin layer over pyst2's AMI client for the parts Korund uses."""
from __future__ import annotations

import time

from asterisk.manager import Manager, ManagerException, ManagerSocketException


class AmiError(RuntimeError):
    pass


def connect(settings: dict[str, str], timeout: float = 10.0) -> Manager:
    """Log in to the instance's AMI, retrying until *timeout* seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        mgr = Manager()
        try:
            mgr.connect(settings["net.address"], int(settings["ami.port"]))
            mgr.login(settings["ami.user"], settings["ami.secret"])
            return mgr
        except (ManagerSocketException, ManagerException, OSError) as exc:
            try:
                mgr.close()
            except Exception:  # noqa: BLE001 - a half-open client has nothing to close
                pass
            if time.monotonic() > deadline:
                raise AmiError(f"cannot log in to AMI at {settings['net.address']}:"
                               f"{settings['ami.port']}: {exc}") from exc
            time.sleep(0.3)


def command(mgr: Manager, cli: str) -> list[str]:
    """Run a CLI command; return its output lines.

    pyst2 keeps only the last ``Output:`` header, so read the raw lines.
    """
    resp = mgr.command(cli)
    lines = []
    for raw in resp.response:
        line = raw.rstrip("\r\n")
        if line.startswith("Output: "):
            lines.append(line[len("Output: "):])
        elif line == "Output:":
            lines.append("")
    return lines


def getvar(mgr: Manager, name: str, channel: str | None = None) -> str | None:
    resp = mgr.getvar(name, channel) if channel else mgr.send_action({"Action": "Getvar", "Variable": name})
    if resp.get_header("Response") != "Success":
        return None
    return resp.get_header("Value")

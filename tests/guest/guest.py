"""Helpers for the checks that run INSIDE the appliance VM (make vm-test).

The guest runner (tests/guest/run.py) imports tests/guest/check_*.py in name
order and runs their top-level ``check_*`` functions; a check passes when it
returns and fails when it raises (an AssertionError's message is the reason
shown on the console). The appliance is up when checks start: the instance
INSTANCE under supervisord (korund.service), real Asterisk, the real DAHDI
modules (korund-dahdi.service), the checkout under test at /opt/korund/src.

A check may set ``TIMEOUT = seconds`` in its module (default for all its
checks) or ``check_x.timeout = seconds`` on one function.
"""
from __future__ import annotations

import contextlib
import functools
import os
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from appliance.base import ami
from appliance.base import store
from appliance.base import supervisor
from appliance.base.instance import Instance
from tests import waiting
from tests.waiting import WaitTimeout  # noqa: F401 (the checks catch it as guest.WaitTimeout)

INSTANCE = Path("/var/lib/korund/appliance")
OUT = Path(os.environ.get("KORUND_OUT", "/var/korund-out"))   # copied to the host after poweroff
SRC = Path("/opt/korund/src")
DAHDI_ETC = Path(os.environ.setdefault("KORUND_DAHDI_ETC", "/etc/dahdi"))
# korund-firstboot turns HTTPS on; plain HTTP on 8080 only redirects there
PANEL = "https://127.0.0.1:8443"
PANEL_HTTP = "http://127.0.0.1:8080"


def panel_context() -> ssl.SSLContext:
    """A TLS context trusting the appliance's own certificate (made at first
    boot; its names include 127.0.0.1), so the checks verify it."""
    return ssl.create_default_context(cafile=str(INSTANCE / "tls" / "panel.crt"))


def instance() -> Instance:
    return Instance.at(INSTANCE)


def open_store():
    """The appliance's database (close it when done, or use ``with store_session()``)."""
    return instance().open_store()


@contextlib.contextmanager
def store_session():
    db = open_store()
    try:
        yield db
    finally:
        db.close()


def settings() -> dict[str, str]:
    with store_session() as db:
        return store.settings(db)


@contextlib.contextmanager
def ami_session(timeout: float = 30):
    """A logged-in AMI client (pyst2 Manager) of the appliance's Asterisk."""
    mgr = ami.connect(settings(), timeout=timeout, events=ami.ALL_EVENTS)
    try:
        yield mgr
    finally:
        ami.close(mgr)


def asterisk(cli: str, timeout: float = 30) -> str:
    """Run an Asterisk CLI command over AMI; its output as one string."""
    with ami_session(timeout) as mgr:
        return "\n".join(ami.command(mgr, cli))


def services() -> dict[str, dict]:
    """supervisord's view: {service: {'state': 'RUNNING', ...}}."""
    return supervisor.status(instance())


# tests/waiting.wait_for as the checks use it: every half second, and a probe
# that raises (a service still starting, Asterisk not answering yet) counts as
# "not yet"; WaitTimeout (an AssertionError) names what never came.
wait_for = functools.partial(waiting.wait_for, timeout=60, interval=0.5, ignoring=Exception)


def run(argv: list[str] | str, check: bool = True, timeout: float = 120,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a command (a list, or a string for the shell); output captured as
    text. With *check*, a non-zero exit raises AssertionError with the output."""
    full_env = dict(os.environ, **(env or {}))
    done = subprocess.run(argv, shell=isinstance(argv, str), capture_output=True, text=True,
                          timeout=timeout, env=full_env)
    if check and done.returncode != 0:
        raise AssertionError(f"{argv!r} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done


def korund(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """The ``korund`` command on the appliance instance."""
    return run(["/usr/local/bin/korund", "-i", str(INSTANCE), *args], check=check, timeout=timeout)


def http_get(path: str, timeout: float = 10, base: str = PANEL) -> tuple[int, str]:
    """GET a panel URL; (status, body). HTTP errors are returned, not raised."""
    try:
        context = panel_context() if base.startswith("https:") else None
        with urllib.request.urlopen(base + path, timeout=timeout, context=context) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def out_path(name: str) -> Path:
    """A path on the output disk (created folders); it comes out to the host
    in /var/cache/korund/vm-test/last/."""
    path = OUT / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path

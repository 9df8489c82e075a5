"""The appliance booted: services, the panel, the DAHDI modules and Asterisk's
chan_dahdi, the first-boot step, no compiler left in the image."""
from __future__ import annotations

import http.client
import re
import shutil
import socket
from pathlib import Path

import guest
from appliance.base import supervisor


def check_services_running():
    states = guest.wait_for(
        lambda: (lambda st: st if st and all(st.get(s, {}).get("state") == "RUNNING"
                                             for s in supervisor.SERVICES) else None)(guest.services()),
        timeout=120, what="every supervised service RUNNING")
    assert set(supervisor.SERVICES) <= set(states), states
    out = guest.run(["systemctl", "is-active", "korund.service", "korund-dahdi.service",
                     "korund-firstboot.service"], check=False)
    assert out.stdout.split() == ["active"] * 3, out.stdout


def check_panel_answers_on_all_addresses():
    _status, body = guest.wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
        guest.http_get("/setup")), timeout=60, what="the panel's first-visit page over HTTPS")
    assert "<form" in body and 'id="f-code"' in body, body[:500]   # it asks for the setup code
    # Plain HTTP only redirects to HTTPS.
    conn = http.client.HTTPConnection("127.0.0.1", 8080, timeout=10)
    try:
        conn.request("GET", "/setup")
        reply = conn.getresponse()
        assert reply.status == 301 and reply.getheader("Location") == guest.PANEL + "/setup", \
            (reply.status, reply.getheaders())
    finally:
        conn.close()
    # The panel listens on the LAN too (0.0.0.0:8443 and :8080), AMI and FastAGI only on loopback.
    listening = guest.run(["ss", "-Hltn"]).stdout
    for port in (8443, 8080):
        assert re.search(rf"(0\.0\.0\.0|\*):{port}\b", listening), (port, listening)
    for port in (guest.settings()["ami.port"], guest.settings()["agi.port"]):
        assert re.search(rf"127\.0\.0\.1:{port}\b", listening), (port, listening)
        assert not re.search(rf"(0\.0\.0\.0|\*):{port}\b", listening), (port, listening)


def check_the_setup_code_is_on_the_console():
    """The first boot printed the code the panel's first visit needs, and
    `korund setup-code` prints the same one."""
    code = guest.run(["korund", "-i", str(guest.INSTANCE), "setup-code"]).stdout.strip()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code), code
    boot = guest.run(["journalctl", "-b", "-u", "korund-firstboot.service", "--no-pager"]).stdout
    assert f"setup code {code}" in boot, boot[-2000:]
    assert code in Path("/etc/issue.d/korund-setup-code.issue").read_text()


def check_dahdi_modules_loaded():
    modules = {line.split()[0] for line in Path("/proc/modules").read_text().splitlines()}
    assert "dahdi" in modules, sorted(modules)
    assert Path("/dev/dahdi/ctl").exists(), "no /dev/dahdi/ctl"
    assert Path("/sys/module/dahdi/parameters/auto_assign_spans").read_text().strip() == "1"


def _module(action: str) -> str:
    # AMI refuses the CLI's "module load"; its ModuleLoad action does it.
    with guest.ami_session() as mgr:
        resp = mgr.send_action({"Action": "ModuleLoad", "Module": "chan_dahdi.so", "LoadType": action})
        return f"{resp.get_header('Response')}: {resp.get_header('Message', '')}"


def check_asterisk_has_dahdi():
    # Korund loads chan_dahdi only once a span is configured (render/core.py):
    # load it for the question if needed and leave Asterisk as it was.
    seen = []
    loaded = "chan_dahdi.so" in guest.asterisk("module show like chan_dahdi")
    if not loaded:
        seen.append(_module("load"))
    try:
        def version():
            seen.append(guest.asterisk("dahdi show version"))
            return "DAHDI Version" in seen[-1] and seen[-1]
        text = guest.wait_for(version, timeout=60, what="chan_dahdi answering")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; Asterisk said: {seen[:2]} ... {seen[-1:]}") from None
    finally:
        if not loaded:
            _module("unload")
    # e.g. "DAHDI Version: 3.4.0 Echo Canceller(s): ..." -- the real kernel's dahdi answered
    assert "3.4" in text, text


def check_chan_dahdi_is_korunds_patched_build():
    """image-build/chan_dahdi/: Debian's module diverted aside, Korund's in its place."""
    import subprocess
    diverted = subprocess.run(["dpkg-divert", "--list", "*chan_dahdi.so"], capture_output=True,
                              text=True).stdout
    assert "chan_dahdi.so.debian" in diverted, diverted
    module = next(Path("/usr/lib").glob("*/asterisk/modules/chan_dahdi.so"))
    assert module.with_name("chan_dahdi.so.debian").exists()
    assert module.read_bytes() != module.with_name("chan_dahdi.so.debian").read_bytes()


def check_first_boot():
    name = socket.gethostname()
    assert re.fullmatch(r"korund-[0-9a-f]{4}", name), name
    assert Path("/var/lib/korund/.firstboot-done").exists()
    s = guest.settings()
    assert len(s["ami.secret"]) >= 24 and len(s["web.secret_key"]) >= 48
    assert s.get("web.address") == "0.0.0.0", s.get("web.address")


def check_no_build_tools_left():
    for tool in ("gcc", "cc", "make", "dkms"):
        assert shutil.which(tool) is None, f"{tool} is still in the image"
    assert not any(Path("/usr/src").iterdir()), list(Path("/usr/src").iterdir())
    out = guest.run(["dpkg-query", "-W", "-f", "${Package} ${Status}\n", "korund-dahdi-modules"])
    assert "install ok installed" in out.stdout, out.stdout

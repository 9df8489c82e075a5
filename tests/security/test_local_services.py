"""The local services boundary: AMI, FastAGI, the services' user and the root
helper. Each test is an attack on a real appliance (tests/conftest.py
``pbx``: Asterisk and the Korund services under supervisord in the root
filesystem) -- reaching FastAGI or AMI from another address, forging a
FastAGI session to log an operator out, flooding FastAGI, using an AMI
action Korund's user has no class for, taking root through what supervisord
runs, feeding the audio converter a file that decodes into gigabytes,
asking the root helper for more than its verbs -- and sees it refused."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from appliance.agi.server import peer_allowed
from appliance.base import root_helper
from appliance.render.core import AMI_READ, AMI_WRITE
from tests.harness import SANDBOX, in_root, korund, ready, wait_for

PASSWORD = "Local-Services-1"


# --- helpers ---------------------------------------------------------------------------

def lan_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (the LAN side)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        address = line.split()[3].split("/")[0]
        if not address.startswith("127."):
            return address
    return None


def listeners(port: int) -> set[str]:
    """The addresses something listens on at TCP *port* (IPv4 and IPv6)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, _, hexport = local.partition(":")
            if state != "0A" or int(hexport, 16) != port:
                continue
            if width == 8:
                found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
            else:
                raw = b"".join(bytes.fromhex(address[i:i + 8])[::-1] for i in range(0, 32, 8))
                found.add(socket.inet_ntop(socket.AF_INET6, raw))
    return found


def forged_agi(host: str, port: int, script: str, args: list[str], extension: str,
               source: str | None = None, timeout: float = 30) -> list[str]:
    """Play Asterisk's side of a FastAGI session from *source*: the call is
    from operator *extension*'s phone (what the scripts ask Asterisk about
    the channel is answered so); the commands the server sent."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    if source:
        sock.bind((source, 0))
    sock.connect((host, port))
    env = {"agi_network": "yes", "agi_network_script": script, "agi_request": f"agi://{host}:{port}/{script}",
           "agi_channel": f"PJSIP/{extension}-0000f00d", "agi_language": "ru", "agi_type": "PJSIP",
           "agi_uniqueid": "1700000000.4242", "agi_version": "22.0.0", "agi_callerid": extension,
           "agi_calleridname": "unknown", "agi_callingpres": "0", "agi_dnid": "unknown",
           "agi_rdnis": "unknown", "agi_context": "korund-operators", "agi_extension": "*52",
           "agi_priority": "1", "agi_enhanced": "0.0", "agi_accountcode": "", "agi_threadid": "1"}
    env.update({f"agi_arg_{i}": a for i, a in enumerate(args, 1)})
    answers = {"CHANNEL(channeltype)": "PJSIP", "CHANNEL(endpoint)": extension}
    commands = []
    with sock, sock.makefile("rwb") as f:
        try:
            f.write("".join(f"{k}: {v}\n" for k, v in env.items()).encode() + b"\n")
            f.flush()
            while line := f.readline():
                command = line.decode(errors="replace").strip()
                commands.append(command)
                if command.startswith("GET VARIABLE"):
                    value = answers.get(command.split(" ", 2)[2].strip('"'))
                    reply = f"200 result=1 ({value})" if value else "200 result=0"
                else:
                    reply = "200 result=0 endpos=0"
                f.write(reply.encode() + b"\n")
                f.flush()
        except (ConnectionError, TimeoutError):
            pass
    return commands


def operator_state(appliance, ext: str) -> str:
    rows = json.loads(korund(appliance, "operator", "list", "--json").stdout)
    return next(r for r in rows if r["extension"] == ext)["state"]


# The FastAGI server's own threads: the one accepting connections, the
# watchdog and the IVR steps' writer.
SERVER_THREADS = 3


def agi_sessions(appliance) -> int:
    """Sessions the FastAGI server holds open (a thread each): its threads beyond its own."""
    pid = appliance.services()["agi"]["pid"]
    return len(os.listdir(f"/proc/{pid}/task")) - SERVER_THREADS


def set_setting(appliance, key: str, value: str | None) -> None:
    with appliance.db() as conn:
        if value is None:
            conn.execute("DELETE FROM settings WHERE key = ?", [key])
        else:
            conn.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                         "SET value = excluded.value", [key, value])


def restart(appliance, service: str) -> None:
    appliance.stop_service(service)
    appliance.start_service(service)
    appliance.wait_service(service, timeout=60)


def passwd(root: Path, name: str, table: str = "passwd") -> list[str]:
    """*name*'s entry in the root filesystem's /etc/passwd (or group)."""
    for line in (root / "etc" / table).read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return fields
    raise LookupError(f"no {name} in the root filesystem's /etc/{table}")


def as_korund(code: str, user: str = "korund") -> subprocess.CompletedProcess:
    """Python *code* run in the root filesystem as *user* (with its groups),
    as a compromised service would."""
    return in_root("setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups",
                   "/opt/korund/venv/bin/python", "-c", code, check=False)


def ids(pid: int) -> tuple[set[int], set[int]]:
    """(its real, effective, saved and file-system uids; its groups) of process *pid*."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if ":" in line)
    return {int(u) for u in status["Uid"].split()}, {int(g) for g in status["Groups"].split()}


# --- finding 1: FastAGI and AMI only for this machine ------------------------------------

def test_peer_check_allows_only_loopback():
    assert peer_allowed("127.0.0.1") and peer_allowed("127.0.0.41") and peer_allowed("::1")
    assert peer_allowed("::ffff:127.0.0.5")
    for outsider in ("192.0.2.2", "10.0.0.7", "0.0.0.0", "::ffff:10.0.0.1", "fe80::1%eth0", "", "x"):
        assert not peer_allowed(outsider), outsider


def test_nothing_listens_for_ami_or_fastagi_beyond_loopback(appliance):
    s = appliance.settings()
    assert s["local.address"] == s["net.address"]   # a loopback test instance keeps its own address
    for key in ("agi.port", "ami.port"):
        port = int(s[key])
        assert s["local.address"] in listeners(port), (key, listeners(port))
        beyond = {a for a in listeners(port) if not (a.startswith("127.") or a == "::1")}
        assert not beyond, f"{key} {port} listens on {beyond}"
        lan = lan_address()
        if lan:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((lan, port), timeout=5).close()
    # The panel and SIP stay on net.address; AMI and FastAGI are told to use local.address.
    etc = appliance.host_base / "etc" / "asterisk"
    assert f"bindaddr = {s['local.address']}\n" in (etc / "manager.conf").read_text()
    assert f"agi://{s['local.address']}:{s['agi.port']}/" in (etc / "extensions.conf").read_text()


def test_an_appliance_on_a_lan_address_keeps_ami_and_fastagi_on_loopback(root):
    """korund init with the LAN address phones use: SIP there, AMI and FastAGI on 127.0.0.1."""
    base = f"{SANDBOX}/lan-init-{uuid.uuid4().hex[:6]}"
    host_base = root / base.lstrip("/")
    try:
        in_root("korund", "-i", base, "init", "--address", "192.0.2.10", "--sip-port", "5999")
        conn = sqlite3.connect(host_base / "korund.db")
        s = dict(conn.execute("SELECT key, value FROM settings").fetchall())
        conn.close()
        assert (s["net.address"], s["local.address"]) == ("192.0.2.10", "127.0.0.1")
        etc = host_base / "etc" / "asterisk"
        assert "bindaddr = 127.0.0.1\n" in (etc / "manager.conf").read_text()
        dialplan = (etc / "extensions.conf").read_text()
        assert "agi://127.0.0.1:" in dialplan and "192.0.2.10" not in dialplan
        assert "bind = 192.0.2.10:5999" in (etc / "pjsip.conf").read_text()
        # AMI and FastAGI cannot be put on a LAN address at all.
        refused = in_root("korund", "-i", base, "init", "--local-address", "192.0.2.10", check=False)
        assert refused.returncode == 2 and "not a loopback address" in refused.stderr, refused
    finally:
        shutil.rmtree(host_base, ignore_errors=True)


def test_a_fastagi_session_from_another_address_cannot_log_an_operator_out(appliance, carrier):
    lan = lan_address()
    if lan is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    s = appliance.settings()
    host, port = s["local.address"], int(s["agi.port"])
    korund(appliance, "operator", "login", "1001")
    ready(appliance, "1001")
    # A host on the LAN (here: this machine's LAN address) plays Asterisk and
    # says operator 1001's phone dialled *52.
    sent = forged_agi(host, port, "feature-codes", ["logout"], "1001", source=lan)
    assert sent == [], f"the server talked to {lan}: {sent}"
    assert operator_state(appliance, "1001") == "ready"
    assert not appliance.paused("1001")
    log = appliance.host_base / "supervisor" / "log" / "agi.log"
    assert f"refused a FastAGI connection from {lan}" in log.read_text()
    # The very same session from this machine logs 1001 out: it was only
    # the peer check that stopped it.
    sent = forged_agi(host, port, "feature-codes", ["logout"], "1001")
    assert any("agent-loggedoff" in c for c in sent), sent
    wait_for(lambda: operator_state(appliance, "1001") == "logged_out", 10, what="1001 logged out")
    korund(appliance, "operator", "login", "1001")
    ready(appliance, "1001")


def test_a_flood_of_fastagi_connections_is_capped_and_calls_still_reach_operators(appliance, carrier):
    cap = 4
    set_setting(appliance, "agi.max_sessions", str(cap))
    restart(appliance, "agi")
    try:
        ready(appliance, "1001", "1002")
        s = appliance.settings()
        address = (s["local.address"], int(s["agi.port"]))
        # 60 connections that never send the AGI environment (or a call).
        flood = [socket.create_connection(address, timeout=5) for _ in range(60)]
        try:
            call = carrier.call(ani="4957770001", dnis="100", hold=3)
            most = 0
            for _ in range(10):
                most = max(most, agi_sessions(appliance))
                time.sleep(0.2)
            assert most <= cap, f"{most} FastAGI sessions for a limit of {cap}"
            # The caller still reaches an operator (the refused AGI leg takes
            # the dialplan's fallback to the default group).
            assert call.answered_by_phone(timeout=60)["Phone"] in ("1001", "1002")
            call.ended(timeout=60)
        finally:
            for sock in flood:
                sock.close()
        log = (appliance.host_base / "supervisor" / "log" / "agi.log").read_text()
        assert "the limit (setting agi.max_sessions)" in log
        # Silent sessions are dropped after the environment's time limit.
        wait_for(lambda: agi_sessions(appliance) == 0, 30, what="the flood's sessions to end")
    finally:
        set_setting(appliance, "agi.max_sessions", None)
        restart(appliance, "agi")


# --- finding 10 (AMI): only the classes Korund uses -----------------------------------------

def test_ami_refuses_an_action_of_a_class_korund_does_not_have(appliance):
    conf = (appliance.host_base / "etc" / "asterisk" / "manager.conf").read_text()
    assert f"read = {','.join(AMI_READ)}\n" in conf and f"write = {','.join(AMI_WRITE)}\n" in conf
    assert "config" not in AMI_READ + AMI_WRITE
    # UpdateConfig (class config) would let an AMI login rewrite Asterisk's files.
    resp = appliance.mgr.send_action({"Action": "UpdateConfig", "SrcFilename": "manager.conf",
                                      "DstFilename": "manager.conf", "Action-000000": "Append",
                                      "Cat-000000": "korund", "Var-000000": "write", "Value-000000": "all"})
    assert resp.get_header("Response") == "Error" and "Permission denied" in resp.get_header("Message", "")
    # What Korund does need still works.
    resp = appliance.mgr.send_action({"Action": "CoreStatus"})
    assert resp.get_header("Response") == "Success"


def test_ami_login_from_another_address_is_refused(appliance):
    lan = lan_address()
    if lan is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    s = appliance.settings()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.bind((lan, 0))
        sock.connect((s["local.address"], int(s["ami.port"])))
        with sock.makefile("rwb") as f:
            assert f.readline().startswith(b"Asterisk Call Manager")
            f.write(f"Action: Login\r\nUsername: {s['ami.user']}\r\nSecret: {s['ami.secret']}\r\n\r\n".encode())
            f.flush()
            reply = b""
            while (line := f.readline()) not in (b"\r\n", b""):
                reply += line
    assert b"Response: Error" in reply and b"Authentication failed" in reply, reply


# --- finding 6: the services are not root -------------------------------------------------

def test_the_panel_agi_and_events_run_as_korund_not_root(appliance, root):
    korund_uid = int(passwd(root, "korund")[2])
    asterisk_uid = int(passwd(root, "asterisk")[2])
    asterisk_gid = int(passwd(root, "asterisk", "group")[2])
    services = appliance.services()
    for name in ("web", "agi", "events", "dialer", "archive", "health"):
        uids, groups = ids(services[name]["pid"])
        assert uids == {korund_uid}, (name, uids)
        assert asterisk_gid in groups and 0 not in groups, (name, groups)
    assert ids(services["asterisk"]["pid"])[0] == {asterisk_uid}
    assert ids(services["root-helper"]["pid"])[0] == {0}
    # What the services write is theirs, root's stays root's.
    assert (appliance.host_base / "korund.db").stat().st_uid == korund_uid
    conf = appliance.host_base / "supervisor" / "supervisord.conf"
    assert conf.stat().st_uid == 0 and not conf.stat().st_mode & 0o022


def test_the_korund_user_cannot_change_what_root_runs(appliance):
    """A compromised service (the korund user) tries to put a program of its
    own into supervisord's configuration, to swap the service logs root
    writes for a link, and to move supervisord's directory aside."""
    sup = f"{appliance.base}/supervisor"
    attempts = {
        "edit": f"open('{sup}/supervisord.conf', 'a').write('[program:x]\\ncommand=/bin/sh\\n')",
        "link": f"import os; os.unlink('{sup}/log/web.log'); os.symlink('/etc/shadow', '{sup}/log/web.log')",
        "move": f"import os; os.rename('{sup}', '{appliance.base}/moved')",
        "add": f"open('{sup}/supervisord.conf.new', 'w')",
    }
    for what, code in attempts.items():
        done = as_korund(code)
        assert done.returncode != 0 and "PermissionError" in done.stderr, (what, done.stdout, done.stderr)
    assert (appliance.host_base / "supervisor" / "supervisord.conf").read_text().count("[program:x]") == 0


def test_an_upload_that_decodes_into_a_huge_file_stops_at_the_converters_limits(appliance):
    """A WAV of one sample a second: 1.9 MB that sox would resample into
    16 GB at 8 kHz. The panel's converter is stopped at its file-size limit."""
    appliance.add_user("promptadmin", "admin", PASSWORD)
    token = appliance.api_token("promptadmin", "limits")
    samples = 950_000
    header = (b"RIFF" + (36 + 2 * samples).to_bytes(4, "little") + b"WAVEfmt "
              + (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + (1).to_bytes(2, "little")
              + (1).to_bytes(4, "little") + (2).to_bytes(4, "little") + (2).to_bytes(2, "little")
              + (16).to_bytes(2, "little") + b"data" + (2 * samples).to_bytes(4, "little"))
    wav = header + os.urandom(2 * samples)
    boundary = uuid.uuid4().hex
    fields = [("name", "bomb"), ("language", "ru")]
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                    for k, v in fields)
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="bomb.wav"\r\n'
             f"Content-Type: audio/wav\r\n\r\n").encode() + wav + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(appliance.panel_url() + "/prompts/upload", data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
    started = time.monotonic()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=120)
    took = time.monotonic() - started
    assert refused.value.code == 400
    assert took < 60, f"the conversion ran {took:.0f} s"
    folder = appliance.host_base / "sounds" / "ru"
    assert not (folder / "bomb.wav").exists()
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".new-")]
    with appliance.db() as conn:
        assert not conn.execute("SELECT 1 FROM prompts WHERE name = 'bomb'").fetchall()


def test_the_root_helper_refuses_an_unknown_verb_and_a_bad_argument(appliance):
    sock = f"{appliance.base}/supervisor/root-helper.sock"
    code = f"""
import json, socket
from appliance.base.supervisor import connect_unix
def ask(line):
    s = socket.socket(socket.AF_UNIX); s.settimeout(20); connect_unix(s, {sock!r})
    s.sendall(line + b"\\n"); reply = s.makefile("rb").readline(); s.close(); return json.loads(reply)
print(json.dumps([ask(b'{{"verb": "ping"}}'),
                  ask(b'{{"verb": "shell", "args": {{"command": "id"}}}}'),
                  ask(b'{{"verb": "dahdi-install", "args": {{"path": "/etc/shadow"}}}}'),
                  ask(b'{{"verb": "ping", "args": ["x"]}}'),
                  ask(b'not json')]))
"""
    done = as_korund(code)
    assert done.returncode == 0, done.stderr
    ping, unknown, bad, bad_args, junk = json.loads(done.stdout)
    assert ping == {"ok": True, "status": 0, "output": "pong"}
    assert unknown == {"ok": False, "error": "unknown verb 'shell'"}
    assert bad == {"ok": False, "error": "dahdi-install takes no argument 'path'"}
    assert not bad_args["ok"] and not junk["ok"]
    log = (appliance.host_base / "supervisor" / "log" / "root-helper.log").read_text()
    assert re.search(r"uid \d+ gid \d+ refused: unknown verb 'shell'", log), log[-2000:]
    # Asterisk's user (or anyone else) cannot even reach it.
    done = as_korund(code, user="asterisk")
    assert done.returncode != 0 and "Permission denied" in done.stderr, done.stderr
    # The request checks themselves, as the helper runs them.
    with pytest.raises(root_helper.RootHelperError, match="unknown verb"):
        root_helper.check({"verb": "rm", "args": {}})
    with pytest.raises(root_helper.RootHelperError, match="takes no argument"):
        root_helper.check({"verb": "dahdi-install", "args": {"file": "../../etc/shadow"}})

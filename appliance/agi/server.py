"""The FastAGI server: one forked child per call.

pyst2's ``AGI`` installs a SIGHUP handler when created, which only works in
the main thread, so each call runs in its own process (also isolating calls
from each other). Each child has a watchdog: a script that stops answering
is killed, the socket closes, and the dialplan's fallback routes the call.

FastAGI trusts whoever connects: the scripts take the call's channel, caller
and operator from what the connecting side says. So the server listens on
the instance's loopback address only (setting local.address), refuses any
peer that is not loopback, and keeps at most ``agi.max_sessions`` calls at
once: a connection beyond that is closed at once (the dialplan's fallback
routes its call) instead of forking without end.
"""
from __future__ import annotations

import gc
import io
import ipaddress
import logging
import os
import signal
import socketserver
import sys
import time

from asterisk.agi import AGI, AGIException

from appliance.agi import feature_codes, inbound  # noqa: F401 (they register their scripts)
from appliance.agi.registry import SCRIPTS, CallContext
from appliance.base import store
from appliance.base.errors import ConfigError
from appliance.base.instance import Instance, local_address

log = logging.getLogger("korund.agi")

CALL_WATCHDOG_SECONDS = 600
# Asterisk sends a call's AGI environment as soon as it connects; a peer
# that sends nothing (or dribbles it) is dropped after this long.
ENVIRONMENT_SECONDS = 10
# The longest a single AGI command takes: a prompt (at most
# appliance.prompts.store.MAX_SECONDS) or a recording, with room to spare.
COMMAND_SECONDS = 360
DEFAULT_MAX_SESSIONS = 200
MAX_SESSIONS_KEY = "agi.max_sessions"
# One log line per this many seconds while connections are being refused.
REFUSAL_LOG_SECONDS = 10


def peer_allowed(address: str) -> bool:
    """Only this machine may run AGI scripts: a loopback peer (127.0.0.0/8,
    ::1, or IPv4 mapped into IPv6)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def max_sessions(settings: dict[str, str]) -> int:
    """The most calls served at once (setting agi.max_sessions, 1-2000)."""
    value = settings.get(MAX_SESSIONS_KEY) or str(DEFAULT_MAX_SESSIONS)
    if not value.isdigit() or not 1 <= int(value) <= 2000:
        raise ConfigError(MAX_SESSIONS_KEY, "'{value}' is not a number of sessions from 1 to 2000", value=value)
    return int(value)


class CallHandler(socketserver.StreamRequestHandler):
    timeout = ENVIRONMENT_SECONDS   # the socket's, until the environment is in

    def handle(self) -> None:
        # A hard stop for the environment too: a line at a time, each just in
        # time, must not keep the child for long.
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(2 * ENVIRONMENT_SECONDS)
        # pyst2 traces every command on stderr: keep it out of the logs.
        with open(os.devnull, "w") as quiet:
            self._serve(quiet)

    def _serve(self, quiet) -> None:
        rfile = io.TextIOWrapper(self.rfile, encoding="utf-8", errors="replace", newline="\n")
        wfile = io.TextIOWrapper(self.wfile, encoding="utf-8", newline="\n", write_through=True)
        try:
            agi = AGI(stdin=rfile, stdout=wfile, stderr=quiet)
        except (ValueError, OSError, AGIException):
            log.warning("connection from %s closed or silent before the AGI environment arrived",
                        self.client_address[0])
            return
        signal.alarm(CALL_WATCHDOG_SECONDS)
        self.connection.settimeout(COMMAND_SECONDS)
        name = agi.env.get("agi_network_script", "").split("?")[0].strip("/")
        fn = SCRIPTS.get(name)
        if fn is None:
            log.error("unknown AGI script %r from %s", name, agi.env.get("agi_channel"))
            return
        inst: Instance = self.server.instance
        db = store.open_store(inst.db_path, migrate=False)
        try:
            fn(agi, CallContext(db=db, settings=store.settings(db), sounds=inst.sounds))
        except TimeoutError:
            log.warning("call %s: Asterisk did not answer %s within %d s; session ended",
                        agi.env.get("agi_uniqueid"), name, COMMAND_SECONDS)
        except (ValueError, AGIException, OSError) as exc:
            # pyst2 raises ValueError on Asterisk's inline HANGUP or a closed socket.
            log.info("call %s ended during %s: %s", agi.env.get("agi_uniqueid"), name, exc)
        except Exception:
            log.exception("AGI script %s failed on %s", name, agi.env.get("agi_channel"))
        finally:
            db.close()


class FastAGIServer(socketserver.ForkingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    request_queue_size = 256
    # The limit is max_sessions, checked before forking (process_request);
    # socketserver's own (max_children) would block accepting instead.
    max_children = sys.maxsize
    block_on_close = False

    def __init__(self, instance: Instance, address: tuple[str, int], sessions: int = DEFAULT_MAX_SESSIONS):
        self.instance = instance
        self.max_sessions = sessions
        self._refused = {"peer": 0, "full": 0}
        self._refusal_logged = {"peer": 0.0, "full": 0.0}
        super().__init__(address, CallHandler)

    def sessions(self) -> int:
        self.collect_children()
        return len(self.active_children or ())

    def verify_request(self, request, client_address) -> bool:
        if peer_allowed(client_address[0]):
            return True
        self._note("peer", "refused a FastAGI connection from %s: only this machine (loopback) "
                   "may run AGI scripts", client_address[0])
        return False

    def process_request(self, request, client_address) -> None:
        if self.sessions() >= self.max_sessions:
            self._note("full", "%d FastAGI sessions open, the limit (setting agi.max_sessions); "
                       "refused a connection from %s, whose call goes the dialplan's fallback way",
                       self.max_sessions, client_address[0])
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def _note(self, kind: str, message: str, *args) -> None:
        """Log a refusal, at most once per REFUSAL_LOG_SECONDS per kind (a
        flood must not fill the disk), with how many went unlogged."""
        self._refused[kind] += 1
        now = time.monotonic()
        if now - self._refusal_logged[kind] >= REFUSAL_LOG_SECONDS:
            more = self._refused[kind] - 1
            log.warning(message + (f" ({more} more refused since the last such line)" if more else ""), *args)
            self._refused[kind] = 0
            self._refusal_logged[kind] = now


def serve(instance: Instance) -> None:
    db = store.open_store(instance.db_path)
    s = store.settings(db)
    db.close()
    address = (local_address(s), int(s["agi.port"]))
    with FastAGIServer(instance, address, max_sessions(s)) as server:
        log.info("FastAGI listening on %s:%s (at most %d sessions)", *address, server.max_sessions)
        # Everything imported so far is shared with every forked call: keep the
        # collector from walking (and so copying) it in each child.
        gc.freeze()
        server.serve_forever()


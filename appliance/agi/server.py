"""The FastAGI server: one thread per call, in one process.

A thread costs far less than a forked process per call (no copy of the
interpreter's pages, no start-up, no exit), which counts at 240 calls at
once on two cores. pyst2's ``AGI`` installs a SIGHUP handler when created,
which only the main thread may do and which FastAGI does not need (Asterisk
says HANGUP on the socket), so calls run through ``SessionAGI``, which
skips it. A watchdog thread cuts a session that overstays: one whose
AGI environment does not arrive in time, or a call's script still running
after CALL_WATCHDOG_SECONDS. Cutting is closing the socket: the script's
next read fails, it ends, and the dialplan's fallback routes the call.

FastAGI trusts whoever connects: the scripts take the call's channel, caller
and operator from what the connecting side says. So the server listens on
the instance's loopback address only (setting local.address), refuses any
peer that is not loopback, and keeps at most ``agi.max_sessions`` calls at
once: a connection beyond that is closed at once (the dialplan's fallback
routes its call) instead of starting threads without end.
"""
from __future__ import annotations

import io
import ipaddress
import logging
import queue
import resource
import signal
import socket
import socketserver
import sqlite3
import threading
import time

from asterisk.agi import AGI, AGIException

from appliance.agi import feature_codes, inbound, outbound_route  # noqa: F401 (they register their scripts)
from appliance.agi.registry import SCRIPTS, CallContext
from appliance.base import store
from appliance.base.errors import ConfigError
from appliance.base.instance import Instance, local_address
from appliance.scenarios.store import STEP_INSERT

log = logging.getLogger("korund.agi")

CALL_WATCHDOG_SECONDS = 600
# Asterisk sends a call's AGI environment as soon as it connects; a peer
# that sends nothing (or dribbles it) is dropped after this long.
ENVIRONMENT_SECONDS = 10
# The longest a single AGI command takes: a prompt (at most
# appliance.prompts.store.MAX_SECONDS) or a recording, with room to spare.
COMMAND_SECONDS = 360
# 400: eight E1 spans are 240 calls, and the breaking-point runs at 1.5x
# that keep about 200 callers in the IVR at once besides the short sessions
# of the others; a session is a thread, a store connection and a socket.
DEFAULT_MAX_SESSIONS = 400
MAX_SESSIONS_KEY = "agi.max_sessions"
# One log line per this many seconds while connections are being refused.
REFUSAL_LOG_SECONDS = 10
# How often the watchdog looks for overstaying sessions.
WATCH_SECONDS = 1.0


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


class StorePool:
    """Store connections lent to the calls' threads, each opened once: a
    call that opened its own spent, at 24 new calls a second, up to seconds
    in the opening (SQLite reading the journal mode against the busy WAL)
    before it could answer."""

    KEEP = 256

    def __init__(self, db_path):
        self.db_path = db_path
        self.free: queue.SimpleQueue = queue.SimpleQueue()

    def take(self):
        try:
            return self.free.get_nowait()
        except queue.Empty:
            return store.open_store(self.db_path, migrate=False)

    def give(self, db) -> None:
        try:
            if db.conn.in_transaction:   # a script that failed half-way: none of its writes
                db.conn.rollback()
        except sqlite3.Error:
            db.close()
            return
        if self.free.qsize() >= self.KEEP:
            db.close()   # a burst's extra connections: each holds three open files
        else:
            self.free.put(db)


class StepWriter:
    """The one writer of IVR steps (call_steps) in the server: calls hand
    their rows over and go on, and this thread writes what has gathered in
    one transaction. With every call writing its own steps, 24 new calls a
    second had callers' threads queueing for SQLite's write lock (against
    the events service) while their keys arrived between two prompts, where
    Asterisk drops them."""

    BATCH = 500

    def __init__(self, db_path):
        self.db_path = db_path
        self.rows: queue.SimpleQueue = queue.SimpleQueue()

    def put(self, row: tuple) -> None:
        self.rows.put(row)

    def run(self, stop: threading.Event) -> None:
        db = store.open_store(self.db_path, migrate=False)
        try:
            while not stop.is_set() or not self.rows.empty():
                try:
                    batch = [self.rows.get(timeout=0.5)]
                except queue.Empty:
                    continue
                while len(batch) < self.BATCH:
                    try:
                        batch.append(self.rows.get_nowait())
                    except queue.Empty:
                        break
                self._write(db, batch, stop)
        finally:
            db.close()

    def _write(self, db, batch: list[tuple], stop: threading.Event) -> None:
        while True:
            try:
                with db.atomic():
                    db.conn.executemany(STEP_INSERT, batch)
                return
            except sqlite3.Error:
                log.exception("could not write %d IVR step(s); trying again", len(batch))
                if stop.wait(1.0):
                    return


class _Nowhere:
    """pyst2 traces every command and result on its stderr: kept out of the logs."""
    def write(self, _text: str) -> None:
        pass

    def flush(self) -> None:
        pass


class SessionAGI(AGI):
    """pyst2's AGI for one FastAGI session in a thread: no SIGHUP handler
    (see the module's docstring), no tracing."""

    def __init__(self, stdin, stdout):
        # AGI.__init__ would install the signal handler: its other steps here
        self.stdin, self.stdout, self.stderr = stdin, stdout, _Nowhere()
        self._got_sighup = False
        self.env = {}
        self._get_agi_env()


class CallHandler(socketserver.StreamRequestHandler):
    timeout = ENVIRONMENT_SECONDS   # the socket's, until the environment is in

    def handle(self) -> None:
        rfile = io.TextIOWrapper(self.rfile, encoding="utf-8", errors="replace", newline="\n")
        wfile = io.TextIOWrapper(self.wfile, encoding="utf-8", newline="\n", write_through=True)
        try:
            agi = SessionAGI(rfile, wfile)
        except (ValueError, OSError, AGIException):
            log.warning("connection from %s closed or silent before the AGI environment arrived",
                        self.client_address[0])
            return
        if not agi.env:
            log.warning("connection from %s closed before the AGI environment arrived", self.client_address[0])
            return
        self.server.extend(self.request, CALL_WATCHDOG_SECONDS)
        self.connection.settimeout(COMMAND_SECONDS)
        name = agi.env.get("agi_network_script", "").split("?")[0].strip("/")
        fn = SCRIPTS.get(name)
        if fn is None:
            log.error("unknown AGI script %r from %s", name, agi.env.get("agi_channel"))
            return
        inst: Instance = self.server.instance
        db = self.server.stores.take()
        try:
            fn(agi, CallContext(db=db, settings=store.settings(db), sounds=inst.sounds,
                                step_sink=self.server.steps.put))
        except TimeoutError:
            log.warning("call %s: Asterisk did not answer %s within %d s; session ended",
                        agi.env.get("agi_uniqueid"), name, COMMAND_SECONDS)
        except (ValueError, AGIException, OSError) as exc:
            # pyst2 raises ValueError on Asterisk's inline HANGUP or a closed
            # socket (also the watchdog's cut), AGIError on an empty answer.
            log.info("call %s ended during %s: %s", agi.env.get("agi_uniqueid"), name, exc)
        except Exception:
            log.exception("AGI script %s failed on %s", name, agi.env.get("agi_channel"))
        finally:
            self.server.stores.give(db)


class FastAGIServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    request_queue_size = 256
    daemon_threads = True
    block_on_close = False

    def __init__(self, instance: Instance, address: tuple[str, int], sessions: int = DEFAULT_MAX_SESSIONS):
        self.instance = instance
        self.max_sessions = sessions
        self.steps = StepWriter(instance.db_path)
        self.stores = StorePool(instance.db_path)
        self._deadlines: dict[socket.socket, float] = {}   # each open session's cut-off (monotonic)
        self._lock = threading.Lock()
        self._refused = {"peer": 0, "full": 0}
        self._refusal_logged = {"peer": 0.0, "full": 0.0}
        super().__init__(address, CallHandler)

    def sessions(self) -> int:
        with self._lock:
            return len(self._deadlines)

    def verify_request(self, request, client_address) -> bool:
        if peer_allowed(client_address[0]):
            return True
        self._note("peer", "refused a FastAGI connection from %s: only this machine (loopback) "
                   "may run AGI scripts", client_address[0])
        return False

    def process_request(self, request, client_address) -> None:
        with self._lock:
            full = len(self._deadlines) >= self.max_sessions
            if not full:
                # A hard stop for the environment too: a line at a time, each
                # just in time, must not keep the session for long.
                self._deadlines[request] = time.monotonic() + 2 * ENVIRONMENT_SECONDS
        if full:
            self._note("full", "%d FastAGI sessions open, the limit (setting agi.max_sessions); "
                       "refused a connection from %s, whose call goes the dialplan's fallback way",
                       self.max_sessions, client_address[0])
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._lock:
            self._deadlines.pop(request, None)
        super().shutdown_request(request)

    def extend(self, request, seconds: float) -> None:
        """Give the session *request* until *seconds* from now."""
        with self._lock:
            if request in self._deadlines:
                self._deadlines[request] = time.monotonic() + seconds

    def watch(self, stop: threading.Event) -> None:
        """The watchdog: cut sessions past their deadline until *stop*."""
        while not stop.wait(WATCH_SECONDS):
            now = time.monotonic()
            with self._lock:
                late = [r for r, deadline in self._deadlines.items() if deadline <= now]
                for r in late:
                    self._deadlines[r] = float("inf")   # cut once
            for r in late:
                log.warning("FastAGI session from %s overstayed its time; cut", _peer(r))
                try:
                    r.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

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


def _exit(_signum, _frame) -> None:
    raise SystemExit(0)


def _peer(sock: socket.socket) -> str:
    try:
        return sock.getpeername()[0]
    except OSError:
        return "a closed socket"


def open_files_for(sessions: int) -> None:
    """Raise this process's open-file limit to what *sessions* calls need
    (a socket and a store connection's three files each, and room), as far
    as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4 * sessions + 256
    if soft != resource.RLIM_INFINITY and soft < want:
        top = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (top, hard))
        if top < want:
            log.warning("at most %d open files (hard limit): fewer than %d sessions may fail to open "
                        "the store", top, sessions)


def serve(instance: Instance) -> None:
    db = store.open_store(instance.db_path)
    s = store.settings(db)
    db.close()
    address = (local_address(s), int(s["agi.port"]))
    open_files_for(max_sessions(s))
    with FastAGIServer(instance, address, max_sessions(s)) as server:
        log.info("FastAGI listening on %s:%s (at most %d sessions)", *address, server.max_sessions)
        stop = threading.Event()
        threading.Thread(target=server.watch, args=(stop,), name="watchdog", daemon=True).start()
        writer = threading.Thread(target=server.steps.run, args=(stop,), name="steps")
        writer.start()
        signal.signal(signal.SIGTERM, _exit)   # supervisord's stop: leave through the finally below
        try:
            server.serve_forever()
        finally:
            stop.set()
            writer.join(10)   # what the calls handed over is written before the server goes


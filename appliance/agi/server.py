"""The FastAGI server: one forked child per call.

pyst2's ``AGI`` installs a SIGHUP handler when created, which only works in
the main thread, so each call runs in its own process (also isolating calls
from each other). Each child has a watchdog: a script that stops answering
is killed, the socket closes, and the dialplan's fallback routes the call.
"""
from __future__ import annotations

import gc
import io
import logging
import os
import signal
import socketserver

from asterisk.agi import AGI, AGIException

from appliance.agi import feature_codes, inbound
from appliance.agi.registry import SCRIPTS, CallContext
from appliance.base import store
from appliance.base.instance import Instance

log = logging.getLogger("korund.agi")

CALL_WATCHDOG_SECONDS = 600


class CallHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(CALL_WATCHDOG_SECONDS)
        rfile = io.TextIOWrapper(self.rfile, encoding="utf-8", errors="replace", newline="\n")
        wfile = io.TextIOWrapper(self.wfile, encoding="utf-8", newline="\n", write_through=True)
        try:
            # pyst2 traces every command on stderr: keep it out of the logs.
            agi = AGI(stdin=rfile, stdout=wfile, stderr=open(os.devnull, "w"))
        except (ValueError, OSError, AGIException):
            log.warning("connection closed before the AGI environment arrived")
            return
        name = agi.env.get("agi_network_script", "").split("?")[0].strip("/")
        fn = SCRIPTS.get(name)
        if fn is None:
            log.error("unknown AGI script %r from %s", name, agi.env.get("agi_channel"))
            return
        inst: Instance = self.server.instance
        db = store.open_store(inst.db_path, migrate=False)
        try:
            fn(agi, CallContext(db=db, settings=store.settings(db), sounds=inst.sounds))
        except (ValueError, AGIException) as exc:
            # pyst2 raises ValueError on Asterisk's inline HANGUP or a closed socket.
            log.info("call %s ended during %s: %s", agi.env.get("agi_uniqueid"), name, exc)
        except Exception:
            log.exception("AGI script %s failed on %s", name, agi.env.get("agi_channel"))
        finally:
            db.close()


class FastAGIServer(socketserver.ForkingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    # socketserver's defaults (40 children, a listen queue of 5) refused calls
    # beyond 40 at once; an appliance with several E1 spans has hundreds.
    max_children = 1000
    request_queue_size = 256
    daemon_threads = True
    block_on_close = False

    def __init__(self, instance: Instance, address: tuple[str, int]):
        self.instance = instance
        super().__init__(address, CallHandler)


def serve(instance: Instance) -> None:
    db = store.open_store(instance.db_path)
    s = store.settings(db)
    db.close()
    address = (s["net.address"], int(s["agi.port"]))
    with FastAGIServer(instance, address) as server:
        log.info("FastAGI listening on %s:%s", *address)
        # Everything imported so far is shared with every forked call: keep the
        # collector from walking (and so copying) it in each child.
        gc.freeze()
        server.serve_forever()

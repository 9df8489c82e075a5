"""The root helper: the one way the services (which run as the ``korund``
user) get something done that needs root.

supervisord runs it as root (``korund root-helper``, program ``root-helper``).
It listens on a unix socket in the instance's ``supervisor/`` directory,
which only root and the ``korund`` group reach, checks the caller's
credentials again (SO_PEERCRED: root or the service user), and takes one
request per connection: a JSON line ``{"verb": ..., "args": {...}}``. Only
the verbs in ``VERBS`` exist; each names the arguments it takes and how they
are checked, and nothing is passed to a shell or names a path: the helper
knows its own paths. Every request -- who asked, what, the outcome -- is
written to the helper's log (``supervisor/log/root-helper.log``).

The verbs (their work is handed in by ``korund/cli.py``, which knows the
features):

- ``ping``: nothing; answers that the helper is there;
- ``dahdi-install``: nothing; puts Korund's staged DAHDI files (the
  instance's ``etc/dahdi``: ``system.conf``, ``modules``) into the DAHDI
  directory when that is another one (/etc/dahdi on the appliance), then
  runs ``dahdi_cfg`` (appliance/lines/apply.py ``install_staged``).

The client (:func:`call`) is what appliance code uses; run as root, it does
the work itself (same checks, same log line) so the ``korund`` command run
by an administrator needs no helper running.
"""
from __future__ import annotations

import json
import logging
import os
import pwd
import socket
import socketserver
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance.base.instance import SERVICE_USER
from appliance.base.supervisor import connect_unix

log = logging.getLogger("korund.root-helper")

ENV = "KORUND_ROOT_HELPER"       # the socket's path, in the services' environment
MAX_REQUEST = 4096               # bytes of one request line
REQUEST_SECONDS = 5              # to send that line
ANSWER_SECONDS = 180             # the longest verb: dahdi_cfg (120 s) and more
MAX_OUTPUT = 16 * 1024           # characters of a tool's output passed back


class RootHelperError(RuntimeError):
    """The request was refused, or the helper cannot be reached."""


@dataclass(frozen=True)
class Verb:
    doc: str
    args: dict[str, Callable[[object], object]]   # argument name -> check (raises ValueError)


VERBS: dict[str, Verb] = {
    "ping": Verb("answer that the helper is there", {}),
    "dahdi-install": Verb("install Korund's staged DAHDI files and run dahdi_cfg", {}),
}


def check(request: object) -> tuple[str, dict]:
    """(verb, checked arguments) of a request; RootHelperError naming what
    is wrong otherwise."""
    if not isinstance(request, dict) or set(request) - {"verb", "args"}:
        raise RootHelperError("a request is {\"verb\": ..., \"args\": {...}}")
    verb, args = request.get("verb"), request.get("args", {})
    if not isinstance(verb, str) or verb not in VERBS:
        raise RootHelperError(f"unknown verb {str(verb)[:40]!r}")
    if not isinstance(args, dict):
        raise RootHelperError("args must be an object")
    spec = VERBS[verb].args
    extra = sorted(set(args) - set(spec))
    if extra:
        raise RootHelperError(f"{verb} takes no argument {str(extra[0])[:40]!r}")
    missing = sorted(set(spec) - set(args))
    if missing:
        raise RootHelperError(f"{verb} needs the argument {missing[0]!r}")
    checked = {}
    for name, fn in spec.items():
        try:
            checked[name] = fn(args[name])
        except (TypeError, ValueError) as exc:
            raise RootHelperError(f"{verb}: bad {name}: {exc}") from None
    return verb, checked


Handlers = dict[str, Callable[..., tuple[int, str]]]


def _run(handlers: Handlers, verb: str, args: dict, who: str) -> dict:
    """Do one checked request and log it."""
    fn = handlers.get(verb)
    if fn is None:
        log.error("%s asked for %s, which this helper cannot do", who, verb)
        return {"ok": False, "error": f"{verb} is not available here"}
    try:
        status, output = fn(**args)
    except Exception as exc:   # the request fails, the helper lives on
        log.exception("%s: %s %s failed", who, verb, args)
        return {"ok": False, "error": f"{verb} failed: {exc}"}
    log.info("%s: %s %s -> exit %s", who, verb, args or "", status)
    return {"ok": True, "status": status, "output": output[-MAX_OUTPUT:]}


def allowed_uids() -> set[int]:
    uids = {0}
    try:
        uids.add(pwd.getpwnam(SERVICE_USER).pw_uid)
    except KeyError:
        pass
    return uids


class _Handler(socketserver.StreamRequestHandler):
    timeout = REQUEST_SECONDS

    def handle(self) -> None:
        creds = self.connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, gid = struct.unpack("3i", creds)
        who = f"pid {pid} uid {uid} gid {gid}"
        if uid not in allowed_uids():
            log.warning("%s refused: not root or %s", who, SERVICE_USER)
            self._answer({"ok": False, "error": "not allowed"})
            return
        try:
            line = self.rfile.readline(MAX_REQUEST + 1)
        except OSError:
            log.warning("%s sent no request within %d s", who, REQUEST_SECONDS)
            return
        try:
            if len(line) > MAX_REQUEST or not line.endswith(b"\n"):
                raise RootHelperError(f"a request is one line of at most {MAX_REQUEST} bytes")
            try:
                request = json.loads(line)
            except ValueError:
                raise RootHelperError("the request is not JSON") from None
            verb, args = check(request)
        except RootHelperError as exc:
            log.warning("%s refused: %s (request %r)", who, exc, line[:200])
            self._answer({"ok": False, "error": str(exc)})
            return
        with self.server.lock:   # one root action at a time
            self._answer(_run(self.server.handlers, verb, args, who))

    def _answer(self, reply: dict) -> None:
        try:
            self.wfile.write(json.dumps(reply).encode() + b"\n")
        except OSError:
            pass


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, handlers: Handlers):
        self.handlers = handlers
        self.lock = threading.Lock()
        super().__init__(path, _Handler)


def serve(sock_path: Path, handlers: Handlers, group_gid: int | None) -> None:
    """Listen on *sock_path* (root and *group_gid* may connect) and serve
    requests until killed."""
    sock_path = Path(sock_path)
    sock_path.unlink(missing_ok=True)
    old = os.umask(0o177)
    try:
        server = _Server(str(sock_path), handlers)
    finally:
        os.umask(old)
    if group_gid is not None:
        os.chown(sock_path, 0, group_gid)
        sock_path.chmod(0o660)
    log.info("root helper listening on %s; verbs: %s", sock_path, ", ".join(VERBS))
    with server:
        server.serve_forever()


def call(verb: str, handlers: Handlers | None = None, sock_path: str | os.PathLike | None = None,
         **args) -> dict:
    """Ask for *verb*: {"status": exit status, "output": what the tool said}.
    Root does it itself with *handlers*; others ask the helper at
    *sock_path* (default $KORUND_ROOT_HELPER). RootHelperError if refused
    or unreachable."""
    request = {"verb": verb, "args": args}
    if os.geteuid() == 0 and handlers is not None:
        verb, checked = check(request)
        reply = _run(handlers, verb, checked, f"root pid {os.getpid()} (itself)")
    else:
        path = sock_path or os.environ.get(ENV)
        if not path:
            raise RootHelperError(f"{verb} needs root: run it as root, or where the services' root helper "
                                  f"is (${ENV} not set)")
        reply = _ask(str(path), request)
    if not reply.get("ok"):
        raise RootHelperError(reply.get("error") or "refused")
    return reply


def _ask(path: str, request: dict) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(ANSWER_SECONDS)
        try:
            connect_unix(s, path)
            s.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError as exc:
            raise RootHelperError(f"the root helper at {path} cannot be reached: {exc}") from None
    try:
        return json.loads(data)
    except ValueError:
        raise RootHelperError("the root helper gave no answer") from None

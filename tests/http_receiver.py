"""A local HTTP endpoint that keeps what is POSTed to it: the CRM's side of
the webhook tests (tests/unit/test_webhooks.py, tests/telephony/test_crm_webhook.py)."""
from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer


@contextlib.contextmanager
def post_receiver(path: str = "/hook", status: int = 200):
    """(url, got, answers) while the server on 127.0.0.1 runs: every POST's
    (headers, body) is appended to *got* and answered with the next status
    taken from *answers*, or *status* when that list is empty."""
    got, answers = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((dict(self.headers), body))
            self.send_response(answers.pop(0) if answers else status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{path}", got, answers
    finally:
        server.shutdown()
        server.server_close()

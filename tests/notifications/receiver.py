"""A real local webhook receiver for tests: a threaded http.server on 127.0.0.1 that records
every request and verifies it with the standardwebhooks library's own verifier (not ours)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    headers: dict
    body: str

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """`answers`: status codes to give, in turn, for each webhook-id (then 200); `delay`: seconds
    to wait before answering; `redirect`: answer 302 to every request."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    delay: float = 0.0
    tries: dict = field(default_factory=dict)

    def verify(self, secret: str, request: Received) -> dict:
        return Webhook(secret).verify(request.body, request.headers)

    def verified_by(self, secret: str) -> list[dict]:
        return [self.verify(secret, r) for r in self.received]

    def rejects(self, secret: str, request: Received) -> bool:
        try:
            self.verify(secret, request)
        except WebhookVerificationError:
            return True
        return False


def start(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
            request = Received({k.lower(): v for k, v in self.headers.items()}, body)
            receiver.received.append(request)
            tries = receiver.tries.get(request.id, 0)
            receiver.tries[request.id] = tries + 1
            status = receiver.answers[tries] if tries < len(receiver.answers) else 200
            if receiver.delay:
                time.sleep(receiver.delay)
            answer = json.dumps({"ok": status < 300, "try": tries + 1}).encode()
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("location", receiver.url)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server

"""A real HTTP endpoint on loopback that records webhook deliveries and checks their signature."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from medflow.platform.notify import parse_email, verify_signature


@dataclass
class Delivery:
    """One POST as received."""

    headers: dict[str, str]
    body: bytes
    signed: bool

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class WebhookServer:
    """Answers POSTs with ``status_next`` codes first, then 204; keeps the accepted ones."""

    secret: bytes
    deliveries: list[Delivery] = field(default_factory=list)
    status_next: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/medflow"

    def start(self) -> WebhookServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    code = outer.status_next.pop(0) if outer.status_next else 204
                    if code < 300:
                        signed = verify_signature(
                            outer.secret, self.headers.get("Medflow-Signature", ""), body
                        )
                        outer.deliveries.append(Delivery(dict(self.headers), body, signed))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def messages(self) -> list[EmailMessage]:
        """The RFC 5322 messages carried by accepted, correctly signed deliveries."""
        with self.lock:
            return [parse_email(d.json["mime"]) for d in self.deliveries if d.signed]

"""A real HTTP server on 127.0.0.1 for the remote-source tests: serves folders under URL
prefixes, requires a bearer token, honours ``Range``, and misbehaves on request (faults)."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

TOKEN = "tok-7f3a9c1e-remote-secret"  # the bearer token the test server wants


class ShardServer:
    """Serve ``routes`` (URL prefix -> folder). Requests are recorded in ``requests`` as
    ``(path, Range header, Authorization header)``.

    Attributes tests set:
        token: required as ``Authorization: Bearer <token>`` (None: no auth).
        faults: path -> list of actions taken once each, in order, before serving normally:
            ``"503"`` (answer 503), ``"429"`` (answer 429 with ``Retry-After: 1``),
            ``"drop"`` (send half the body, then close the socket), ``"reset"`` (close the
            socket without answering),
            ``"corrupt"`` (flip the first byte of the body).
        overrides: path -> the bytes served instead of the file's.
        ranges: whether ``Range: bytes=N-`` is honoured (206) or ignored (200, whole body).
        delay: seconds slept between 4 KiB chunks of a body.
        redirects: path -> absolute URL answered with a 302.
        public: URL prefixes served without a token.
    """

    def __init__(self, routes: dict[str, Path], token: str | None = None):
        self.routes = {prefix.rstrip("/") + "/": Path(root) for prefix, root in routes.items()}
        self.token = token
        self.faults: dict[str, list[str]] = {}
        self.overrides: dict[str, bytes] = {}
        self.ranges = True
        self.delay = 0.0
        self.redirects: dict[str, str] = {}
        self.public: tuple[str, ...] = ()
        self.requests: list[tuple[str, str | None, str | None]] = []
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> ShardServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def count(self, path: str) -> int:
        """How many requests reached ``path`` (after the auth check or not)."""
        with self._lock:
            return sum(1 for p, _, _ in self.requests if p == path)

    def record(self, path: str, range_: str | None, auth: str | None) -> str | None:
        """Log a request; return the fault to apply to it, if any."""
        with self._lock:
            self.requests.append((path, range_, auth))
            queue = self.faults.get(path)
            return queue.pop(0) if queue else None

    def resolve(self, path: str) -> Path | None:
        for prefix, root in self.routes.items():
            if path.startswith(prefix):
                target = (root / path[len(prefix) :]).resolve()
                if target.is_file() and target.is_relative_to(root.resolve()):
                    return target
        return None


def _handler(server: ShardServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # keep test output quiet
            pass

        def do_GET(self):
            path = unquote(urlsplit(self.path).path)
            auth = self.headers.get("Authorization")
            fault = server.record(path, self.headers.get("Range"), auth)
            if server.token and not path.startswith(server.public):
                if auth != f"Bearer {server.token}":
                    return self._status(401)
            if path in server.redirects:
                self.send_response(302)
                self.send_header("Location", server.redirects[path])
                self.send_header("Content-Length", "0")
                return self.end_headers()
            if fault == "reset":
                self.close_connection = True
                return self.connection.shutdown(socket.SHUT_RDWR)
            if fault in ("503", "429"):
                return self._status(int(fault))
            target = server.resolve(path)
            if target is None:
                return self._status(404)
            data = server.overrides.get(path, target.read_bytes())
            if fault == "corrupt":
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            self._body(data, drop=fault == "drop")

        def _status(self, code: int) -> None:
            self.send_response(code)
            self.send_header("Content-Length", "0")
            if code == 429:
                self.send_header("Retry-After", "1")
            self.end_headers()

        def _body(self, data: bytes, *, drop: bool) -> None:
            start = _range_start(self.headers.get("Range")) if server.ranges else None
            if start is not None and start < len(data):
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                start = 0
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if drop:
                body = body[: len(body) // 2]
            for i in range(0, len(body), 4096):
                self.wfile.write(body[i : i + 4096])
                if server.delay:
                    time.sleep(server.delay)
            if drop:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True

    return Handler


def _range_start(header: str | None) -> int | None:
    if not header or not header.startswith("bytes=") or not header.endswith("-"):
        return None
    value = header[len("bytes=") : -1]
    return int(value) if value.isdigit() else None

"""A tiny HTTP reverse proxy on loopback for the tests: each request goes to the next upstream
in turn (round-robin), as a load balancer in front of several app hosts would send it.

Stdlib only. Method, path, headers (Cookie included) and body are passed on; status, headers
(every Set-Cookie) and body come back. One fresh upstream connection per request, so no
keep-alive ties a browser to one host. `sent` records (upstream index, path, body) of every
request, so a test can see which host served what.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
}


class RoundRobinProxy:
    """proxy = RoundRobinProxy([(host, port), ...]); proxy.url; proxy.stop()."""

    def __init__(self, upstreams: list[tuple[str, int]], timeout: float = 60.0) -> None:
        self.upstreams = upstreams
        self.timeout = timeout
        self.sent: list[tuple[int, str, bytes]] = []
        self._next = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def pick(self, path: str, body: bytes) -> int:
        with self._lock:
            index = self._next
            self._next = (index + 1) % len(self.upstreams)
            self.sent.append((index, path, body))
            return index

    def counts(self, path_part: str = "") -> list[int]:
        """Requests per upstream whose path contains `path_part`."""
        with self._lock:
            return [
                sum(1 for i, p, _ in self.sent if i == n and path_part in p)
                for n in range(len(self.upstreams))
            ]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0 to the browser: one request per connection, closed after the reply

            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                host, port = proxy.upstreams[proxy.pick(self.path, body)]
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                if body or self.command in ("POST", "PUT", "PATCH"):
                    headers["Content-Length"] = str(len(body))
                headers["Connection"] = "close"
                conn = http.client.HTTPConnection(host, port, timeout=proxy.timeout)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    reply = conn.getresponse()
                    data = reply.read()
                    self.send_response(reply.status, reply.reason)
                    for name, value in reply.getheaders():  # a list: repeated headers stay
                        if name.lower() not in HOP_BY_HOP | {"server", "date"}:
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except OSError as exc:
                    self.send_error(502, f"upstream {host}:{port}: {exc}")
                finally:
                    conn.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = forward

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet

        return Handler

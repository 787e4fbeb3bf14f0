"""A tiny HTTP proxy on 127.0.0.1 in front of a real server: counts, records headers, can stall."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


class StallingProxy:
    """Forwards GET/POST to ``upstream``; after ``allow`` requests, new ones wait until released.

    ``fault(n, body)`` may answer request ``n`` itself (status, body) instead of forwarding it.
    """

    def __init__(
        self,
        upstream: str,
        allow: int | None = None,
        fault: Callable[[int, bytes], tuple[int, bytes] | None] | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.allow = allow
        self.fault = fault  # (request number, request body) -> (status, body) to answer instead
        self.count = 0
        self.headers: list[dict[str, str]] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

            def _forward(self, method: str) -> None:
                with proxy._lock:
                    proxy.count += 1
                    n = proxy.count
                    proxy.headers.append(dict(self.headers.items()))
                if proxy.allow is not None and n > proxy.allow:
                    proxy.release.wait(timeout=120)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                injected = proxy.fault(n, body or b"") if proxy.fault else None
                if injected is not None:
                    status, payload = injected
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type",)}
                with httpx.Client(trust_env=False, timeout=60) as client:
                    r = client.request(method, proxy.upstream + self.path, content=body, headers=headers)
                self.send_response(r.status_code)
                self.send_header("Content-Type", r.headers.get("content-type", "application/json"))
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StallingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def ask_upstream(upstream: str, request: bytes) -> httpx.Response:
    """The real server's answer to an instant query's form body, for a ``fault`` hook that
    alters it."""
    with httpx.Client(trust_env=False, timeout=60) as client:
        return client.post(
            upstream.rstrip("/") + "/api/v1/query",
            content=request,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

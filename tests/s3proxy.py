"""An HTTP proxy in front of moto's S3 server that can hold one request: a Delta commit.

A Delta commit on S3 is one conditional PUT of the next ``_delta_log/NNN.json``. The proxy
forwards every request to moto unchanged, except the first commit PUT after ``hold_next_commit``:
that one waits until ``release`` (the test freezes or kills its sender meanwhile), then goes
on (or, ``release(forward=False)``, is dropped: the sender died before its request left),
and its answer's status is kept in ``held_status``. moto does not check signatures, so
forwarding with another Host is fine.
"""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

COMMIT = re.compile(r"/_delta_log/\d{20}\.json$")
_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "host"}


class HoldingProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream).netloc
        self._armed = False
        self.held = threading.Event()  # a commit PUT arrived and is waiting
        self._release = threading.Event()
        self.held_path: str | None = None
        self.held_status: int | None = None
        self.answered = threading.Event()
        self.lock = threading.Lock()
        self._forward_held = True

    def hold_next_commit(self) -> None:
        self._armed = True

    def release(self, *, forward: bool = True) -> None:
        self._forward_held = forward
        self._release.set()

    def _should_hold(self, method: str, path: str) -> bool:
        with self.lock:
            if self._armed and method == "PUT" and COMMIT.search(path.split("?", 1)[0]):
                self._armed = False
                return True
            return False

    def handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                holding = proxy._should_hold(self.command, self.path)
                if holding:
                    proxy.held_path = self.path
                    proxy.held.set()
                    proxy._release.wait(120)
                    if not proxy._forward_held:
                        self.close_connection = True
                        return
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                if holding:
                    proxy.held_status = answer.status
                    proxy.answered.set()
                try:
                    self.send_response(answer.status)
                    for key, value in answer.getheaders():
                        if key.lower() not in _HOP and key.lower() != "content-length":
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender was killed while its request was held
                finally:
                    upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        return Handler


@contextmanager
def holding_proxy(upstream: str) -> Iterator[tuple[str, HoldingProxy]]:
    """Run a HoldingProxy on a free port of 127.0.0.1; yield (its endpoint, the proxy)."""
    proxy = HoldingProxy(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), proxy.handler())
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", proxy
    finally:
        proxy._release.set()  # never leave a handler waiting; forwards unless told otherwise
        server.shutdown()
        server.server_close()

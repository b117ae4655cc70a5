"""The benchmark's lean HTTP client: JSON both ways, one kept-alive connection, non-2xx answers raise."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench._server import LeanClient


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    peers: list = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Echo.peers.append(self.client_address)
        status = 422 if self.path == "/bad" else 200
        out = json.dumps({"got": json.loads(body), "auth": self.headers.get("Authorization")}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()


def test_lean_client_posts_json_on_one_connection(server):
    _Echo.peers.clear()
    c = LeanClient(server.server_address[1], {"Authorization": "Bearer k"})
    assert c.post("/v1/sentiment", {"text": "hola ñandú"}) == {"got": {"text": "hola ñandú"}, "auth": "Bearer k"}
    assert c.post("/v1/sentiment", {"texts": ["a", "b"]})["got"] == {"texts": ["a", "b"]}
    assert len(_Echo.peers) == 2 and _Echo.peers[0] == _Echo.peers[1]  # the same client port: kept alive
    with pytest.raises(RuntimeError, match="HTTP 422"):
        c.post("/bad", {"text": ""})
    c.close()

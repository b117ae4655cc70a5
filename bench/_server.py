"""Shared by the HTTP benchmarks: a free loopback port, and waiting for a started server to be ready."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(client: httpx.Client, server: subprocess.Popen, timeout: float = 180) -> None:
    """Poll ``/readyz`` until 200; exit with the server's last words if it dies or times out."""
    deadline = time.time() + timeout
    while True:
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.time() > deadline or server.poll() is not None:
            err = server.stderr.read().decode()[-500:] if server.poll() is not None and server.stderr else "timeout"
            raise SystemExit("server did not become ready: " + err)
        time.sleep(0.2)

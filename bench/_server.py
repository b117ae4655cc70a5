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


def start_server(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """Start a server process whose stderr (JSON access logs included) goes to a temporary file, not a pipe
    that would fill up and block it; returns the process and the log's path."""
    import tempfile

    log = tempfile.NamedTemporaryFile(prefix="qa-bench-server-", suffix=".log", delete=False)
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=log), log.name


def wait_ready(client: httpx.Client, server: subprocess.Popen, log_path: str | None = None,
               timeout: float = 180) -> None:
    """Poll ``/readyz`` until 200; exit with the server's last words if it dies or times out."""
    deadline = time.time() + timeout
    while True:
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.time() > deadline or server.poll() is not None:
            err = open(log_path, encoding="utf-8", errors="replace").read()[-500:] if log_path else "timeout"
            raise SystemExit("server did not become ready: " + err)
        time.sleep(0.2)

"""Bounded abuse benchmark on loopback: the request bodies of the security probe, sent in parallel to a real
server, while a prober measures ``/healthz`` latency and the server's memory is sampled.

    python -m bench.abuse [--rounds 2] [--out bench/results/abuse.json]

Attacks (each sent ``--parallel`` times at once, ``--rounds`` times; every loop is bounded in count and time):
- ``redos``: an inline rubric with the pattern ``(a+)+$`` and a 35-character text (analyst key);
- ``many_patterns``: an inline rubric with 60,000 patterns (analyst key);
- ``big_json_nokey``: a 20 MB JSON body without a key;
- ``chunked_upload_nokey``: a 200 MB chunked multipart upload to /v1/jobs/score without a key;
- ``extreme_dates``: a topic fit on two comments dated 0001-01-01 and 9999-12-31 (analyst key);
- ``huge_comment``: a 2,000,000-character comment to /v1/jobs/sentiment (analyst key);
- ``deep_json``: 10,000-deep JSON to /v1/jobs/sentiment (analyst key);
- ``rubric_path``: ``{"rubric": "pyproject.toml"}`` (analyst key).
Pass: ``/healthz`` p99 <= 200 ms during the attacks, no 5xx, server RSS under ``--max-rss-mb``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench._server import free_port, start_server, wait_ready
from eval.provenance import git_commit

ROOT = Path(__file__).resolve().parent


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _transcript() -> dict:
    return {"id": "abuse-1", "channel": "chat", "language": "es",
            "turns": [{"speaker": "agent", "text": "a" * 34 + "!"}, {"speaker": "customer", "text": "hola"}]}


def _rubric(patterns: list[str]) -> dict:
    return {"id": "abuse", "version": "1", "language": "es", "name": "abuse", "sections": [{
        "id": "s", "name": "s", "weight": 1, "criteria": [{
            "id": "c", "question": "q?", "weight": 1,
            "detectors": [{"type": "pattern", "patterns": patterns}]}]}]}


def attacks(analyst: str) -> dict[str, dict]:
    key = {"Authorization": f"Bearer {analyst}"}
    big = b'{"texts": [' + b",".join([b"[]"] * (20 * 1024 * 1024 // 3)) + b"]}"

    def chunked_upload():
        boundary = b"abuseboundary"
        yield b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="x.jsonl"\r\n\r\n'
        chunk = b"x" * (1 << 20)
        for _ in range(200):
            yield chunk
        yield b"\r\n--" + boundary + b"--\r\n"

    deep = "[" * 10_000 + "]" * 10_000
    return {
        "redos": dict(method="POST", url="/v1/score", headers=key,
                      json={"transcript": _transcript(), "rubric": _rubric(["(a+)+$"])}),
        "many_patterns": dict(method="POST", url="/v1/score", headers=key,
                              json={"transcript": _transcript(), "rubric": _rubric([f"w{i}x" for i in range(60_000)])}),
        "big_json_nokey": dict(method="POST", url="/v1/sentiment", content=big,
                               headers={"Content-Type": "application/json"}),
        "chunked_upload_nokey": dict(method="POST", url="/v1/jobs/score", content=chunked_upload,
                                     headers={"Content-Type": "multipart/form-data; boundary=abuseboundary"}),
        "extreme_dates": dict(method="POST", url="/v1/topics/fit", headers=key, json={"period": "day", "comments": [
            {"id": "a", "text": "Me cobraron dos veces", "created_at": "0001-01-01"},
            {"id": "b", "text": "No llega el pedido", "created_at": "9999-12-31"}]}),
        "huge_comment": dict(method="POST", url="/v1/jobs/sentiment", headers=key,
                             json={"comments": [{"id": "x", "text": "hola " * 400_000}]}),
        "deep_json": dict(method="POST", url="/v1/jobs/sentiment", headers={**key, "Content-Type": "application/json"},
                          content=('{"comments": [{"id": "x", "text": "hola", "metadata": {"a": ' + deep + "}}]}").encode()),
        "rubric_path": dict(method="POST", url="/v1/score", headers=key,
                            json={"transcript": _transcript(), "rubric": "pyproject.toml"}),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=5)
    ap.add_argument("--max-rss-mb", type=float, default=2500.0)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "abuse.json")
    args = ap.parse_args(argv)

    from qa_service.config import Settings
    from qa_service.runtime import Runtime
    from qa_service.usecases.admin import create_key

    data = tempfile.mkdtemp(prefix="qa-abuse-")
    env = {**os.environ, "QA_DATA_DIR": data, "QA_LOG_LEVEL": "warning"}
    env.pop("QA_DATABASE_URL", None)
    analyst = create_key(Runtime(Settings(data_dir=data)), "analyst", "abuse")[1]
    port = free_port()
    server, log = start_server([sys.executable, "-m", "qa_service.cli", "serve", "--port", str(port)], env)
    base = f"http://127.0.0.1:{port}"
    results: dict[str, dict] = {}
    try:
        with httpx.Client(base_url=base, timeout=10) as c:
            wait_ready(c, server, log)
        idle_rss = _rss_mb(server.pid)
        stop = threading.Event()
        probes: list[float] = []
        probe_errors = [0]
        peak = [idle_rss]

        def prober() -> None:
            with httpx.Client(base_url=base, timeout=5) as c:
                while not stop.is_set():
                    t0 = time.perf_counter()
                    try:
                        c.get("/healthz").raise_for_status()
                        probes.append(time.perf_counter() - t0)
                    except httpx.HTTPError:
                        probe_errors[0] += 1
                        probes.append(5.0)
                    peak[0] = max(peak[0], _rss_mb(server.pid))
                    time.sleep(0.05)

        threading.Thread(target=prober, daemon=True).start()
        time.sleep(1.0)
        for name, req in attacks(analyst).items():
            statuses: list[int | str] = []
            t0 = time.perf_counter()

            def send(_: int, req=req) -> int | str:
                try:
                    with httpx.Client(base_url=base, timeout=60) as c:
                        kw = dict(req)
                        if callable(kw.get("content")):
                            kw["content"] = kw["content"]()
                        return c.request(**kw).status_code
                except httpx.HTTPError as exc:
                    return type(exc).__name__

            for _ in range(args.rounds):
                with ThreadPoolExecutor(args.parallel) as pool:
                    statuses += list(pool.map(send, range(args.parallel)))
            results[name] = {"statuses": sorted({str(s) for s in statuses}),
                             "seconds": round(time.perf_counter() - t0, 2)}
            print(f"{name}: {results[name]}", file=sys.stderr)
        time.sleep(1.0)
        stop.set()
        probes.sort()
        p99 = probes[int(0.99 * (len(probes) - 1))] if probes else None
        out = {
            "command": "python -m bench.abuse " + " ".join(argv if argv is not None else sys.argv[1:]),
            "commit": git_commit(),
            "healthz": {"probes": len(probes), "errors": probe_errors[0],
                        "p50_ms": round(1000 * probes[len(probes) // 2], 1) if probes else None,
                        "p99_ms": round(1000 * p99, 1) if p99 is not None else None},
            "rss_mb": {"idle": round(idle_rss), "peak": round(peak[0]), "ceiling": args.max_rss_mb},
            "attacks": results,
            "server_alive": server.poll() is None,
        }
        five = [n for n, r in results.items() if any(s.startswith("5") for s in r["statuses"])]
        out["pass"] = bool(p99 is not None and p99 <= 0.2 and not five and peak[0] <= args.max_rss_mb
                           and out["server_alive"])
        print(json.dumps(out, indent=1))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        return 0 if out["pass"] else 1
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    raise SystemExit(main())

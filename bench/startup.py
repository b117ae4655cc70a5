"""Start-up: ``qa-service --help`` wall time and API server ready time (process start -> ``/readyz`` 200).

    python -m bench.startup [--root CHECKOUT] [--runs 5] [--out bench/results/startup.json]

``--root`` measures another checkout of the project with this virtualenv's Python (``python -m qa_service.cli``
run from that directory), so two commits can be compared on the same machine in one sitting.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench._server import free_port

ROOT = Path(__file__).resolve().parents[1]


def _cli(root: Path) -> list[str]:
    return [sys.executable, "-m", "qa_service.cli"]


def help_seconds(root: Path, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([*_cli(root), "--help"], cwd=root, capture_output=True, check=True)
        out.append(time.perf_counter() - t0)
    return out


def ready_seconds(root: Path, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        port = free_port()
        data = tempfile.mkdtemp(prefix="qa-startup-")
        env = {**os.environ, "QA_DATA_DIR": data, "QA_LOG_LEVEL": "warning"}
        env.pop("QA_DATABASE_URL", None)
        t0 = time.perf_counter()
        proc = subprocess.Popen([*_cli(root), "serve", "--port", str(port)], cwd=root, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2) as c:
                while True:
                    if proc.poll() is not None:
                        raise SystemExit(f"server exited with {proc.returncode}")
                    try:
                        if c.get("/readyz").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.perf_counter() - t0 > 300:
                        raise SystemExit("server not ready after 300 s")
                    time.sleep(0.05)
            out.append(time.perf_counter() - t0)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", type=Path, default=ROOT)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=args.root, capture_output=True,
                            text=True).stdout.strip()
    h = help_seconds(args.root, args.runs)
    r = ready_seconds(args.root, max(2, args.runs // 2))
    res = {"commit": commit, "command": "python -m bench.startup " + " ".join(argv or sys.argv[1:]),
           "help_s": {"median": round(statistics.median(h), 3), "max": round(max(h), 3), "runs": len(h)},
           "ready_s": {"median": round(statistics.median(r), 2), "max": round(max(r), 2), "runs": len(r)}}
    print(json.dumps(res, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

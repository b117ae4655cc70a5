"""Bounded load test on loopback: live sentiment with Locust while a batch scoring job runs on the same server.

    python -m bench.load                         # 10 users, 60 s, a 300-transcript job running meanwhile
    python -m bench.load --users 20 --seconds 120 --transcripts 600

Starts a real `qa-service serve` (embedded job worker, its own data dir and keys), submits the job, runs Locust
headless against POST /v1/sentiment and prints throughput, latency percentiles and errors, and how far the job
got. Results go to bench/results/load.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from bench._server import free_port, start_server, wait_ready

ROOT = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=10)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--transcripts", type=int, default=300)
    ap.add_argument("--separate-worker", action="store_true",
                    help="Run the job consumer as its own `qa-service worker` process (QA_EMBEDDED_WORKER=0).")
    ap.add_argument("--out", type=Path, default=None,
                    help="result file (default bench/results/load.json, or load-separate-worker.json)")
    args = ap.parse_args(argv)
    if min(args.users, args.seconds, args.transcripts) < 1:
        ap.error("--users, --seconds and --transcripts must be at least 1")
    if args.out is not None and args.out.is_dir():
        ap.error(f"--out {args.out} is a directory: name a file")
    import time

    from eval.provenance import git_commit

    # The code that measures, recorded before anything runs (result files do not count as changes).
    commit = git_commit(dirty_mark="+uncommitted", exclude=("bench/results",))

    from bench.scoring import make_transcript
    from qa_service.config import Settings
    from qa_service.runtime import Runtime
    from qa_service.usecases.admin import create_key

    data = tempfile.mkdtemp(prefix="qa-load-")
    env = {**os.environ, "QA_DATA_DIR": data, "QA_LOG_LEVEL": "warning"}
    env.pop("QA_DATABASE_URL", None)
    settings = Settings(data_dir=data)
    helpdesk = create_key(Runtime(settings), "helpdesk", "load")[1]
    analyst = create_key(Runtime(settings), "analyst", "load")[1]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    worker = None
    if args.separate_worker:
        env["QA_EMBEDDED_WORKER"] = "0"
        worker, _ = start_server([sys.executable, "-m", "qa_service.cli", "worker"], env)
    server, server_log = start_server([sys.executable, "-m", "qa_service.cli", "serve", "--port", str(port)], env)
    try:
        with httpx.Client(base_url=url, timeout=120) as c:
            wait_ready(c, server, server_log)
            transcripts = [make_transcript(i, 40).model_dump(mode="json") for i in range(args.transcripts)]
            job = c.post("/v1/jobs/score", json={"rubric": "default-es", "transcripts": transcripts},
                         headers={"Authorization": f"Bearer {analyst}"}).json()
            out = Path(tempfile.mkdtemp(prefix="qa-locust-")) / "run"
            lenv = {**os.environ, "QA_BENCH_KEY": helpdesk}
            subprocess.run([sys.executable, "-m", "locust", "-f", str(ROOT / "locustfile.py"), "--headless",
                            "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s", "--host", url,
                            "--csv", str(out), "--only-summary"], env=lenv, check=True, capture_output=True)
            status = c.get(f"/v1/jobs/{job['job_id']}", headers={"Authorization": f"Bearer {analyst}"}).json()
            served = c.post("/v1/sentiment", json={"text": "ok"},
                            headers={"Authorization": f"Bearer {helpdesk}"}).json().get("model_version")
        with open(str(out) + "_stats.csv", newline="") as fh:
            row = next(r for r in csv.DictReader(fh) if r["Name"] == "/v1/sentiment")
        result = {"worker": "separate process" if args.separate_worker else "embedded in the server",
                  "users": args.users, "seconds": args.seconds, "requests": int(row["Request Count"]),
                  "failures": int(row["Failure Count"]), "rps": round(float(row["Requests/s"]), 1),
                  "p50_ms": float(row["50%"]), "p95_ms": float(row["95%"]), "p99_ms": float(row["99%"]),
                  "max_ms": float(row["Max Response Time"]),
                  "job": {"transcripts": args.transcripts, "done_during_test": status["done"],
                          "status": status["status"]}, "cpu_count": os.cpu_count(),
                  "sentiment_model": served, "qa_threads": settings.threads,
                  "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "command": (f"QA_THREADS={os.environ['QA_THREADS']} " if "QA_THREADS" in os.environ else "")
                  + "python -m bench.load " + " ".join(argv if argv is not None else sys.argv[1:]),
                  "commit": commit}
    finally:
        for proc in (server, worker):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=60)
    print(json.dumps(result, indent=1))
    name = "load-separate-worker.json" if args.separate_worker else "load.json"
    target = args.out or ROOT / "results" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

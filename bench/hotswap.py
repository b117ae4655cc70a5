"""Live latency while the served sentiment model is hot-swapped: promotions and rollbacks under load.

    python -m bench.hotswap                            # 4 clients, 45 s, promote at 10 s and 30 s, roll back after each
    python -m bench.hotswap --clients 8 --seconds 60

A real ``qa-service serve`` on loopback, its own data directory and database. A candidate (a head trained on a
small snapshot of customer messages, eval/customer_messages) is registered first; then clients send single short
messages without pause while the admin API promotes the candidate and rolls it back (twice). Every response's
``model_version`` is recorded, so the report says how long the swap took to reach the server (QA_MODEL_POLL_SECONDS),
whether any request failed, and the latency around the swaps (the 2 s after each change) against the rest.
Results go to bench/results/hotswap.json with the command, the commit and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench._host import latency
from bench._server import free_port, start_server, wait_ready
from eval.provenance import git_commit

RESULTS = Path(__file__).resolve().parent / "results"
TEXTS = ["¿Me pueden enviar la factura de marzo?", "Llevo diez días esperando el reembolso",
         "Thanks, the refund arrived today", "Can I change the address on my account?",
         "Pésimo servicio, nadie me responde", "Muchas gracias por la ayuda"]


def _pct(xs: list[float]) -> dict[str, float]:
    return latency(xs, n=True, most=True)


def _prepare(root: Path) -> tuple[dict, str, dict[str, str]]:
    """A catalogue (gate and base sets of customer messages), a snapshot, a trained candidate and API keys."""
    from eval.customer_messages import messages
    from qa_service.config import Settings
    from qa_service.io.labelled import write_catalog, write_jsonl
    from qa_service.runtime import get_runtime
    from qa_service.usecases.admin import create_key
    from qa_service.usecases.datasets import snapshot
    from qa_service.usecases.training import train_sentiment

    d = root / "datasets"
    d.mkdir(parents=True)
    write_jsonl(d / "gate.jsonl", messages(120, seed=2, numbers=range(100, 400)))
    write_jsonl(d / "base.jsonl", [{**m, "text": f"{m['text']} Ref. {i}."}
                                   for i, m in enumerate(messages(300, seed=1, numbers=range(2, 60)))])
    write_catalog(d, [{"name": "messages/gate", "task": "sentiment", "role": "gate", "language": None,
                       "file": "gate.jsonl", "source": "eval/customer_messages", "licence": "project's own"},
                      {"name": "messages/base", "task": "sentiment", "role": "base", "language": None,
                       "file": "base.jsonl", "source": "eval/customer_messages", "licence": "project's own"}])
    env = {"QA_DATA_DIR": str(root / "data"), "QA_DATASETS_DIR": str(d), "QA_LOG_LEVEL": "warning",
           "QA_BOOTSTRAP_SAMPLES": "200"}
    settings = Settings(data_dir=root / "data", datasets_dir=d, database_url=None, embedded_worker=False)
    rt = get_runtime(settings)
    snap = snapshot(rt, "sentiment", corrections=False)
    candidate = train_sentiment(rt, snap["id"])["version"]
    keys = {role: f"Bearer {create_key(rt, role, name='bench')[1]}" for role in ("admin", "helpdesk")}
    return env, candidate, keys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.hotswap", description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=45.0)
    args = ap.parse_args(argv)

    import httpx

    load_before = open("/proc/loadavg").read().split()[:3]
    root = Path(tempfile.mkdtemp(prefix="qa-bench-hotswap-"))
    env_extra, candidate, keys = _prepare(root)
    env = {**os.environ, **env_extra}
    env.pop("QA_DATABASE_URL", None)
    port = free_port()
    server, log = start_server([sys.executable, "-m", "qa_service.cli", "serve", "--port", str(port)], env)
    base = f"http://127.0.0.1:{port}"
    records: list[tuple[float, float, int, str | None]] = []  # (start, latency, status, version)
    events: list[tuple[float, str, str]] = []  # (time, action, version)
    lock = threading.Lock()
    stop = threading.Event()
    try:
        with httpx.Client(base_url=base, timeout=60) as admin:
            wait_ready(admin, server, log, timeout=900)
            for _ in range(20):  # warm-up
                admin.post("/v1/sentiment", json={"text": TEXTS[0]}, headers={"Authorization": keys["helpdesk"]})
            # The gate's comparison runs now, before the load, so the promotions below measure the swap alone.
            gate = admin.post("/v1/models/sentiment/compare", json={"candidate": candidate},
                              headers={"Authorization": keys["admin"]}).json()["gate"]["decision"]
            t0 = time.perf_counter()

            def client(i: int) -> None:
                with httpx.Client(base_url=base, timeout=60) as c:
                    k = i
                    while not stop.is_set():
                        k += 1
                        s = time.perf_counter()
                        try:
                            r = c.post("/v1/sentiment", json={"text": TEXTS[k % len(TEXTS)]},
                                       headers={"Authorization": keys["helpdesk"]})
                            out = (r.status_code, r.json().get("model_version") if r.status_code == 200 else None)
                        except httpx.HTTPError:
                            out = (0, None)
                        with lock:
                            records.append((s - t0, time.perf_counter() - s, *out))

            threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
            for t in threads:
                t.start()
            plan = [(args.seconds * 0.22, "promote"), (args.seconds * 0.44, "rollback"),
                    (args.seconds * 0.66, "promote"), (args.seconds * 0.88, "rollback")]
            for at, action in plan:
                time.sleep(max(0.0, at - (time.perf_counter() - t0)))
                s = time.perf_counter() - t0
                if action == "promote":
                    r = admin.post("/v1/models/sentiment/promote", headers={"Authorization": keys["admin"]},
                                   json={"version": candidate, "force": True, "reason": "hot-swap benchmark"})
                else:
                    r = admin.post("/v1/models/sentiment/rollback", headers={"Authorization": keys["admin"]})
                r.raise_for_status()
                events.append((s, action, r.json()["version"]))
            time.sleep(max(0.0, args.seconds - (time.perf_counter() - t0)))
            stop.set()
            for t in threads:
                t.join()
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=30)

    records.sort()
    swaps = []
    near: set[int] = set()
    for k, (at, action, version) in enumerate(events):
        until = events[k + 1][0] if k + 1 < len(events) else float("inf")
        window = [r for r in records if at <= r[0] < until]
        first = next((r for r in window if r[3] == version), None)
        # the last answer from the version swapped out (a request that started before the swap reached it)
        last_old = max((r[0] + r[1] for r in window if r[3] != version and r[2] == 200), default=None)
        after = [r[1] for r in window if r[0] <= at + 2.0]
        swaps.append({"action": action, "version": version, "at_s": round(at, 2),
                      "first_new_response_after_s": round(first[0] + first[1] - at, 2) if first else None,
                      "last_old_response_after_s": round(last_old - at, 2) if last_old else None,
                      "latency_2s_after": _pct(after)})
        near |= {i for i, r in enumerate(records) if at <= r[0] <= at + 2.0}
        if first:
            near |= {i for i, r in enumerate(records) if first[0] - 1.0 <= r[0] <= first[0] + 2.0}
    lat = [r[1] for r in records]
    failed = [r for r in records if r[2] != 200]
    result = {
        "command": "python -m bench.hotswap " + " ".join(argv if argv is not None else sys.argv[1:]),
        "commit": git_commit(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before,
                    "loadavg_after": open("/proc/loadavg").read().split()[:3]},
        "clients": args.clients, "seconds": args.seconds, "candidate": candidate, "gate": gate,
        "poll_seconds": float(env.get("QA_MODEL_POLL_SECONDS", 3.0)),
        "requests": len(records), "failed": len(failed), "status_counts": {
            str(s): sum(r[2] == s for r in records) for s in sorted({r[2] for r in records})},
        "versions_seen": sorted({r[3] for r in records if r[3]}),
        "latency_all": _pct(lat),
        "latency_near_swaps": _pct([records[i][1] for i in sorted(near)]),
        "latency_away_from_swaps": _pct([r[1] for i, r in enumerate(records) if i not in near]),
        "swaps": swaps,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hotswap.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("requests", "failed", "latency_all", "latency_near_swaps",
                                             "latency_away_from_swaps", "swaps", "machine")}, indent=2))
    return 0 if not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())

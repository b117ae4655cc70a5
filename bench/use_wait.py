"""How long a live USE call (one short text) takes while a large USE call (a topic fit's embedding stage) runs in
another thread of the same process, as in the API process where topic fits run beside live requests.

    python -m bench.use_wait [--reviews 2000] [--probes 40] [--out bench/results/use_wait.json]

USE calls that set the process's BLAS thread count take turns on one lock; a live call (a few texts) sets nothing
and takes no turn. Four phases, the same texts: live calls alone (no batch); live calls during the batch (shipped);
live calls made to take a turn like any other call, behind the first-come, first-served lock, and behind a plain
``threading.RLock`` (not fair: a batch going round after round keeps taking it back). A round is two chunks of 64
long reviews; one full chunk's time is reported beside the waits. Probes arrive at random intervals (20-400 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
from pathlib import Path

from bench._host import latency
from bench.topics import hotel_reviews
from eval.provenance import git_commit
from qa_service.encoders import load_encoder
from qa_service.encoders import use as use_module

RESULTS = Path(__file__).resolve().parent / "results" / "use_wait.json"
LIVE = "¿Dónde está mi pedido? Llevo dos semanas esperando."


def _stats(ms: list[float]) -> dict[str, float]:
    return latency(ms, scale=1.0, digits=1, pcts=(50, 95), n=True, most=True)


def _phase(enc, texts: list[str] | None, probes: int) -> tuple[dict, dict | None]:
    """Live-call latencies, with the batch running in another thread when ``texts`` is given (re-encoded until the
    probes are done), and the time of one full chunk of the batch (two run side by side per round)."""
    rng = random.Random(0)
    chunks: list[float] = []
    stop = threading.Event()
    backend = enc._model._model
    original = backend._encode

    def timed(chunk):
        t0 = time.perf_counter()
        out = original(chunk)
        if len(chunk) == use_module._PARALLEL_CHUNK:  # a full chunk of the batch (not its tail, not a live call)
            chunks.append((time.perf_counter() - t0) * 1000)
        return out

    def batch():
        while not stop.is_set():
            enc.encode(texts)

    backend._encode = timed
    worker = threading.Thread(target=batch, daemon=True) if texts else None
    try:
        if worker:
            worker.start()
            time.sleep(1.0)  # the batch is under way
        lat = []
        for _ in range(probes):
            t0 = time.perf_counter()
            enc.encode([LIVE])
            lat.append((time.perf_counter() - t0) * 1000)
            time.sleep(rng.uniform(0.02, 0.4))  # arrivals at random points of a round, not in step with it
    finally:
        stop.set()
        if worker:
            worker.join()
        backend._encode = original
    return _stats(lat), (_stats(chunks) if chunks else None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reviews", type=int, default=2000)
    ap.add_argument("--probes", type=int, default=40)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    enc = load_encoder("use-multilingual")
    texts = [r["text"] for r in hotel_reviews(args.reviews)]
    enc.encode(texts[:128])  # pool and controller built
    shipped = use_module._BLAS_LOCK
    out: dict = {"command": "python -m bench.use_wait " + " ".join(f"--{k} {v}" for k, v in
                                                                  (("reviews", args.reviews), ("probes", args.probes))),
                 "commit": git_commit(), "cpus": os.cpu_count(), "loadavg_before": os.getloadavg(),
                 "live_text_chars": len(LIVE), "batch": f"{args.reviews} Cuban hotel reviews, re-encoded in a loop"}
    live_max = use_module._LIVE_MAX
    out["alone"], _ = _phase(enc, None, args.probes)
    out["during_batch"], out["chunk_during_batch"] = _phase(enc, texts, args.probes)
    use_module._LIVE_MAX = 0  # live calls take a turn on the lock like any other call
    try:
        out["during_batch_taking_turns_fair_lock"], out["chunk_taking_turns_fair_lock"] = _phase(enc, texts,
                                                                                                  args.probes)
        use_module._BLAS_LOCK = threading.RLock()
        out["during_batch_taking_turns_rlock"], out["chunk_taking_turns_rlock"] = _phase(enc, texts, args.probes)
    finally:
        use_module._BLAS_LOCK, use_module._LIVE_MAX = shipped, live_max
    out["loadavg_after"] = os.getloadavg()
    out["note"] = ("during_batch: the shipped path (a call of at most _LIVE_MAX texts takes no turn on the lock); "
                   "taking_turns_*: live calls wait for a turn like any other call, behind a first-come, "
                   "first-served lock or a plain RLock (before); chunk_*: one full chunk's encoding time (64 "
                   "reviews; two run side by side per round); probes arrive at random intervals (20-400 ms)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

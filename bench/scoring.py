"""Rubric scoring throughput: transcripts per minute for 40-turn calls with default-es, and time per stage.

    python -m bench.scoring                    # 400 transcripts of 40 turns, batches of 64
    python -m bench.scoring --transcripts 500 --turns 40 --rubric default-en

Transcripts are built from the realistic Spanish call in the tests, its turns repeated and varied to the
requested length. The scorer is the service's (``Runtime.scorer``): rubric 1.3.0 with the conversation detectors
and the trained criterion classifiers. Stages: turn embeddings (one encoder batch over all turns of a batch of
transcripts), sentiment on every turn (the head on those embeddings), detectors, classifiers and scoring (the
rest); the on-disk embedding cache is off, so every turn is embedded. Target on 2 cores: >= 1,000 transcripts per minute. Writes bench/results/scoring.json with the command, the
commit, the threads and /proc/loadavg before and after (other processes on the machine slow it down).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from bench._host import loadavg
from eval.provenance import git_commit
from qa_service.schemas import Transcript

_AGENT = ["Buenos días, le atiende Laura, ¿en qué puedo ayudarle?",
          "Le informo de que esta llamada puede ser grabada por motivos de calidad.",
          "Para verificar su identidad, ¿me indica su fecha de nacimiento?",
          "Si le he entendido bien, le cobraron dos veces la factura de octubre.",
          "Entiendo lo frustrante que debe ser esto para usted.",
          "¿Le importa si le pongo un momento en espera mientras lo compruebo?",
          "Gracias por la espera. He abierto la incidencia 4521 y en 48 horas tendrá el abono.",
          "¿Hay algo más en lo que pueda ayudarle? Que tenga un buen día."]
_CUSTOMER = ["Hola, me han cobrado dos veces la factura.", "Sí, claro, el 3 de mayo de 1980.",
             "Es la tercera vez que llamo y nadie me lo soluciona.", "Vale, de acuerdo.",
             "¿Y cuándo me devuelven el dinero?", "Muchas gracias por la ayuda."]


def make_transcript(i: int, turns: int) -> Transcript:
    out, t = [], 0.0
    for k in range(turns):
        agent = k % 2 == 0
        pool = _AGENT if agent else _CUSTOMER
        # every turn text is unique, so no cache or de-duplication can flatter the figure
        text = pool[(k // 2 + i) % len(pool)] + f" (ref {i}-{k})"
        out.append({"speaker": "agent" if agent else "customer", "text": text, "start": t, "end": t + 4.0})
        t += 5.0
    return Transcript.model_validate({"id": f"bench-{i}", "channel": "call", "turns": out})


def _commit() -> str:
    return git_commit(short=False, dirty_mark="+uncommitted")


def _score_share(rubric: str, ids: list[int], turns: int, batch: int, threads: int | None, start_at: Any = None,
                 results: Any = None) -> dict[str, float]:
    """Score transcripts ``ids`` in batches (in this process, or as one of several worker processes that wait on
    ``start_at`` so they all start timing together); returns wall, CPU and per-stage seconds."""
    from qa_service.config import Settings
    from qa_service.runtime import get_runtime

    # the on-disk embedding cache off: a rerun would otherwise read the turns' vectors back instead of computing them
    rt = get_runtime(Settings(embedding_cache=False, **({"threads": threads} if threads else {})))
    scorer = rt.scorer(rt.rubric(rubric))
    data = [make_transcript(i, turns) for i in ids]
    scorer.score_many([make_transcript(10**6 + i, turns) for i in range(2)])  # warm-up: examples, lazy imports
    timing = {"encode": 0.0, "sentiment": 0.0}
    enc, sent = scorer.encoder, scorer.sentiment

    def timed(obj: Any, name: str, key: str) -> Any:
        orig = getattr(obj, name)

        def wrapper(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return orig(*a, **k)
            finally:
                timing[key] += time.perf_counter() - t0
        setattr(obj, name, wrapper)
        return orig

    orig_encode = timed(enc, "encode", "encode")
    orig_head = timed(sent, "predict_proba_embeddings", "sentiment")
    if start_at is not None:
        start_at.wait()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    for i in range(0, len(data), batch):
        scorer.score_many(data[i : i + batch])
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    enc.encode, sent.predict_proba_embeddings = orig_encode, orig_head
    out = {"wall": wall, "cpu": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
           "encode": timing["encode"], "sentiment": timing["sentiment"], "threads": rt.settings.threads,
           "version": scorer.rubric.version, "classifiers": len(scorer.classifiers)}
    if results is not None:
        results.put(out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.scoring", description=__doc__.split("\n")[0])
    ap.add_argument("--transcripts", type=int, default=400)
    ap.add_argument("--turns", type=int, default=40)
    ap.add_argument("--rubric", default="default-es")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--processes", type=int, default=1,
                    help="worker processes sharing the transcripts (each with QA_THREADS = cores / processes)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "scoring.json")
    args = ap.parse_args(argv)

    load_before = loadavg()
    ids = list(range(args.transcripts))
    if args.processes == 1:
        parts = [_score_share(args.rubric, ids, args.turns, args.batch, None)]
    else:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        threads = max(1, (os.cpu_count() or 2) // args.processes)
        barrier, queue = ctx.Barrier(args.processes), ctx.Queue()
        procs = [ctx.Process(target=_score_share, args=(args.rubric, ids[k :: args.processes], args.turns,
                                                        args.batch, threads, barrier, queue))
                 for k in range(args.processes)]
        for p in procs:
            p.start()
        parts = [queue.get() for _ in procs]
        for p in procs:
            p.join()
    wall = max(p["wall"] for p in parts)  # they start together: the slowest finishes the job
    cpu = sum(p["cpu"] for p in parts)
    per_min = 60 * args.transcripts / wall
    enc_s = sum(p["encode"] for p in parts) / len(parts)
    sent_s = sum(p["sentiment"] for p in parts) / len(parts)
    rest = sum(p["wall"] for p in parts) / len(parts) - enc_s - sent_s
    stages = {"turn embeddings (USE)": enc_s, "sentiment on every turn (head)": sent_s,
              "detectors, classifiers, N/A, scoring, evidence": rest}
    print(f"{args.transcripts} transcripts x {args.turns} turns, rubric {args.rubric} {parts[0]['version']}, batches "
          f"of {args.batch}, {parts[0]['classifiers']} classifiers, {args.processes} process(es) x "
          f"{parts[0]['threads']} thread(s)")
    print(f"throughput: {per_min:.0f} transcripts/min ({wall:.1f} s wall, {cpu:.1f} s CPU); load before "
          f"{load_before}")
    print("| stage (per process) | seconds | share |\n|---|---|---|")
    mean_wall = sum(p["wall"] for p in parts) / len(parts)
    for name, sec in stages.items():
        print(f"| {name} | {sec:.1f} | {100 * sec / mean_wall:.0f}% |")
    result = {
        "command": "python -m bench.scoring " + " ".join(argv if argv is not None else sys.argv[1:]),
        "commit": _commit(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rubric": {"id": args.rubric, "version": parts[0]["version"]}, "classifiers": parts[0]["classifiers"],
        "transcripts": args.transcripts, "turns": args.turns, "batch": args.batch, "processes": args.processes,
        "threads_per_process": parts[0]["threads"], "cpu_count": os.cpu_count(),
        "seconds": round(wall, 2), "transcripts_per_minute": round(per_min), "cpu_seconds": round(cpu, 2),
        "stages_seconds_per_process": {k: round(v, 2) for k, v in stages.items()},
        "loadavg_before": load_before, "loadavg_after": loadavg(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

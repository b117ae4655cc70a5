"""Rubric scoring throughput: transcripts per minute for 40-turn calls with default-es, and time per stage.

    python -m bench.scoring                    # 400 transcripts of 40 turns, batches of 64
    python -m bench.scoring --transcripts 500 --turns 40 --rubric default-en

Transcripts are built from the realistic Spanish call in the tests, its turns repeated and varied to the
requested length. The scorer is the service's (``Runtime.scorer``): rubric 1.2.0 with the conversation detectors
and the trained criterion classifiers. Stages: turn embeddings (one encoder batch over all turns of a batch of
transcripts), sentiment on every turn (the head on those embeddings), detectors, classifiers and scoring (the
rest). Target on 2 cores: >= 1,000 transcripts per minute. Writes bench/results/scoring.json with the command, the
commit, the threads and /proc/loadavg before and after (other processes on the machine slow it down).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

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
        text = pool[(k // 2 + i) % len(pool)] + ("" if k < len(pool) else f" (ref {i}-{k})")
        out.append({"speaker": "agent" if agent else "customer", "text": text, "start": t, "end": t + 4.0})
        t += 5.0
    return Transcript.model_validate({"id": f"bench-{i}", "channel": "call", "turns": out})


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unknown"


def _commit() -> str:
    root = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=root, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=root, check=True).stdout.strip()
        return sha.stdout.strip() + ("+uncommitted" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.scoring", description=__doc__.split("\n")[0])
    ap.add_argument("--transcripts", type=int, default=400)
    ap.add_argument("--turns", type=int, default=40)
    ap.add_argument("--rubric", default="default-es")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "scoring.json")
    args = ap.parse_args(argv)

    from qa_service.runtime import get_runtime

    rt = get_runtime()
    scorer = rt.scorer(rt.rubric(args.rubric))
    data = [make_transcript(i, args.turns) for i in range(args.transcripts)]
    scorer.score_many(data[:2])  # warm-up: example embeddings, lazy imports

    timing = {"encode": 0.0, "sentiment": 0.0}
    enc, sent = scorer.encoder, scorer.sentiment

    def timed(obj, name, key):
        orig = getattr(obj, name)

        def wrapper(*a, **k):
            t0 = time.perf_counter()
            try:
                return orig(*a, **k)
            finally:
                timing[key] += time.perf_counter() - t0
        setattr(obj, name, wrapper)
        return orig

    orig_encode = timed(enc, "encode", "encode")
    orig_head = timed(sent, "predict_proba_embeddings", "sentiment")
    load_before = _loadavg()
    t0 = time.perf_counter()
    for i in range(0, len(data), args.batch):
        scorer.score_many(data[i : i + args.batch])
    wall = time.perf_counter() - t0
    enc.encode, sent.predict_proba_embeddings = orig_encode, orig_head
    rest = wall - timing["encode"] - timing["sentiment"]
    per_min = 60 * args.transcripts / wall
    stages = {"turn embeddings (USE)": timing["encode"], "sentiment on every turn (head)": timing["sentiment"],
              "detectors, classifiers, N/A, scoring, evidence": rest}
    print(f"{args.transcripts} transcripts x {args.turns} turns, rubric {args.rubric} "
          f"{scorer.rubric.version}, batches of {args.batch}, {len(scorer.classifiers)} classifiers")
    print(f"throughput: {per_min:.0f} transcripts/min ({wall:.1f} s); load before {load_before}")
    print("| stage | seconds | share |\n|---|---|---|")
    for name, sec in stages.items():
        print(f"| {name} | {sec:.1f} | {100 * sec / wall:.0f}% |")
    result = {
        "command": "python -m bench.scoring " + " ".join(argv if argv is not None else sys.argv[1:]),
        "commit": _commit(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rubric": {"id": args.rubric, "version": scorer.rubric.version}, "classifiers": len(scorer.classifiers),
        "transcripts": args.transcripts, "turns": args.turns, "batch": args.batch, "threads": rt.settings.threads,
        "seconds": round(wall, 2), "transcripts_per_minute": round(per_min),
        "stages_seconds": {k: round(v, 2) for k, v in stages.items()},
        "loadavg_before": load_before, "loadavg_after": _loadavg(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

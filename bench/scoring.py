"""Rubric scoring throughput: transcripts per minute for 40-turn calls with default-es, and time per stage.

    python -m bench.scoring                    # 200 transcripts of 40 turns
    python -m bench.scoring --transcripts 500 --turns 40 --rubric default-en

Transcripts are built from the realistic Spanish call in the tests, its turns repeated and varied to the
requested length. Stages: sentence embeddings, customer sentiment, detectors and scoring (the rest).
Target on 2 cores: >= 300 transcripts per minute.
"""

from __future__ import annotations

import argparse
import time

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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.scoring", description=__doc__.split("\n")[0])
    ap.add_argument("--transcripts", type=int, default=200)
    ap.add_argument("--turns", type=int, default=40)
    ap.add_argument("--rubric", default="default-es")
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args(argv)

    from qa_service.runtime import get_runtime

    rt = get_runtime()
    scorer = rt.scorer(rt.rubric(args.rubric))
    data = [make_transcript(i, args.turns) for i in range(args.transcripts)]
    scorer.score_many(data[:2])  # warm-up: example embeddings, lazy imports

    timing = {"encode": 0.0, "sentiment": 0.0}
    enc, sent = scorer.encoder, scorer.sentiment
    orig_encode, orig_predict = enc.encode, sent.predict

    def timed_encode(texts, *a, **k):
        t0 = time.perf_counter()
        try:
            return orig_encode(texts, *a, **k)
        finally:
            timing["encode"] += time.perf_counter() - t0

    def timed_predict(texts, *a, **k):
        t0, enc_before = time.perf_counter(), timing["encode"]
        try:
            return orig_predict(texts, *a, **k)
        finally:
            timing["sentiment"] += time.perf_counter() - t0
            timing["encode"] = enc_before  # the sentiment model's own encoding counts as sentiment

    enc.encode, sent.predict = timed_encode, timed_predict
    t0 = time.perf_counter()
    for i in range(0, len(data), args.batch):
        scorer.score_many(data[i : i + args.batch])
    wall = time.perf_counter() - t0
    enc.encode, sent.predict = orig_encode, orig_predict
    rest = wall - timing["encode"] - timing["sentiment"]
    print(f"{args.transcripts} transcripts x {args.turns} turns, rubric {args.rubric}, batches of {args.batch}")
    print(f"throughput: {60 * args.transcripts / wall:.0f} transcripts/min ({wall:.1f} s)")
    print("| stage | seconds | share |\n|---|---|---|")
    for name, sec in (("sentence embeddings (USE)", timing["encode"]),
                      ("customer sentiment (incl. language id)", timing["sentiment"]),
                      ("detectors, N/A, scoring, evidence checks", rest)):
        print(f"| {name} | {sec:.1f} | {100 * sec / wall:.0f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Model selection for sentiment: every encoder x head, plus fine-tuned transformers, on the same splits.

    python -m eval.compare_sentiment --transformer /path/to/finetuned-bundle
    python -m eval.compare_sentiment --limit 200 --no-speed        # quick

For each candidate: held-out macro-F1 per set (eval/datasets.py), ECE, single-text latency (median and
p99 over short real messages) and batch throughput, so the choice of the shipped model is made on
quality *and* the latency target (p99 <= 50 ms single, >= 500 texts/s batch on 2 cores).
Writes eval/reports/sentiment-comparison.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from eval import datasets as ds
from eval.sentiment import REPORTS, evaluate

HEADS = {"use-logreg": ("use-multilingual", "logreg", 1.0), "use-mlp": ("use-multilingual", "mlp", 10.0),
         "e5-logreg": ("e5-small", "logreg", 1.0)}


def speed(predict: Callable[[list[str]], Any], texts: list[str], n_single: int = 100) -> dict[str, float]:
    """Median / p99 single-text latency (ms) and batch throughput (texts/s) of ``predict``."""
    short = [t for t in texts if len(t) <= 140][:n_single] or texts[:n_single]
    for t in short[:5]:
        predict([t])
    lat = []
    for t in short:
        t0 = time.perf_counter()
        predict([t])
        lat.append((time.perf_counter() - t0) * 1000)
    batch = texts[:1000]
    t0 = time.perf_counter()
    for i in range(0, len(batch), 128):
        predict(batch[i : i + 128])
    return {"single_p50_ms": round(float(np.percentile(lat, 50)), 2),
            "single_p99_ms": round(float(np.percentile(lat, 99)), 2),
            "batch_texts_per_s": round(len(batch) / (time.perf_counter() - t0), 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.compare_sentiment", description=__doc__.split("\n")[0])
    ap.add_argument("--candidates", default=",".join(HEADS), help=f"comma list from {', '.join(HEADS)}")
    ap.add_argument("--transformer", action="append", default=[], help="fine-tuned transformer bundle (repeatable)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--out", type=Path, default=REPORTS)
    args = ap.parse_args(argv)

    from eval.features import embed_cached
    from qa_service.encoders import load_encoder
    from qa_service.pipelines.sentiment import SentimentPipeline, load_sentiment
    from qa_service.text.normalize import normalise_for_sentiment as norm
    from training.sentiment import source_weights

    def lim(sets):
        return [s.subset(args.limit) for s in sets] if args.limit else sets

    train, val, tests = lim(ds.training_sets()), lim(ds.validation_sets()), lim(ds.test_sets())
    speed_texts = ds.tass2019("test").texts[:1000]
    rows: dict[str, Any] = {}
    for cand in [c for c in args.candidates.split(",") if c]:
        enc_name, head, c = HEADS[cand]
        enc = load_encoder(enc_name)

        def emb(s, enc=enc):
            return embed_cached(enc, [norm(t) for t in s.texts], s.name)

        pipe = SentimentPipeline(encoder=enc_name, head=head, C=c, detect_language=False)
        pipe.fit_embeddings(np.vstack([emb(s) for s in train]), sum((s.labels for s in train), []),
                            source_weights(train), np.vstack([emb(s) for s in val]), sum((s.labels for s in val), []))
        pipe.encoder_ = enc
        rows[cand] = {"metrics": evaluate(lambda s, p=pipe, e=emb: p.predict_proba_embeddings(e(s)), tests)}
        if not args.no_speed:
            rows[cand]["speed"] = speed(pipe.predict_proba, speed_texts)
        print(cand, {k: v["macro_f1"] for k, v in rows[cand]["metrics"].items()}, rows[cand].get("speed"),
              file=sys.stderr, flush=True)
    for path in args.transformer:
        pipe = load_sentiment(Path(path))
        name = "finetuned:" + Path(path).name
        manifest_metrics = pipe.manifest_.get("metrics") or {}
        if not args.limit and set(manifest_metrics) >= {s.name for s in tests}:
            rows[name] = {"metrics": manifest_metrics}  # measured by the fine-tuning script on the same sets
        else:
            rows[name] = {"metrics": evaluate(lambda s, p=pipe: p.predict_proba(s.texts), tests)}
        if not args.no_speed:
            rows[name]["speed"] = speed(pipe.predict_proba, speed_texts)
        print(name, {k: v["macro_f1"] for k, v in rows[name]["metrics"].items()}, rows[name].get("speed"),
              file=sys.stderr, flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    report = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "command": "python -m eval.compare_sentiment " + " ".join(argv if argv is not None else sys.argv[1:]),
              "limit": args.limit, "candidates": rows}
    (args.out / "sentiment-comparison.json").write_text(json.dumps(report, indent=2) + "\n")
    set_names = [s.name for s in tests]
    lines = ["# Sentiment model comparison", "", f"`{report['command']}` ({report['created']}). "
             "Macro-F1 on held-out sets (cfpb: English complaints, all negative: F1 of the negative class).", "",
             "| candidate | " + " | ".join(set_names) + " | single p50 ms | single p99 ms | batch texts/s |",
             "|---|" + "---|" * (len(set_names) + 3)]
    for name, r in rows.items():
        sp = r.get("speed", {})
        lines.append(f"| {name} | " + " | ".join(f"{r['metrics'][s]['macro_f1']:.3f}" for s in set_names)
                     + f" | {sp.get('single_p50_ms', '-')} | {sp.get('single_p99_ms', '-')} | "
                       f"{sp.get('batch_texts_per_s', '-')} |")
    (args.out / "sentiment-comparison.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

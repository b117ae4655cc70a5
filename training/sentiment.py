"""Train a sentiment bundle (encoder + head) on ../shared/data and write it to models/sentiment/<version>/.

    python -m training.sentiment --version 1.0.0                 # the shipped recipe
    python -m training.sentiment --encoder e5-small --head logreg --version exp-e5
    python -m training.sentiment --limit 200 --out /tmp/tiny     # smoke run on a tiny subset (CI)

Training data: the ``train`` sets of ``eval/datasets.py`` (TASS 2019, XLM-T es, Amazon-es reviews with titles,
TweetEval), weighted to the language-balanced, tweet-heavy shares of ``datasets.MIX``. C is chosen and the
calibration (temperature + class biases per language) fitted on the ``val`` sets only; the ``report`` sets are
then measured once and written into the manifest with the role of every set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from eval import datasets as ds


def source_weights(sets: list[ds.LabelledSet]) -> np.ndarray:
    """Sample weights giving each (language, kind) group its ``datasets.MIX`` share (mean weight 1)."""
    return np.asarray(ds.mix_weights(sets))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.sentiment", description=__doc__.split("\n")[0])
    ap.add_argument("--encoder", default=None, help="encoder name, hub id or path (default: QA_ENCODER)")
    ap.add_argument("--head", default="logreg", choices=["logreg", "mlp"])
    ap.add_argument("--C", default="auto",
                    help="inverse regularisation (MLP: alpha = 1/C), or 'auto': best validation macro-F1 of 0.3, 1, 3")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--version", default="dev")
    ap.add_argument("--out", type=Path, default=None, help="bundle directory (default models/sentiment/<version>)")
    ap.add_argument("--limit", type=int, default=None, help="at most N rows per set (smoke runs)")
    ap.add_argument("--no-eval", action="store_true", help="skip the held-out evaluation")
    args = ap.parse_args(argv)

    from eval.features import embed_cached
    from eval.sentiment import evaluate
    from qa_service.config import get_settings
    from qa_service.encoders import load_encoder
    from qa_service.errors import QAServiceError
    from qa_service.pipelines.sentiment import SentimentPipeline
    from qa_service.text.normalize import normalise_for_sentiment as norm

    def lim(sets: list[ds.LabelledSet]) -> list[ds.LabelledSet]:
        return [s.subset(args.limit) for s in sets] if args.limit else sets

    args.encoder = args.encoder or get_settings().encoder
    try:
        enc = load_encoder(args.encoder)
    except QAServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    train, val = lim(ds.training_sets()), lim(ds.validation_sets())

    def emb(s: ds.LabelledSet) -> np.ndarray:
        return embed_cached(enc, [norm(t) for t in s.texts], s.name)

    x = np.vstack([emb(s) for s in train])
    y = sum((s.labels for s in train), [])
    xv = np.vstack([emb(s) for s in val])
    yv = sum((s.labels for s in val), [])
    lv = sum(([s.language] * len(s) for s in val), [])
    print(f"training {args.head} on {enc.name}: {len(y)} texts from {', '.join(s.name for s in train)}",
          file=sys.stderr)
    from eval.compare_sentiment import measure, selection_score

    grid = [0.3, 1.0, 3.0] if args.C == "auto" else [float(args.C)]
    best, best_f1, selection = None, -1.0, {}
    for c in grid:
        cand = SentimentPipeline(encoder=args.encoder, head=args.head, C=c, hidden=args.hidden,
                                 calibrate="per-language")
        cand.fit_embeddings(x, y, source_weights(train), xv, yv, lv)
        f1 = round(selection_score(measure(lambda s, p=cand: p.predict_proba_embeddings(emb(s), [s.language] * len(s)),
                                           val)), 4)
        selection[str(c)] = f1
        print(f"  C={c:<4} validation selection score {f1:.3f}", file=sys.stderr)
        if f1 > best_f1:
            best, best_f1 = cand, f1
    pipe = best
    pipe.encoder_ = enc

    metrics = {}
    if not args.no_eval:
        metrics = evaluate(lambda s: pipe.predict_proba_embeddings(emb(s), [s.language] * len(s)),
                           lim(ds.report_sets()))
        for name, r in metrics.items():
            print(f"  {name:18s} macro-F1 {r['macro_f1']:.3f}  ECE {r['ece']:.3f}  (n={r['n']})", file=sys.stderr)

    out = args.out or (get_settings().models_dir / "sentiment" / args.version)
    manifest = pipe.save(out, {
        "version": args.version,
        "training_data": [{**s.describe(), "sha256": s.sha256()} for s in train + val],
        "evaluation_protocol": {"trained_on": [s.name for s in train], "chose_and_calibrated_on": [s.name for s in val],
                                "report_only": [s.name for s in ds.report_sets()], "defined_in": "eval/datasets.py"},
        "training": {"sample_weighting": "datasets.MIX shares per (language, kind)",
                     "calibrated_on": [s.name for s in val], "calibration": "per-language vector scaling",
                     "C_selection_validation_score": selection,
                     "limit": args.limit, "command": "python -m training.sentiment " + " ".join(argv or sys.argv[1:])},
        "metrics": metrics,
    })
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Train a sentiment bundle (encoder + head) on ../shared/data and write it to models/sentiment/<version>/.

    python -m training.sentiment --version 1.0.0                 # the shipped recipe
    python -m training.sentiment --encoder e5-small --head logreg --version exp-e5
    python -m training.sentiment --limit 200 --out /tmp/tiny     # smoke run on a tiny subset (CI)

Training data: Amazon reviews (es; bodies, plus titles as extra short texts) and TASS 2019 tweets (es).
Each source gets the same total weight, so short informal messages weigh as much as reviews.
The temperature is calibrated on the validation split; every held-out set in eval/datasets.py is
then measured and written into the manifest.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from eval import datasets as ds


def source_weights(sets: list[ds.LabelledSet]) -> np.ndarray:
    """Sample weights giving every training source the same total weight (mean weight 1)."""
    w = np.concatenate([np.full(len(s), 1.0 / len(s)) for s in sets])
    return w / w.mean()


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
    print(f"training {args.head} on {enc.name}: {len(y)} texts from {', '.join(s.name for s in train)}",
          file=sys.stderr)
    from eval.metrics import classification_report

    grid = [0.3, 1.0, 3.0] if args.C == "auto" else [float(args.C)]
    best, best_f1, selection = None, -1.0, {}
    yv_idx = np.array([ds.LABELS.index(lab) for lab in yv])
    for c in grid:
        cand = SentimentPipeline(encoder=args.encoder, head=args.head, C=c, hidden=args.hidden)
        cand.fit_embeddings(x, y, source_weights(train), xv, yv)
        f1 = classification_report(cand.predict_proba_embeddings(xv), yv_idx, ds.LABELS)["macro_f1"]
        selection[str(c)] = f1
        print(f"  C={c:<4} validation macro-F1 {f1:.3f}", file=sys.stderr)
        if f1 > best_f1:
            best, best_f1 = cand, f1
    pipe = best
    pipe.encoder_ = enc

    metrics = {}
    if not args.no_eval:
        metrics = evaluate(lambda s: pipe.predict_proba_embeddings(emb(s)), lim(ds.test_sets()))
        for name, r in metrics.items():
            print(f"  {name:18s} macro-F1 {r['macro_f1']:.3f}  ECE {r['ece']:.3f}  (n={r['n']})", file=sys.stderr)

    out = args.out or (get_settings().models_dir / "sentiment" / args.version)
    manifest = pipe.save(out, {
        "version": args.version,
        "training_data": [{"name": s.name, "source": s.source, "licence": s.licence, "rows": len(s),
                           "files": [str(f.relative_to(ds.data_root())) for f in s.files], "sha256": s.sha256()}
                          for s in train + val],
        "training": {"sample_weighting": "equal total weight per source", "calibrated_on": [s.name for s in val],
                     "C_selection_validation_macro_f1": selection,
                     "limit": args.limit, "command": "python -m training.sentiment " + " ".join(argv or sys.argv[1:])},
        "metrics": metrics,
    })
    print(f"wrote {out} (temperature {manifest['calibration']['temperature']:.2f})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

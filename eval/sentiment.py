"""Evaluate any sentiment bundle on held-out real data, per set and language.

    python -m eval.sentiment                       # the bundle in use, all held-out sets
    python -m eval.sentiment --model models/sentiment/1.0.0 --limit 500
    python -m eval.sentiment --baseline            # also LR on USE embeddings, same training data

Writes ``eval/reports/sentiment-<version>.json`` and ``.md``: macro-F1, per-class F1, confusion
matrix and expected calibration error for each set (see ``eval/datasets.py`` for the splits).
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
from eval.metrics import classification_report

LABELS = ("negative", "neutral", "positive")
REPORTS = Path(__file__).resolve().parent / "reports"

SET_NOTES = {
    "amazon_es/test": "in-domain: product reviews (es)",
    "tass2019/test": "short informal text: tweets (es), held out",
    "xlmt_es/test": "tweets (es), XLM-T test split",
    "xlmt_en/test": "tweets (en), XLM-T test split",
    "tweeteval/test": "tweets (en), TweetEval (SemEval-2017) held-out half",
    "twcs/test": "customer messages to brands (en), labelled by reading",
    "cuba_hotels/test": "cross-domain: hotel reviews (es), never trained on",
    "restmex/test": "cross-domain: tourism reviews (es-MX), never trained on",
    "cfpb/test": "English complaint narratives: all negative (one-class check; recall of negative)",
}


def evaluate(predict_proba: Callable[[ds.LabelledSet], np.ndarray], sets: list[ds.LabelledSet]) -> dict[str, Any]:
    """Metrics on each set; ``predict_proba`` maps a set to its class probabilities."""
    from tqdm import tqdm

    out: dict[str, Any] = {}
    for s in tqdm(sets, desc="eval sets", file=sys.stderr):
        t0 = time.perf_counter()
        probs = predict_proba(s)
        y = np.array([LABELS.index(lab) for lab in s.labels])
        rep = classification_report(probs, y, LABELS)
        rep["language"] = s.language
        rep["source"] = s.source
        rep["licence"] = s.licence
        rep["note"] = SET_NOTES.get(s.name, "")
        rep["seconds"] = round(time.perf_counter() - t0, 2)
        out[s.name] = rep
    return out


def baseline_use_logreg(train_limit: int | None = None) -> Callable[[ds.LabelledSet], np.ndarray]:
    """The simplest strong baseline: logistic regression on USE-multilingual embeddings, same training data."""
    from eval.features import embed_cached
    from qa_service.encoders import load_encoder
    from qa_service.pipelines.sentiment import SentimentPipeline
    from qa_service.text.normalize import normalise_for_sentiment as norm

    enc = load_encoder("use-multilingual")
    train = [s.subset(train_limit) if train_limit else s for s in ds.training_sets()]
    x = np.vstack([embed_cached(enc, [norm(t) for t in s.texts], s.name) for s in train])
    y = sum((s.labels for s in train), [])
    pipe = SentimentPipeline(encoder="use-multilingual", head="logreg", C=1.0, calibrate=False,
                             class_weight=None).fit_embeddings(x, y)
    return lambda s: pipe.predict_proba_embeddings(embed_cached(enc, [norm(t) for t in s.texts], s.name))


def _predictor(pipe) -> Callable[[ds.LabelledSet], np.ndarray]:
    """Set -> probabilities; embedding-head bundles reuse the on-disk embedding cache (same numbers, faster)."""
    from qa_service.pipelines.sentiment import SentimentPipeline

    if isinstance(pipe, SentimentPipeline):
        from eval.features import embed_cached
        from qa_service.text.normalize import normalise_for_sentiment as norm

        enc = pipe._encoder()
        return lambda s: pipe.predict_proba_embeddings(embed_cached(enc, [norm(t) for t in s.texts], s.name),
                                                       [s.language] * len(s))
    return lambda s: pipe.predict_proba(s.texts, [s.language] * len(s))


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Sentiment evaluation: {report['model']}", "",
             f"Generated {report['created']} by `{report['command']}`.", "",
             "| set | what | n | macro-F1 | acc | F1 neg | F1 neu | F1 pos | ECE |" +
             (" baseline macro-F1 |" if report.get("baseline") else ""),
             "|---|---|---|---|---|---|---|---|---|" + ("---|" if report.get("baseline") else "")]
    for name, r in report["sets"].items():
        pc = r["per_class"]
        row = (f"| {name} | {r['note']} | {r['n']} | {r['macro_f1']:.3f} | {r['accuracy']:.3f} | "
               f"{pc['negative']['f1']:.3f} | {pc['neutral']['f1']:.3f} | {pc['positive']['f1']:.3f} | {r['ece']:.3f} |")
        if report.get("baseline"):
            b = report["baseline"].get(name, {})
            row += f" {b.get('macro_f1', float('nan')):.3f} |"
        lines.append(row)
    lines += ["", "Confusion matrices (rows = gold, columns = predicted; negative, neutral, positive):", ""]
    for name, r in report["sets"].items():
        lines.append(f"- {name}: {r['confusion']['matrix']}")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.sentiment", description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="latest", help="bundle version, path, or 'latest'")
    ap.add_argument("--limit", type=int, default=None, help="at most N rows per set (quick runs)")
    ap.add_argument("--baseline", action="store_true", help="also report LR on USE embeddings")
    ap.add_argument("--out", type=Path, default=REPORTS, help="report directory")
    args = ap.parse_args(argv)

    from qa_service.config import get_settings
    from qa_service.errors import QAServiceError
    from qa_service.bundles import resolve_bundle
    from qa_service.pipelines.sentiment import load_sentiment

    try:
        bundle = resolve_bundle(get_settings().models_dir, "sentiment", args.model)
        settings = get_settings()
        pipe = load_sentiment(bundle, base_dir=settings.e5_converted_dir, cache_dir=settings.cache_dir)
    except QAServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    sets = [s.subset(args.limit) if args.limit else s for s in ds.test_sets()]
    report: dict[str, Any] = {
        "model": f"sentiment/{pipe.manifest_.get('version')}",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python -m eval.sentiment " + " ".join(argv if argv is not None else sys.argv[1:]),
        "sets": evaluate(_predictor(pipe), sets),
    }
    if args.baseline:
        report["baseline"] = {k: {"macro_f1": v["macro_f1"], "ece": v["ece"]}
                              for k, v in evaluate(baseline_use_logreg(), sets).items()}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"sentiment-{pipe.manifest_.get('version')}" + (f"-limit{args.limit}" if args.limit else "")
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(report))
    print(markdown(report))
    print(f"wrote {args.out / (stem + '.json')} and .md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

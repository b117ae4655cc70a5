"""Sentiment candidates compared on the fixed protocol of ``eval/datasets.py``: chosen on validation, reported once.

    python -m eval.compare_sentiment                                   # USE/e5 heads + baseline + shipped bundles
    python -m eval.compare_sentiment --candidates baseline,use-logreg --bundle models/sentiment/2.0.0
    python -m eval.compare_sentiment --limit 200 --out /tmp/cmp         # quick

For every candidate:

1. heads are fitted on the ``train`` sets only (sample weights from ``datasets.MIX``), their regularisation is
   chosen by mean validation macro-F1 (mean over languages of the mean over that language's ``val`` sets), and
   they are calibrated per language on the ``val`` sets (temperature + class biases);
2. the ``val`` table is computed first and is the only thing that chooses (``selection`` in the JSON);
3. each ``report`` set is then measured once: macro-F1 with a bootstrap 95% interval, per-class
   precision/recall/F1, confusion matrix and ECE.

The baseline is what the issue measured against: logistic regression on USE embeddings, trained on the same
``train`` sets with no sample, class or source weighting and no calibration.

Writes ``<out>/sentiment-comparison.{json,md}``.
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
from eval.provenance import git_commit as commit_id

REPORTS = Path(__file__).resolve().parent / "reports"

# name: (encoder, head, C grid, class_weight, sample weighting, calibration)
HEADS: dict[str, tuple[str, str, list[float], str | None, str, str | bool]] = {
    "baseline": ("use-multilingual", "logreg", [1.0], None, "none", False),
    "use-logreg": ("use-multilingual", "logreg", [0.3, 1.0, 3.0], "balanced", "mix", "per-language"),
    "use-mlp": ("use-multilingual", "mlp", [1.0, 10.0], None, "mix", "per-language"),
    "e5-logreg": ("e5-small", "logreg", [0.3, 1.0, 3.0], "balanced", "mix", "per-language"),
    "e5-mlp": ("e5-small", "mlp", [1.0, 10.0], None, "mix", "per-language"),
}


def git_commit() -> str:
    return commit_id()


def labels_of(s: ds.LabelledSet) -> np.ndarray:
    return np.array([ds.LABELS.index(lab) for lab in s.labels])


def selection_score(metrics: dict[str, Any]) -> float:
    """Mean over languages of the mean validation macro-F1 of that language's sets."""
    by_lang: dict[str, list[float]] = {}
    for r in metrics.values():
        by_lang.setdefault(r["language"], []).append(r["macro_f1"])
    return float(np.mean([np.mean(v) for v in by_lang.values()]))


def measure(predict: Callable[[ds.LabelledSet], np.ndarray], sets: list[ds.LabelledSet],
            decide: Callable[[np.ndarray, list[str]], np.ndarray] | None = None) -> dict[str, Any]:
    """Per set: the classification report of ``predict``'s probabilities, labelled by ``decide`` (a model's
    decision rule) or by the most probable label."""
    out = {}
    for s in sets:
        probs = predict(s)
        pred = decide(probs, [s.language] * len(s)) if decide else None
        rep = classification_report(probs, labels_of(s), ds.LABELS, pred)
        rep.update(language=s.language, kind=s.kind, role=s.role)
        out[s.name] = rep
    return out


def head_candidate(name: str, train: list[ds.LabelledSet], val: list[ds.LabelledSet]
                   ) -> tuple[Callable[[ds.LabelledSet], np.ndarray], dict[str, Any]]:
    """Fit a head candidate on ``train``, choose C and calibrate on ``val``; returns (predict, details)."""
    from eval.features import embed_cached
    from qa_service.encoders import load_encoder
    from qa_service.pipelines.sentiment import SentimentPipeline
    from qa_service.text.normalize import normalise_for_sentiment as norm

    enc_name, head, grid, class_weight, weighting, calibrate = HEADS[name]
    enc = load_encoder(enc_name)

    def emb(s: ds.LabelledSet) -> np.ndarray:
        return embed_cached(enc, [norm(t) for t in s.texts], s.name)

    x = np.vstack([emb(s) for s in train])
    y = sum((s.labels for s in train), [])
    w = ds.mix_weights(train) if weighting == "mix" else None
    xv = np.vstack([emb(s) for s in val])
    yv = sum((s.labels for s in val), [])
    lv = sum(([s.language] * len(s) for s in val), [])
    best, best_score, scores = None, -1.0, {}
    for c in grid:
        pipe = SentimentPipeline(encoder=enc_name, head=head, C=c, class_weight=class_weight, calibrate=calibrate,
                                 detect_language=False)
        pipe.fit_embeddings(x, y, w, xv, yv, lv)
        sc = selection_score(measure(lambda s, p=pipe: p.predict_proba_embeddings(emb(s), [s.language] * len(s)),
                                     val))
        scores[str(c)] = round(sc, 4)
        print(f"  {name} C={c}: validation selection score {sc:.4f}", file=sys.stderr, flush=True)
        if sc > best_score:
            best, best_score = pipe, sc
    details = {"encoder": enc_name, "head": head, "C_grid_validation": scores, "C": best.C,
               "class_weight": class_weight, "sample_weighting": weighting, "calibration": best.calibration_}
    return (lambda s: best.predict_proba_embeddings(emb(s), [s.language] * len(s))), details


Candidate = tuple[str, Callable[[ds.LabelledSet], np.ndarray], dict[str, Any],
                  Callable[[np.ndarray, list[str]], np.ndarray] | None]


def bundle_candidates(path: Path, precisions: tuple[str, ...] = ("int8", "fp32")) -> list[Candidate]:
    """A shipped or trained bundle, labelled by its own decision rule (manifest ``decision``);
    ``transformer-onnx`` bundles give one candidate per precision (int8 served, fp32 for the quantisation cost)."""
    from qa_service.bundles import read_manifest
    from qa_service.config import get_settings
    from qa_service.pipelines.sentiment_core import decide

    settings = get_settings()
    manifest = read_manifest(path, task="sentiment")
    version = manifest.get("version", path.name)
    rule = manifest.get("decision")
    details = {"bundle": str(path), "kind": manifest.get("kind"), "decision": rule and
               {k: rule[k] for k in ("method", "offsets", "thresholds", "chosen_on", "rule") if k in rule}}
    decider = (lambda p, langs, r=rule: decide(p, r, langs)) if rule else None
    if manifest.get("kind") == "transformer-onnx":
        from qa_service.pipelines.sentiment_onnx import OnnxSentimentPipeline

        out = []
        for precision in precisions:
            pipe = OnnxSentimentPipeline.load(path, manifest, settings.e5_converted_dir, settings.cache_dir,
                                              threads=settings.threads, precision=precision)
            out.append((f"{version}-{precision}", lambda s, p=pipe: p.predict_proba(s.texts, [s.language] * len(s)),
                        {**details, "precision": precision}, decider))
        return out
    from qa_service.pipelines.sentiment import load_sentiment

    pipe = load_sentiment(path, base_dir=settings.e5_converted_dir, cache_dir=settings.cache_dir)
    pipe.detect_language = False
    return [(version, lambda s, p=pipe: p.predict_proba(s.texts, [s.language] * len(s)), details, decider)]


def markdown(report: dict[str, Any]) -> str:
    cands = report["candidates"]
    lines = [
        "# Sentiment: candidates on the fixed protocol", "",
        f"`{report['command']}` at commit `{report['commit']}` ({report['created']}).", "",
        "Protocol: `eval/datasets.py`. Heads are trained on the train sets only; C and calibration are chosen on "
        "the validation sets only (table 1); report sets (table 2) were measured once per candidate and chose "
        "nothing. Macro-F1 with its bootstrap 95% interval; ECE of the top-class confidence.", "",
        "## 1. Validation (chooses)", "",
    ]
    vnames = list(next(iter(cands.values()))["val"])
    lines += ["| candidate | selection score | " + " | ".join(vnames) + " |", "|---|---|" + "---|" * len(vnames)]
    for name, c in cands.items():
        lines.append(f"| {name} | {c['selection_score']:.4f} | "
                     + " | ".join(f"{c['val'][v]['macro_f1']:.3f}" for v in vnames) + " |")
    lines += ["", f"Chosen on validation: **{report['selection']['chosen']}** "
              f"({report['selection']['rule']}).", ""]
    for name, c in cands.items():
        rule = (c.get("details") or {}).get("decision")
        if rule:
            offsets = ""
            if rule["method"] == "offsets":
                offsets = (f"class offsets (negative, neutral, positive) per language {rule['offsets']}, then "
                           if rule.get("offsets") else "class offsets per language (in the bundle's manifest), then ")
            lines += [f"`{name}` labels by its decision rule: {rule['method']}: {offsets}P(negative) >= threshold per "
                      f"language {rule.get('thresholds')} (other languages: the most probable label), chosen on "
                      f"{', '.join(rule.get('chosen_on', []))} ({rule.get('rule')}); the other candidates take the "
                      "most probable label.", ""]
    for lang in ("es", "en"):
        rnames = [n for n, r in next(iter(cands.values()))["report"].items() if r["language"] == lang]
        lines += [f"## 2. Report sets, {lang} (measured once)", "",
                  "| candidate | " + " | ".join(rnames) + " |", "|---|" + "---|" * len(rnames)]
        for name, c in cands.items():
            cells = []
            for v in rnames:
                r = c["report"][v]
                lo, hi = r["macro_f1_ci95"]
                cells.append(f"{r['macro_f1']:.3f} [{lo:.3f}, {hi:.3f}]")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", "Per class (precision / recall / F1 of negative, neutral, positive) and ECE:", "",
                  "| candidate | set | negative P/R/F1 | neutral P/R/F1 | positive P/R/F1 | ECE | confusion (rows gold) |",
                  "|---|---|---|---|---|---|---|"]
        for name, c in cands.items():
            for v in rnames:
                r = c["report"][v]
                pc = r["per_class"]
                cell = lambda k: f"{pc[k]['precision']:.2f} / {pc[k]['recall']:.2f} / {pc[k]['f1']:.2f}"  # noqa: E731
                lines.append(f"| {name} | {v} | {cell('negative')} | {cell('neutral')} | {cell('positive')} | "
                             f"{r['ece']:.3f} | {r['confusion']['matrix']} |")
        lines.append("")
    if report.get("agreement"):
        lines += ["## int8 vs fp32", "", "| model, set | label agreement | macro-F1 int8 - fp32 |", "|---|---|---|"]
        for v, a in report["agreement"].items():
            lines.append(f"| {v} | {a['label_agreement']:.4f} | {a['macro_f1_delta']:+.4f} |")
        lines.append("")
    return "\n".join(lines)


def merge(paths: list[Path], out: Path, name: str, argv: list[str] | None) -> int:
    """One report from several runs on the same protocol: each candidate was measured once, in its own run."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    if any(r["protocol"] != runs[0]["protocol"] or r["limit"] != runs[0]["limit"] for r in runs):
        print("error: the runs were made on different protocols or limits", file=sys.stderr)
        return 2
    cands: dict[str, Any] = {}
    for r in runs:
        for n, c in r["candidates"].items():
            cands[n] = {**c, "run": {"command": r["command"], "commit": r["commit"], "created": r["created"]}}
    chosen = max(cands, key=lambda n: cands[n]["selection_score"])
    report = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": git_commit(),
              "command": "python -m eval.compare_sentiment " + " ".join(argv if argv is not None else sys.argv[1:]),
              "runs": [{"command": r["command"], "commit": r["commit"], "created": r["created"]} for r in runs],
              "limit": runs[0]["limit"], "protocol": runs[0]["protocol"], "sets": runs[0]["sets"],
              "selection": {"chosen": chosen, "rule": "highest mean validation macro-F1 over languages; report "
                            "sets not used", "scores": {n: c["selection_score"] for n, c in cands.items()}},
              "candidates": cands, "agreement": {k: v for r in runs for k, v in _named_agreement(r).items()}}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    md = markdown(report)
    md = md.replace("\n\nProtocol:", "\n\nMerged from: " + "; ".join(
        f"`{r['command']}` at `{r['commit']}`" for r in report["runs"]) + ".\n\nProtocol:", 1)
    (out / f"{name}.md").write_text(md)
    print(md)
    return 0


def _named_agreement(run: dict[str, Any]) -> dict[str, Any]:
    """A run's int8/fp32 agreement keyed ``"<model> <set>"`` (a run with one int8/fp32 pair keys it by set only), so
    that merged runs keep each model's rows."""
    pairs = [n[: -len("-int8")] for n in run["candidates"] if n.endswith("-int8")
             and n[: -len("-int8")] + "-fp32" in run["candidates"]]
    agreement = run.get("agreement") or {}
    if len(pairs) != 1:
        return agreement
    return {k if " " in k else f"{pairs[0]} {k}": v for k, v in agreement.items()}


def _memo(predict: Callable) -> Callable:
    """``predict`` remembering each set's probabilities: the int8/fp32 agreement reads what was measured instead of
    predicting every report set a second time."""
    seen: dict[str, Any] = {}

    def run(s: Any) -> Any:
        if s.name not in seen:
            seen[s.name] = predict(s)
        return seen[s.name]

    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.compare_sentiment", description=__doc__.split("\n")[0])
    ap.add_argument("--candidates", default="baseline,use-logreg,use-mlp,e5-logreg,e5-mlp",
                    help=f"comma list from {', '.join(HEADS)} (empty for bundles only)")
    ap.add_argument("--bundle", action="append", type=Path, default=None,
                    help="bundle directory to compare too (repeatable; default: the shipped 1.0.0 and 2.0.0)")
    ap.add_argument("--precision", default="int8,fp32", help="transformer-onnx bundles: int8, fp32 or both")
    ap.add_argument("--limit", type=int, default=None, help="at most N rows per set (quick runs)")
    ap.add_argument("--out", type=Path, default=REPORTS)
    ap.add_argument("--name", default="sentiment-comparison", help="report file stem")
    ap.add_argument("--merge", nargs="+", type=Path, default=None,
                    help="combine earlier comparison JSONs (same protocol) into one report; measures nothing")
    ap.add_argument("--val-only", action="store_true",
                    help="measure the validation sets only (development runs: report sets stay unread)")
    args = ap.parse_args(argv)

    from qa_service.config import get_settings

    commit = git_commit()  # the code that measures: recorded before anything runs
    if args.merge:
        return merge(args.merge, args.out, args.name, argv)

    def lim(sets: list[ds.LabelledSet]) -> list[ds.LabelledSet]:
        return [s.subset(args.limit) for s in sets] if args.limit else sets

    train, val, report_sets = lim(ds.training_sets()), lim(ds.validation_sets()), lim(ds.report_sets())
    bundles = args.bundle if args.bundle is not None else [
        get_settings().models_dir / "sentiment" / v for v in ("1.0.0", "2.0.0")]
    cands: dict[str, Any] = {}
    predictors: dict[str, Callable] = {}
    for name in [c for c in args.candidates.split(",") if c]:
        t0 = time.time()
        predict, details = head_candidate(name, train, val)
        predictors[name] = predict = _memo(predict)
        cands[name] = {"details": details, "val": measure(predict, val), "seconds": round(time.time() - t0)}
    deciders: dict[str, Callable | None] = {}
    for path in bundles:
        for name, predict, details, decider in bundle_candidates(Path(path), tuple(args.precision.split(","))):
            predictors[name], deciders[name] = _memo(predict), decider
            cands[name] = {"details": details, "val": measure(predict, val, decider)}
    for c in cands.values():
        c["selection_score"] = round(selection_score(c["val"]), 4)
    chosen = max(cands, key=lambda n: cands[n]["selection_score"])
    if args.val_only:
        for name, c in cands.items():
            print(f"{name}: selection {c['selection_score']:.4f} " + ", ".join(
                f"{k} {v['macro_f1']:.3f}" for k, v in c["val"].items()), file=sys.stderr)
        return 0
    # Only now are the report sets read by any candidate.
    for name, c in cands.items():
        c["report"] = measure(predictors[name], report_sets, deciders.get(name))
        print(f"{name}: " + ", ".join(f"{k} {v['macro_f1']:.3f}" for k, v in c["report"].items()), file=sys.stderr,
              flush=True)
    agreement = {}
    pairs = [(n8, n8[: -len("-int8")] + "-fp32") for n8 in cands if n8.endswith("-int8")]
    pairs = [(n8, n32) for n8, n32 in pairs if n32 in cands]
    for n8, n32 in pairs:
        for s in report_sets:
            p8, p32 = predictors[n8](s).argmax(1), predictors[n32](s).argmax(1)
            key = s.name if len(pairs) == 1 else f"{n8[: -len('-int8')]} {s.name}"
            agreement[key] = {"label_agreement": round(float((p8 == p32).mean()), 4),
                              "macro_f1_delta": round(cands[n8]["report"][s.name]["macro_f1"]
                                                      - cands[n32]["report"][s.name]["macro_f1"], 4)}
    report = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": commit,
              "command": "python -m eval.compare_sentiment " + " ".join(argv if argv is not None else sys.argv[1:]),
              "limit": args.limit, "protocol": ds.split_summary(),
              "sets": {s.name: s.describe() for s in train + val + report_sets},
              "selection": {"chosen": chosen, "rule": "highest mean validation macro-F1 over languages; "
                            "report sets not used", "scores": {n: c["selection_score"] for n, c in cands.items()}},
              "candidates": cands, "agreement": agreement}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    (args.out / f"{args.name}.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

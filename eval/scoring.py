"""Evaluate rubric scoring against labelled transcripts; fit semantic thresholds on the tune split only.

    python -m eval.scoring                        # all rubrics in eval/transcripts/labelled.jsonl
    python -m eval.scoring --no-calibrate         # report with the rubric's default thresholds

On the ``tune`` split, each criterion with a semantic detector gets the threshold (grid 0.35-0.80) that
maximises agreement with the labels. On the ``report`` split: per-criterion accuracy and Cohen's kappa,
total-score MAE and Spearman correlation against the totals computed from the labels, auto-fail precision
and recall. Writes eval/reports/scoring-<rubric>.{json,md} and the calibration (thresholds, kappa per
criterion, rubric version) to models/rubrics/<rubric>.calibration.json, which the scorer reads.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.sentiment import REPORTS

DATA = Path(__file__).resolve().parent / "transcripts" / "labelled.jsonl"


def load_labelled(path: Path = DATA) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def labelled_total(rubric, labels: dict[str, str]) -> float | None:
    """The total the labels imply, with the rubric's own arithmetic (N/A excluded) and auto-fail policy."""
    from qa_service.pipelines.rubric import policy_total, rubric_totals

    total = rubric_totals(rubric, {k: None if v == "na" else float(v == "pass") for k, v in labels.items()})[1]
    critical_failed = any(labels.get(c.id) == "fail" for s in rubric.sections for c in s.criteria if c.critical)
    return policy_total(rubric, total, critical_failed)


def evaluate_rubric(rubric_id: str, rows: list[dict], calibrate: bool) -> dict[str, Any]:
    from scipy.stats import spearmanr

    from qa_service.config import get_settings
    from qa_service.pipelines.rubric.calibration import fit_thresholds, kappa
    from qa_service.schemas import Transcript
    from qa_service.runtime import get_runtime

    rt = get_runtime(get_settings())
    scorer = rt.scorer(rt.rubric(rubric_id))
    scorer.min_kappa = 0.0  # evaluate every criterion's own output
    rubric = scorer.rubric
    tune = [r for r in rows if r["split"] == "tune"]
    report = [r for r in rows if r["split"] == "report"]
    tr = lambda r: Transcript.model_validate({k: v for k, v in r.items() if k not in ("rubric", "split", "labels")})  # noqa: E731
    thresholds: dict[str, float] = {}
    if calibrate and tune:
        # the service's own fitting (qa-service train rubric): grid search per semantic criterion, ties to the
        # threshold nearest the rubric's own
        scorer.thresholds = {}
        thresholds = fit_thresholds(scorer, [tr(r) for r in tune], [r["labels"] for r in tune])
    scorer.thresholds = thresholds
    results = scorer.score_many([tr(r) for r in report])
    per: dict[str, Any] = {}
    for s in rubric.sections:
        for c in s.criteria:
            gold = [r["labels"][c.id] for r in report]
            pred = [next(x for x in res.criteria if x.id == c.id).result for res in results]
            per[c.id] = {"accuracy": round(float(np.mean([g == p for g, p in zip(gold, pred)])), 3),
                         "kappa": round(kappa(gold, pred), 3), "n": len(gold),
                         "threshold": thresholds.get(c.id)}
    gold_tot = [labelled_total(rubric, r["labels"]) for r in report]
    pred_tot = [x.total for x in results]
    pairs = [(g, p) for g, p in zip(gold_tot, pred_tot) if g is not None and p is not None]
    crit = [c.id for s in rubric.sections for c in s.criteria if c.critical]
    gold_af = [any(r["labels"][c] == "fail" for c in crit) for r in report]
    pred_af = [x.auto_fail for x in results]
    tp = sum(g and p for g, p in zip(gold_af, pred_af))
    out = {
        "rubric": {"id": rubric.id, "version": rubric.version},
        "n_tune": len(tune), "n_report": len(report),
        "mean_kappa": round(float(np.mean([v["kappa"] for v in per.values()])), 3),
        "criteria": per,
        "total_mae": round(float(np.mean([abs(g - p) for g, p in pairs])), 2) if pairs else None,
        "total_spearman": round(float(spearmanr([g for g, _ in pairs], [p for _, p in pairs])[0]), 3)
        if len(pairs) > 2 else None,
        "auto_fail_precision": round(tp / sum(pred_af), 3) if sum(pred_af) else None,
        "auto_fail_recall": round(tp / sum(gold_af), 3) if sum(gold_af) else None,
        "thresholds": thresholds,
    }
    return out


def markdown(r: dict[str, Any]) -> str:
    lines = [f"# Rubric scoring evaluation: {r['rubric']['id']} {r['rubric']['version']}", "",
             f"{r['n_tune']} tune / {r['n_report']} report transcripts. Mean kappa {r['mean_kappa']}; total MAE "
             f"{r['total_mae']}, Spearman {r['total_spearman']}; auto-fail precision {r['auto_fail_precision']}, "
             f"recall {r['auto_fail_recall']}.", "",
             "| criterion | accuracy | kappa | threshold |", "|---|---|---|---|"]
    for cid, v in r["criteria"].items():
        lines.append(f"| {cid} | {v['accuracy']} | {v['kappa']} | {v['threshold'] or '-'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.scoring", description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--no-calibrate", action="store_true")
    ap.add_argument("--out", type=Path, default=REPORTS)
    ap.add_argument("--write-calibration", action=argparse.BooleanOptionalAction, default=True)
    args = ap.parse_args(argv)

    from qa_service.config import get_settings

    rows = load_labelled(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    for rid in sorted({r["rubric"] for r in rows}):
        rep = evaluate_rubric(rid, [r for r in rows if r["rubric"] == rid], calibrate=not args.no_calibrate)
        rep["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        (args.out / f"scoring-{rid}.json").write_text(json.dumps(rep, indent=2) + "\n")
        (args.out / f"scoring-{rid}.md").write_text(markdown(rep))
        print(markdown(rep))
        if args.write_calibration:
            cal = {"rubric": rep["rubric"], "thresholds": rep["thresholds"],
                   "kappa": {k: v["kappa"] for k, v in rep["criteria"].items()},
                   "n_tune": rep["n_tune"], "n_report": rep["n_report"], "created": rep["created"],
                   "data": str(args.data.name)}
            (get_settings().rubrics_dir / f"{rid}.calibration.json").write_text(json.dumps(cal, indent=2) + "\n")
    print("reports in", args.out, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

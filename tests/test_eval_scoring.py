"""The rubric evaluation protocol (eval/scoring.py) on small fabricated results, the blind set's consistency with
the rubrics, and the shipped calibration."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace as NS

import numpy as np
import pytest

from eval.blind import load_blind
from eval.scoring import (bootstrap, criterion_stats, folds_of, kappa, labelled_total, mean_kappa, review_thresholds,
                          summarise)
from qa_service.io.rubrics import load_rubric, parse_rubric


def test_blind_labels_match_the_rubrics(settings):
    rubrics = {rid: load_rubric(rid, settings.rubrics_dir) for rid in ("default-es", "default-en")}
    for r in load_blind():
        rubric = rubrics[r["rubric"]]
        crit = {c.id: c for s in rubric.sections for c in s.criteria}
        assert set(r["labels"]) == set(crit), r["id"]
        for cid, lab in r["labels"].items():
            assert lab in ("pass", "fail", "na")
            assert lab != "na" or crit[cid].na_when, f"{r['id']}: {cid} is na but the rubric has no N/A rule"


def test_kappa_counts_a_predicted_na_on_an_informative_label_as_disagreement():
    rows = [{"labels": {"c": g}} for g in ("pass", "pass", "fail", "fail", "na")]
    perfect = [{"c": p} for p in ("pass", "pass", "fail", "fail", "pass")]  # the gold N/A row is not counted
    assert kappa(*[[r["labels"]["c"] for r in rows[:4]], [p["c"] for p in perfect[:4]]]) == 1.0
    st = criterion_stats(rows, perfect, "c", na_rule=True)
    assert st["kappa"] == 1.0 and st["n"] == 4 and st["na"]["accuracy"] == 0.8 and st["na"]["recall"] == 0.0
    hedged = [{"c": p} for p in ("pass", "na", "fail", "fail", "na")]
    st = criterion_stats(rows, hedged, "c", na_rule=True)
    assert st["kappa"] < 1.0 and st["pred_na"] == 1 and st["na"]["accuracy"] == 0.8
    assert np.isnan(kappa(["pass", "pass"], ["pass", "pass"]))  # undefined, not 1


def test_labelled_total_arithmetic(settings):
    rubric = load_rubric("default-en", settings.rubrics_dir)
    labels = {c.id: "pass" for s in rubric.sections for c in s.criteria}
    assert labelled_total(rubric, labels) == 100
    labels["no_sensitive_data"] = "fail"  # critical: the shipped rubric's policy (zero) applies to labels too
    assert labelled_total(rubric, labels) == 0.0
    keep = rubric.model_copy(update={"on_auto_fail": "keep"})
    # one of two equally weighted criteria in a weight-10 section of 100
    assert abs(labelled_total(keep, labels) - 95) < 1e-9


def test_bootstrap_interval_contains_the_estimate_and_narrows_with_data():
    rng = np.random.default_rng(0)

    def data(n):
        gold = rng.choice(["pass", "fail"], n)
        pred = [g if rng.random() < 0.85 else ("fail" if g == "pass" else "pass") for g in gold]
        return [{"labels": {"c": g}} for g in gold], [{"c": p} for p in pred]

    rows, preds = data(60)
    est = mean_kappa(rows, preds, ["c"])
    lo, hi = bootstrap(rows, preds, ["c"], n=300)["mean"]
    assert lo <= est <= hi
    rows2, preds2 = data(600)
    lo2, hi2 = bootstrap(rows2, preds2, ["c"], n=300)["mean"]
    assert hi2 - lo2 < hi - lo


def test_folds_are_stratified_by_group_and_channel():
    rows = [{"group": g, "channel": ch} for g in ("es-ES", "es-LA", "en") for ch in ("call", "chat") for _ in range(10)]
    fold = folds_of(rows, k=5)
    for g in ("es-ES", "es-LA", "en"):
        counts = np.bincount([f for r, f in zip(rows, fold) if r["group"] == g], minlength=5)
        assert counts.max() - counts.min() <= 1


RUB = parse_rubric({"id": "r", "version": "1", "language": "en", "sections": [{"id": "s", "name": "S", "weight": 1,
    "criteria": [{"id": "c", "question": "q?", "weight": 1, "na_when": ["no_hold"],
                  "detectors": [{"type": "pattern", "patterns": ["x"]}]}]}]})


def _res(result, conf=0.9, review=False):
    return NS(criteria=[NS(id="c", result=result, confidence=conf, needs_review=review, evidence=[])], total=None,
              auto_fail=False)


def test_review_threshold_keeps_tune_results_accurate():
    rows = [{"labels": {"c": "pass"}}] * 20
    results = [_res("pass", 0.95)] * 10 + [_res("fail", 0.6)] * 10  # confident ones right, unsure ones wrong
    assert review_thresholds(rows, results, RUB) == {"c": 0.65}
    assert review_thresholds(rows, [_res("pass", 0.55)] * 20, RUB) == {"c": 0.5}


def test_summarise_reports_na_accuracy_and_review_flags():
    rows = [{"labels": {"c": g}} for g in ("pass", "fail", "na", "pass")]
    results = [_res("pass"), _res("fail", review=True), _res("na"), _res("fail")]
    s = summarise(rows, results, RUB, boot=False)
    assert s["na_accuracy"] == 1.0
    assert s["review"] == {"flagged_share": pytest.approx(1 / 3, abs=1e-3), "unflagged_accuracy": 0.5}
    assert s["criteria"]["c"]["n"] == 3


def test_shipped_calibration_is_tune_cv_and_version_checked(tmp_path, settings):
    from qa_service.config import Settings
    from qa_service.io.rubrics import load_calibration

    rubric = load_rubric("default-es", settings.rubrics_dir)
    cal = load_calibration(settings.rubrics_dir, rubric)
    assert cal["rubric"]["version"] == rubric.version
    assert set(cal["kappa"]) == set(cal["review_below"]) == {c.id for s in rubric.sections for c in s.criteria}
    assert cal["kappa_source"].startswith("tune split") and cal["data"] == "eval/transcripts/splits.json"
    models = tmp_path / "models"
    shutil.copytree(settings.rubrics_dir, models / "rubrics")
    f = models / "rubrics" / "default-es.calibration.json"
    data = json.loads(f.read_text())
    data["rubric"]["version"] = "0.0.1"
    f.write_text(json.dumps(data))
    assert load_calibration(Settings(models_dir=models).rubrics_dir, rubric) == {}


def test_the_runtime_scorer_gates_low_kappa_criteria(settings):
    from qa_service.runtime import get_runtime

    rt = get_runtime(settings)
    sc = rt.scorer(rt.rubric("default-es"))
    assert sc.classifiers and sc.review_below
    low = [c for c, k in sc.kappa.items() if k is not None and k < settings.min_kappa]
    from qa_service.schemas import Transcript

    r = sc.score(Transcript(id="g", turns=[{"speaker": "agent", "text": "Buenas, le atiende Laura."},
                                           {"speaker": "customer", "text": "Hola, quería una información."}]))
    for c in r.criteria:
        if c.id in low and c.result != "na":
            assert c.needs_review, c.id

"""The rubric evaluation harness on the labelled seed set (no calibration, one rubric: quick)."""

from __future__ import annotations

from eval.scoring import evaluate_rubric, labelled_total, load_labelled
from qa_service.io.rubrics import load_rubric


def test_labelled_set_is_consistent_with_the_rubrics(settings):
    rows = load_labelled()
    assert {r["split"] for r in rows} == {"tune", "report"}
    for r in rows:
        rubric = load_rubric(r["rubric"], settings.rubrics_dir)
        ids = {c.id for s in rubric.sections for c in s.criteria}
        assert set(r["labels"]) == ids, r["id"]
        for s in rubric.sections:
            for c in s.criteria:
                if r["labels"][c.id] == "na":
                    assert c.na_when, f"{r['id']}: {c.id} labelled na but the rubric has no N/A rule"


def test_labelled_total_arithmetic(settings):
    rubric = load_rubric("default-en", settings.rubrics_dir)
    labels = {c.id: "pass" for s in rubric.sections for c in s.criteria}
    assert labelled_total(rubric, labels) == 100
    labels["no_sensitive_data"] = "fail"  # critical: the shipped rubric's policy (zero) applies to labels too
    assert labelled_total(rubric, labels) == 0.0
    keep = rubric.model_copy(update={"on_auto_fail": "keep"})
    # one of two equally weighted criteria in a weight-10 section of 100
    assert abs(labelled_total(keep, labels) - 95) < 1e-9


def test_evaluate_rubric_reports_every_metric():
    rows = [r for r in load_labelled() if r["rubric"] == "default-en"]
    rep = evaluate_rubric("default-en", rows, calibrate=False)
    assert rep["n_report"] == sum(r["split"] == "report" for r in rows)
    assert set(rep["criteria"]) >= {"greeting", "empathy", "no_sensitive_data"}
    assert rep["auto_fail_recall"] == 1.0  # the card read back in en-04 is caught
    assert rep["total_mae"] is not None and -1 <= rep["mean_kappa"] <= 1


def test_shipped_calibration_is_loaded_and_version_checked(tmp_path, settings):
    import json
    import shutil

    from qa_service.config import Settings
    from qa_service.io.rubrics import load_calibration

    rubric = load_rubric("default-es", settings.rubrics_dir)
    cal = load_calibration(settings.rubrics_dir, rubric)
    assert cal["rubric"]["version"] == rubric.version
    assert set(cal["kappa"]) == {c.id for s in rubric.sections for c in s.criteria}
    models = tmp_path / "models"
    shutil.copytree(settings.rubrics_dir, models / "rubrics")
    f = models / "rubrics" / "default-es.calibration.json"
    data = json.loads(f.read_text())
    data["rubric"]["version"] = "0.0.1"
    f.write_text(json.dumps(data))
    assert load_calibration(Settings(models_dir=models).rubrics_dir, rubric) == {}

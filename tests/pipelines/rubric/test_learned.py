"""Learned criterion classifiers: fitting on turn windows and findings, calibrated probabilities, bundles that
refuse another encoder, analysts' corrections, and the scorer letting a classifier decide."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa_service.errors import ModelLoadError
from qa_service.io.rubrics import parse_rubric
from qa_service.pipelines.rubric import RubricScorer
from qa_service.pipelines.rubric.learned import (CriterionClassifier, LearnedInput, load_classifiers,
                                                 merge_corrections, save_classifiers, window_matrix)
from qa_service.schemas import Transcript

D = 8


def _inputs(n: int, seed: int = 0):
    """Synthetic transcripts: a pass has one agent window along a hidden direction (the cited turn); findings
    carry a weak hint."""
    rng = np.random.default_rng(seed)
    direction = np.zeros(2 * D + 4)
    direction[0] = 3.0
    xs, ys, ev = [], [], []
    for k in range(n):
        passed = k % 2 == 0
        w = rng.normal(0, 0.3, (6, 2 * D + 4))
        if passed:
            w[2] += direction
        xs.append(LearnedInput(f"t{k}", w, [0, 2, 4, 6, 8, 10], {"0.pattern.found": float(passed and k % 4 == 0)}))
        ys.append("pass" if passed else "fail")
        ev.append([4] if passed else [])
    return xs, ys, ev


def test_classifier_learns_from_cited_windows_and_gives_calibrated_probabilities():
    xs, ys, ev = _inputs(80)
    m = CriterionClassifier(C_window=1.0, C=1.0).fit(xs, ys, ev)
    test_x, test_y, _ = _inputs(40, seed=1)
    p = np.array([m.predict_input(x)[0] for x in test_x])
    y = np.array([t == "pass" for t in test_y])
    assert ((p >= 0.5) == y).mean() >= 0.9
    assert 0.0 < p.min() and p.max() < 1.0 and len(set(np.round(p, 3))) > 10  # probabilities, not constants
    assert np.mean((p - y) ** 2) < 0.1  # Brier
    window = m.predict_input(test_x[0])[1]
    assert window == 4  # the most telling window is the planted one
    no_windows = CriterionClassifier(use_windows=False).fit(xs, ys, ev)
    q = np.array([no_windows.predict_input(x)[0] for x in test_x])
    assert ((q >= 0.5) == y).mean() < ((p >= 0.5) == y).mean()  # the windows carry the signal


def test_classifier_refuses_na_labels_and_mismatched_lengths():
    xs, ys, ev = _inputs(4)
    with pytest.raises(ValueError, match="pass or fail"):
        CriterionClassifier().fit(xs, ["pass", "na", "fail", "pass"], ev)
    with pytest.raises(ValueError, match="as many labels"):
        CriterionClassifier().fit(xs, ys[:2], ev)


class _Enc:
    name, dim = "tiny", D

    def __init__(self, fp: str = "sha256:aa") -> None:
        self.fp = fp

    def fingerprint(self) -> str:
        return self.fp


def test_bundle_round_trip_checksums_and_encoder_check(tmp_path):
    xs, ys, ev = _inputs(40)
    m = CriterionClassifier(C_window=1.0).fit(xs, ys, ev)
    extra = {"version": "1", "labels": ["fail", "pass"], "training_data": [], "metrics": {},
             "encoder": {"name": "tiny", "fingerprint": "sha256:aa"}}
    save_classifiers({"greeting": m}, tmp_path / "b", extra)
    back = load_classifiers(tmp_path / "b", _Enc())["greeting"]
    assert back.predict_input(xs[0]) == pytest.approx(m.predict_input(xs[0]))
    with pytest.raises(ModelLoadError, match="another encoder"):
        load_classifiers(tmp_path / "b", _Enc("sha256:bb"))
    (tmp_path / "b" / "weights.npz").write_bytes(b"corrupt")
    with pytest.raises(ModelLoadError, match="checksum"):
        load_classifiers(tmp_path / "b", _Enc())


def test_window_matrix_pairs_each_turn_with_the_other_speakers_last_turn():
    t = Transcript(id="w", turns=[{"speaker": "agent", "text": "a"}, {"speaker": "customer", "text": "b"},
                                  {"speaker": "system", "text": "c"}, {"speaker": "agent", "text": "d"}])
    v = np.eye(4, D, dtype=np.float32)
    x, ids = window_matrix(t, v, [0, 3])
    assert ids == [0, 3]
    assert np.allclose(x[1, :D], v[3]) and np.allclose(x[1, D : 2 * D], v[1])  # system turns skipped
    assert np.allclose(x[0, D : 2 * D], 0) and x[1, 2 * D] == 1 and x[1, 2 * D + 2] == 1.0


def test_merge_corrections_relabels_adds_and_refuses_unknowns():
    rows = [{"id": "a", "rubric": "r", "turns": [{"speaker": "agent", "text": "x"}],
             "labels": {"c1": "pass", "c2": "fail"}, "evidence": {"c1": [0], "c2": [0]}}]
    new = {"id": "b", "rubric": "r", "turns": [{"speaker": "agent", "text": "y"}], "labels": {"c1": "fail"}}
    out = merge_corrections(rows, [{"id": "a", "labels": {"c1": "fail", "c2": "fail"}}, new])
    assert [r["id"] for r in out] == ["a", "b"]
    assert out[0]["labels"] == {"c1": "fail", "c2": "fail"}
    assert out[0]["evidence"] == {"c2": [0]}  # the corrected criterion loses its old evidence
    assert rows[0]["labels"]["c1"] == "pass"  # the input is not changed
    with pytest.raises(ValueError, match="no labelled transcript 'zz'"):
        merge_corrections(rows, [{"id": "zz", "labels": {"c1": "pass"}}])
    with pytest.raises(ValueError, match="not pass, fail or na"):
        merge_corrections(rows, [{"id": "a", "labels": {"c1": "maybe"}}])


RUBRIC = parse_rubric({"id": "l", "version": "1", "language": "en", "sections": [{"id": "s", "name": "S", "weight": 1,
    "criteria": [{"id": "hello", "question": "greets?", "weight": 1, "detectors": [
        {"type": "pattern", "patterns": [r"\bhello\b"]}, {"type": "learned", "model": "greeting"}]}]}]})


class _Fixed:
    threshold = 0.5

    def __init__(self, p: float) -> None:
        self.p = p

    def predict(self, transcript, vectors, scope, findings, examples):
        assert all(k.startswith("0.") for k in findings) and findings  # the first detector's findings
        return self.p, scope[0], 0.9


class _OneHot:
    name, dim = "onehot", D

    def encode(self, texts):
        return np.eye(len(texts), D, dtype=np.float32)


def test_a_learned_detector_decides_with_its_probability_and_defers_without_a_model():
    t = Transcript(id="x", turns=[{"speaker": "agent", "text": "Hello there."}, {"speaker": "customer", "text": "hi"}])
    alone = RubricScorer(RUBRIC, encoder=_OneHot()).score(t).criteria[0]
    assert alone.result == "pass" and alone.evidence[0].detector == "pattern"  # no model: the pattern decides
    vetoed = RubricScorer(RUBRIC, encoder=_OneHot(), classifiers={"greeting": _Fixed(0.2)}).score(t).criteria[0]
    assert vetoed.result == "fail" and vetoed.confidence == pytest.approx(0.8)
    # a fail has no evidence: the window the model found most telling is cited as the closest candidate
    assert not vetoed.evidence and vetoed.closest.detector == "learned" and vetoed.closest.turn == 0
    assert "(closest: turn 0" in vetoed.rationale
    unsure = RubricScorer(RUBRIC, encoder=_OneHot(), classifiers={"greeting": _Fixed(0.62)},
                          review_below={"hello": 0.7}).score(t).criteria[0]
    assert unsure.result == "pass" and unsure.needs_review  # below its calibrated review threshold
    sure = RubricScorer(RUBRIC, encoder=_OneHot(), classifiers={"greeting": _Fixed(0.95)},
                        review_below={"hello": 0.7}).score(t).criteria[0]
    assert not sure.needs_review and sure.confidence == pytest.approx(0.95)


def test_shipped_classifiers_cover_every_learned_detector(settings):
    manifest = json.loads((settings.rubrics_dir / "classifiers" / "manifest.json").read_text())
    from qa_service.io.rubrics import load_rubric
    from qa_service.pipelines.rubric.learned import learned_models

    for rid in ("default-es", "default-en"):
        rubric = load_rubric(rid, settings.rubrics_dir)
        assert set(learned_models(rubric)) <= set(manifest["models"]), rid
        assert manifest["rubrics"][rid] == rubric.version
    assert manifest["training_data"][0]["split"] == "eval/transcripts/splits.json"


def test_a_card_read_out_fails_even_when_the_classifier_would_pass_it():
    rubric = parse_rubric({"id": "p", "version": "1", "language": "en", "sections": [{"id": "s", "name": "S",
        "weight": 1, "criteria": [{"id": "nosens", "question": "no data?", "weight": 1, "critical": True,
                                   "detectors": [{"type": "pii", "entities": ["card_number"], "expect": "absent"},
                                                 {"type": "learned", "model": "no_sensitive_data"}]}]}]})
    sc = RubricScorer(rubric, encoder=_OneHot(), classifiers={"no_sensitive_data": _Fixed(0.99)})
    read = Transcript(id="r", turns=[{"speaker": "agent", "text": "Your card is 4539 1488 0343 6467, right?"}])
    c = sc.score(read).criteria[0]
    assert c.result == "fail" and c.evidence[0].label == "card_number" and c.confidence >= 0.95
    clean = Transcript(id="c", turns=[{"speaker": "agent", "text": "Your card ending 6467, right?"}])
    assert sc.score(clean).criteria[0].result == "pass"

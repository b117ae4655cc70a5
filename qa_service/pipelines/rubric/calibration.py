"""Calibrating a rubric on labelled transcripts: the semantic threshold of each criterion (grid search for the best
agreement with the labels) and each criterion's agreement with them (accuracy, Cohen's kappa).

The encoder and the sentiment model are memoised while fitting (:func:`memoised`), so the many scoring passes of a
grid search embed each sentence and label each customer turn once.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from qa_service.schemas import Transcript

GRID: list[float] = [round(float(x), 2) for x in np.arange(0.35, 0.81, 0.05)]
DEFAULT_THRESHOLD = 0.55

Labels = dict[str, str]
"""criterion id -> pass | fail | na"""


class _MemoEncoder:
    """An encoder that remembers the vector of every text it has embedded."""

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.dim = getattr(encoder, "dim", None)
        self.name = getattr(encoder, "name", None)
        self.cache: dict[str, np.ndarray] = {}
        self.batches: dict[tuple[str, ...], np.ndarray] = {}  # a grid search asks for the same batch many times

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        key = tuple(texts)
        if key in self.batches:
            return self.batches[key]
        new = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if new:
            for t, v in zip(new, self.encoder.encode(new)):
                self.cache[t] = v
        out = np.vstack([self.cache[t] for t in texts]) if texts else np.zeros((0, self.dim or 1), np.float32)
        if len(self.batches) >= 16:
            self.batches.clear()
        self.batches[key] = out
        return out

    def fingerprint(self) -> str:
        return self.encoder.fingerprint()


class _MemoSentiment:
    """A sentiment model that remembers the result (and the probabilities) of every text it has labelled."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.version = getattr(model, "version", None)
        self.cache: dict[str, Any] = {}
        self.proba: dict[tuple[str, str | None], np.ndarray] = {}

    def predict_proba(self, texts: Sequence[str], languages: Sequence[str] | None = None) -> np.ndarray:
        texts = list(texts)
        langs = list(languages) if languages is not None else [None] * len(texts)
        keys = list(zip(texts, langs))
        new = list(dict.fromkeys(k for k in keys if k not in self.proba))
        if new:
            got = self.model.predict_proba([t for t, _ in new],
                                           None if languages is None else [lang for _, lang in new])
            for k, p in zip(new, got):
                self.proba[k] = p
        return np.vstack([self.proba[k] for k in keys]) if keys else np.zeros((0, 3))

    def predict(self, texts: Any, ids: Any = None) -> Any:
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        new = list(dict.fromkeys(t for t in batch if t not in self.cache))
        if new:
            for t, r in zip(new, self.model.predict(new)):
                self.cache[t] = r
        out = [self.cache[t] for t in batch]
        return out[0] if single else out


@contextmanager
def memoised(scorer: Any) -> Iterator[Any]:
    """The scorer with its encoder and sentiment model memoised (restored afterwards)."""
    enc, sent = scorer.encoder, scorer.sentiment
    if enc is not None:
        scorer.encoder = _MemoEncoder(enc)
    if sent is not None:
        if enc is not None and getattr(sent, "encoder_", None) is enc and hasattr(sent, "predict_proba_embeddings"):
            # a head on the scorer's encoder: keep sharing it (the memoised one), the head itself is cheap
            scorer.sentiment = copy.copy(sent)
            scorer.sentiment.encoder_ = scorer.encoder
        else:
            scorer.sentiment = _MemoSentiment(sent)
    try:
        yield scorer
    finally:
        scorer.encoder, scorer.sentiment = enc, sent


def semantic_criteria(rubric: Any) -> list[str]:
    """Ids of the criteria that have a semantic detector (the ones a threshold changes)."""
    return [c.id for s in rubric.sections for c in s.criteria if any(d.type == "semantic" for d in c.detectors)]


def _usable(labels: Sequence[Labels], exclude: Sequence[set[str]] | None, cid: str) -> list[int]:
    return [i for i, lab in enumerate(labels) if cid in lab and not (exclude and cid in exclude[i])]


def fit_thresholds(scorer: Any, transcripts: Sequence[Transcript], labels: Sequence[Labels],
                   exclude: Sequence[set[str]] | None = None, grid: Sequence[float] = GRID,
                   progress: Any = None) -> dict[str, float]:
    """The threshold of each semantic criterion (from ``grid``) that maximises agreement with ``labels``; ties go
    to the threshold nearest the rubric's own. ``exclude[i]``: criteria of transcript ``i`` left out (e.g. disputed
    ``partly``). Criteria without a usable label keep no fitted threshold. ``scorer.thresholds`` is left as it was.

    Args:
        progress: ``callable(done, total)`` after each criterion.
    """
    rubric = scorer.rubric
    default = {c.id: next((d.threshold for d in c.detectors if d.type == "semantic" and d.threshold),
                          DEFAULT_THRESHOLD) for s in rubric.sections for c in s.criteria}
    before = dict(scorer.thresholds)
    fitted: dict[str, float] = {}
    ids = semantic_criteria(rubric)
    try:
        with memoised(scorer):
            for k, cid in enumerate(ids):
                rows = _usable(labels, exclude, cid)
                if rows:
                    subset = [transcripts[i] for i in rows]
                    best, best_acc = None, -1.0
                    for thr in sorted(grid, key=lambda x: abs(x - default[cid])):
                        scorer.thresholds = {**fitted, cid: thr}
                        res = scorer.criterion_results(subset, cid)
                        acc = float(np.mean([r.result == labels[i][cid] for r, i in zip(res, rows)]))
                        if acc > best_acc + 1e-9:
                            best, best_acc = thr, acc
                    fitted[cid] = float(best)
                if progress:
                    progress(k + 1, len(ids))
    finally:
        scorer.thresholds = before
    return fitted


def kappa(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Cohen's kappa; 1.0 for perfect agreement on a single class, 0.0 for a single-class disagreement."""
    from sklearn.metrics import cohen_kappa_score

    if not gold:
        return 0.0
    if len(set(gold) | set(pred)) < 2:
        return 1.0 if list(gold) == list(pred) else 0.0
    return float(cohen_kappa_score(list(gold), list(pred)))


def predictions(scorer: Any, transcripts: Sequence[Transcript]) -> list[dict[str, str]]:
    """criterion id -> result for each transcript."""
    return [{c.id: c.result for c in r.criteria} for r in scorer.score_many(list(transcripts))]


def agreement(pred: Sequence[dict[str, str]], labels: Sequence[Labels],
              exclude: Sequence[set[str]] | None = None) -> dict[str, dict[str, float]]:
    """Per criterion: accuracy, Cohen's kappa and n of ``pred`` against ``labels``."""
    out: dict[str, dict[str, float]] = {}
    crits = list(dict.fromkeys(c for p in pred for c in p))
    for cid in crits:
        rows = _usable(labels, exclude, cid)
        gold = [labels[i][cid] for i in rows]
        got = [pred[i][cid] for i in rows]
        out[cid] = {"accuracy": round(float(np.mean([g == p for g, p in zip(gold, got)])), 4) if rows else 0.0,
                    "kappa": round(kappa(gold, got), 4), "n": len(rows)}
    return out


def cross_fitted_kappa(scorer: Any, transcripts: Sequence[Transcript], labels: Sequence[Labels],
                       exclude: Sequence[set[str]] | None = None, folds: int = 2) -> dict[str, float]:
    """Each criterion's kappa out of sample: thresholds fitted on all folds but one, measured on that one, pooled.
    (Measured on the fitting data itself, kappa would flatter the fit.)"""
    return cross_fitted(scorer, transcripts, labels, exclude, folds)[0]


def cross_fitted(scorer: Any, transcripts: Sequence[Transcript], labels: Sequence[Labels],
                 exclude: Sequence[set[str]] | None = None, folds: int = 2,
                 fit_models: Callable[[list[int]], dict[str, Any]] | None = None
                 ) -> tuple[dict[str, float], dict[str, float]]:
    """Each criterion's kappa and review threshold out of sample: thresholds (and, with ``fit_models``, the
    criterion classifiers: ``fit_models(train indices)`` -> classifiers by model name) fitted on all folds but
    one, that fold scored with them, results pooled. Returns (kappa, review_below) by criterion id."""
    n = len(transcripts)
    results: list[Any] = [None] * n
    before = (dict(scorer.thresholds), getattr(scorer, "classifiers", None))
    try:
        for f in range(folds):
            train = [i for i in range(n) if i % folds != f]
            test = [i for i in range(n) if i % folds == f]
            if not test:
                continue
            scorer.thresholds = fit_thresholds(scorer, [transcripts[i] for i in train], [labels[i] for i in train],
                                               [exclude[i] for i in train] if exclude else None) if train else {}
            if fit_models is not None:
                scorer.classifiers = fit_models(train) if train else {}
            for i, r in zip(test, scorer.score_many([transcripts[i] for i in test])):
                results[i] = r
    finally:
        scorer.thresholds = before[0]
        if fit_models is not None:
            scorer.classifiers = before[1]
    pred = [{c.id: c.result for c in r.criteria} if r is not None else {} for r in results]
    agree = agreement(pred, labels, exclude)
    usable = [lab if not exclude else {c: v for c, v in lab.items() if c not in exclude[i]}
              for i, lab in enumerate(labels)]
    review = review_thresholds(usable, [r for r in results], scorer.rubric)
    return {cid: v["kappa"] for cid, v in agree.items()}, review


REVIEW_ACCURACY = 0.9
"""The review threshold of a criterion keeps the results above it at least this accurate (out of sample)."""
REVIEW_GRID: list[float] = [round(float(x), 2) for x in np.arange(0.5, 0.951, 0.05)]


def review_thresholds(labels: Sequence[Labels], results: Sequence[Any], rubric: Any,
                      accuracy: float = REVIEW_ACCURACY) -> dict[str, float]:
    """Per criterion, the lowest confidence (``REVIEW_GRID``) at or above which out-of-sample results are at least
    ``accuracy`` accurate on informative labels (pass/fail); results below it are flagged ``needs_review``
    (0.95, the top of the grid, when none is)."""
    out = {}
    for s in rubric.sections:
        for c in s.criteria:
            pairs = [(x.confidence, x.result == lab[c.id]) for lab, res in zip(labels, results) if res is not None
                     for x in res.criteria if x.id == c.id and lab.get(c.id) in ("pass", "fail")]
            chosen = REVIEW_GRID[-1]
            for t in REVIEW_GRID:
                kept = [ok for conf, ok in pairs if conf >= t]
                if kept and np.mean(kept) >= accuracy:
                    chosen = t
                    break
            out[c.id] = chosen
    return out

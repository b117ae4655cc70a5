"""Classification metrics used in every sentiment report."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """ECE of the top-class confidence, equal-width bins."""
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(float)
    bins = np.linspace(0, 1, n_bins + 1)
    ece = 0.0
    for lo, hi in zip(bins[:-1], bins[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def classification_report(probs: np.ndarray, y: np.ndarray, labels: Sequence[str]) -> dict:
    """macro-F1, accuracy, per-class precision/recall/F1, confusion matrix (rows = gold), ECE, support."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    k = len(labels)
    pred = probs.argmax(axis=1)
    present = sorted(set(y.tolist()))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=list(range(k)), zero_division=0)
    return {
        "n": int(len(y)),
        "macro_f1": round(float(f1_score(y, pred, labels=present, average="macro", zero_division=0)), 4),
        "macro_f1_ci95": list(bootstrap_macro_f1(y, pred)),
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "ece": round(expected_calibration_error(probs, y), 4),
        "per_class": {labels[i]: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                                  "f1": round(float(f[i]), 4), "support": int(s[i])} for i in range(k)},
        "confusion": {"labels": list(labels), "matrix": confusion_matrix(y, pred, labels=list(range(k))).tolist()},
    }


def macro_f1_from_pred(y: np.ndarray, pred: np.ndarray, k: int = 3) -> float:
    """Macro-F1 over the classes present in ``y`` (same convention as :func:`classification_report`)."""
    present = np.unique(y)
    f = []
    for c in present:
        tp = np.sum((pred == c) & (y == c))
        fp = np.sum((pred == c) & (y != c))
        fn = np.sum((pred != c) & (y == c))
        f.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f)) if f else 0.0


def bootstrap_macro_f1(y: np.ndarray, pred: np.ndarray, n: int = 1000, seed: int = 13) -> tuple[float, float]:
    """95% percentile bootstrap interval of macro-F1 (rows resampled with replacement)."""
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        vals.append(macro_f1_from_pred(y[i], pred[i]))
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return round(float(lo), 4), round(float(hi), 4)


def paired_bootstrap_delta(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, n: int = 1000,
                           seed: int = 13) -> tuple[float, float, float]:
    """Macro-F1(a) - macro-F1(b) and its 95% paired bootstrap interval (same resampled rows for both)."""
    rng = np.random.default_rng(seed)
    d = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        d.append(macro_f1_from_pred(y[i], pred_a[i]) - macro_f1_from_pred(y[i], pred_b[i]))
    lo, hi = np.percentile(d, [2.5, 97.5])
    return (round(macro_f1_from_pred(y, pred_a) - macro_f1_from_pred(y, pred_b), 4), round(float(lo), 4),
            round(float(hi), 4))

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
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "ece": round(expected_calibration_error(probs, y), 4),
        "per_class": {labels[i]: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                                  "f1": round(float(f[i]), 4), "support": int(s[i])} for i in range(k)},
        "confusion": {"labels": list(labels), "matrix": confusion_matrix(y, pred, labels=list(range(k))).tolist()},
    }

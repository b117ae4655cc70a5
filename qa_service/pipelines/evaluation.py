"""Measuring models on labelled data: classification metrics, reliability curves, Cohen's kappa, and paired
bootstrap intervals for the difference between two models on the same items.

Pure functions over arrays (no I/O). Label arrays hold class indices; metrics count only the classes present in
the gold labels (a one-class set gives the F1 of that class).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def confusion(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """k x k counts, rows = gold, columns = predicted."""
    return np.bincount(np.asarray(y) * k + np.asarray(pred), minlength=k * k).reshape(k, k)


def f1_per_class(cm: np.ndarray) -> np.ndarray:
    tp = np.diag(cm).astype(float)
    denom = cm.sum(0) + cm.sum(1)
    return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def macro_f1(y: np.ndarray, pred: np.ndarray, k: int) -> float:
    """Macro-F1 over the classes present in ``y``."""
    cm = confusion(y, pred, k)
    present = cm.sum(1) > 0
    return float(f1_per_class(cm)[present].mean()) if present.any() else 0.0


def accuracy(y: np.ndarray, pred: np.ndarray, k: int = 0) -> float:
    return float(np.mean(np.asarray(y) == np.asarray(pred))) if len(y) else 0.0


def reliability(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> dict:
    """Calibration curve of the top-class confidence (equal-width bins) and the expected calibration error."""
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0, 1, bins + 1)
    curve, ece = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            curve.append({"confidence": round(float(conf[m].mean()), 4), "accuracy": round(float(correct[m].mean()), 4),
                          "n": int(m.sum())})
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return {"curve": curve, "ece": round(float(ece), 4)}


def classification_summary(probs: np.ndarray, y: np.ndarray, labels: Sequence[str]) -> dict:
    """macro-F1, accuracy, per-class F1 and support, confusion matrix, reliability curve and ECE."""
    k = len(labels)
    pred = probs.argmax(axis=1)
    cm = confusion(y, pred, k)
    f1 = f1_per_class(cm)
    rel = reliability(probs, y)
    return {"n": int(len(y)), "macro_f1": round(macro_f1(y, pred, k), 4), "accuracy": round(accuracy(y, pred), 4),
            "ece": rel["ece"], "per_class": {lab: {"f1": round(float(f1[i]), 4), "support": int(cm[i].sum())}
                                             for i, lab in enumerate(labels)},
            "confusion": {"labels": list(labels), "matrix": cm.tolist()}, "reliability": rel["curve"]}


def kappa_codes(gold: np.ndarray, pred: np.ndarray, k: int) -> float:
    """Cohen's kappa of two integer-coded label arrays (1.0 when both are one and the same class throughout)."""
    n = len(gold)
    if n == 0:
        return 0.0
    cm = confusion(gold, pred, k).astype(float)
    po = np.trace(cm) / n
    pe = float((cm.sum(0) * cm.sum(1)).sum()) / (n * n)
    if pe >= 1.0:
        return 1.0 if po == 1.0 else 0.0
    return float((po - pe) / (1 - pe))


def paired_bootstrap(metric: Callable[[np.ndarray], float], n: int, samples: int = 1000, seed: int = 13,
                     level: float = 0.95) -> tuple[float, float]:
    """A percentile interval of ``metric(indices)`` over ``samples`` resamples of ``n`` items with replacement.
    ``metric`` computes a difference of two models on the same resampled items, so the interval is paired."""
    rng = np.random.default_rng(seed)
    values = np.array([metric(rng.integers(0, n, n)) for _ in range(samples)])
    a = (1 - level) / 2
    return float(np.quantile(values, a)), float(np.quantile(values, 1 - a))

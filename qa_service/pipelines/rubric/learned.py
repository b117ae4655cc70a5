"""Learned criterion classifiers: a criterion decided by a model trained on labelled transcripts.

Two linear stages (numpy and scikit-learn to fit, numpy to predict):

1. a *window* model (class-balanced ridge regression) scores every turn in the criterion's scope from its embedding, the embedding of the other
   speaker's turn before it, who speaks and where in the call: trained on the turns analysts cited as evidence
   (for a criterion that passes by presence: the cited turns of passing transcripts against every turn of
   failing ones; for one that fails by presence, ``expect: absent``: the cited turns of failing transcripts
   against every turn of passing ones);
2. a *transcript* model (logistic regression) turns the best window scores and the findings of the criterion's other detectors
   (structure: holds, final phase, commitments, negativity...; patterns; similarity to the rubric's examples)
   into P(pass). Its window inputs are cross-fitted (each transcript's window scores come from a window model
   that did not see it), so the probability it learns is honest; it is the criterion's confidence.

:func:`merge_corrections` folds analysts' corrections into labelled transcripts before fitting, so a deployment
can retrain on its own reviewed calls (``python -m training.rubric_classifier``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from qa_service.errors import ModelLoadError
from qa_service.schemas import Transcript

TASK = "rubric-classifiers"


@dataclass
class LearnedInput:
    """What a ``learned`` detector sees for one criterion of one transcript."""

    transcript_id: str
    windows: np.ndarray
    window_turns: list[int]
    findings: dict[str, float] = field(default_factory=dict)


def window_matrix(transcript: Transcript, turn_vectors: np.ndarray, scope: Sequence[int]) -> tuple[np.ndarray, list[int]]:
    """One row per non-blank turn in ``scope``: [its embedding, the embedding of the other party's last turn before
    it (zeros if none; for a system turn, the last agent or customer turn), is agent, is customer, position in
    the call (0..1), first turn of its speaker]."""
    turns = transcript.turns
    n, d = len(turns), turn_vectors.shape[1]
    nonblank = turn_vectors.any(axis=1)
    last = {"agent": -1, "customer": -1, "any": -1}
    prev = np.full(n, -1)
    first = np.zeros(n, bool)
    seen: set[str] = set()
    for i, t in enumerate(turns):
        sp = t.speaker
        prev[i] = last["customer" if sp == "agent" else "agent" if sp == "customer" else "any"]
        first[i] = sp not in seen
        seen.add(sp)
        if nonblank[i] and sp != "system":
            last[sp] = last["any"] = i
    ids = [i for i in scope if nonblank[i]]
    if not ids:
        return np.zeros((0, 2 * d + 4), np.float32), []
    rows = np.asarray(ids)
    before = np.where(prev[rows, None] >= 0, turn_vectors[np.maximum(prev[rows], 0)], 0.0)
    flags = np.array([[turns[i].speaker == "agent", turns[i].speaker == "customer", i / max(1, n - 1), first[i]]
                      for i in ids], np.float32)
    return np.hstack([turn_vectors[rows], before, flags]).astype(np.float32), ids


class InputRecorder:
    """Stands in for a classifier while a scorer runs, to collect what each ``learned`` detector sees (the
    training inputs); predicts 0.5 meanwhile."""

    threshold = 0.5

    def __init__(self) -> None:
        self.inputs: list[LearnedInput] = []

    def predict(self, transcript: Transcript, turn_vectors: np.ndarray, scope: Sequence[int],
                findings: dict[str, float], examples: dict[str, float]) -> tuple[float, int | None, float | None]:
        x, ids = window_matrix(transcript, turn_vectors, scope)
        self.inputs.append(LearnedInput(transcript.id, x, ids, {**findings, **examples}))
        return 0.5, None, None


def _sigmoid(z: np.ndarray | float) -> np.ndarray | float:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _pooled(scores: np.ndarray) -> list[float]:
    if len(scores) == 0:
        return [0.0, 0.0, 0.0]
    s = np.sort(scores)[::-1]
    return [float(s[0]), float(s[: 2].mean()), float(scores.mean())]


POOLED = ("window.max", "window.top2", "window.mean")


class CriterionClassifier:
    """One criterion's classifier (see the module docstring).

    Args:
        absent: the criterion fails when something is present (tone, sensitive data): windows learn the violation.
        C_window: inverse regularisation of the window model (a ridge regression: penalty 1 / C_window).
        C: inverse regularisation of the transcript model.
        folds: cross-fitting folds for the window scores the transcript model learns from.
        threshold: P(pass) at or above which the criterion passes.
        use_windows: False leaves the window model out (structure and findings only).
        seed: for the folds.
    """

    def __init__(self, absent: bool = False, C_window: float = 0.05, C: float = 0.3, folds: int = 5,
                 threshold: float = 0.5, use_windows: bool = True, seed: int = 0) -> None:
        self.absent = absent
        self.C_window = C_window
        self.C = C
        self.folds = folds
        self.threshold = threshold
        self.use_windows = use_windows
        self.seed = seed

    # ------------------------------------------------------------------ fitting
    def _window_targets(self, inputs: Sequence[LearnedInput], labels: Sequence[str],
                        evidence: Sequence[Iterable[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        xs, ys, groups = [], [], []
        signal = "fail" if self.absent else "pass"
        for g, (inp, lab, ev) in enumerate(zip(inputs, labels, evidence)):
            cited = set(ev)
            for row, turn in zip(inp.windows, inp.window_turns):
                if lab == signal:
                    if turn not in cited:
                        continue  # not cited: unknown, left out
                    y = 1
                else:
                    y = 0
                xs.append(row)
                ys.append(y)
                groups.append(g)
        if not xs:
            return np.zeros((0, 1)), np.zeros(0), np.zeros(0)
        return np.asarray(xs), np.asarray(ys), np.asarray(groups)

    def _fit_window(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float] | None:
        """Class-balanced ridge regression of the window target (closed form: fast enough to cross-fit every
        criterion in a few seconds); its linear score ranks windows."""
        if len(set(y.tolist())) < 2:
            return None
        w = np.where(y == 1, 0.5 / max(1, (y == 1).sum()), 0.5 / max(1, (y == 0).sum())) * len(y)
        mu = (w[:, None] * x).sum(axis=0) / w.sum()
        ybar = float((w * y).sum() / w.sum())
        xc = x - mu
        gram = (xc * w[:, None]).T @ xc
        gram[np.diag_indices_from(gram)] += 1.0 / self.C_window
        coef = np.linalg.solve(gram, (xc * w[:, None]).T @ (y - ybar))
        return coef.astype(np.float32), float(ybar - mu @ coef)

    def fit(self, inputs: Sequence[LearnedInput], labels: Sequence[str],
            evidence: Sequence[Iterable[int]] | None = None) -> "CriterionClassifier":
        """Fit on informative examples: ``labels`` pass|fail (N/A rows must be left out), ``evidence`` the turns
        analysts cited for each (None: the window model is left out)."""
        from sklearn.linear_model import LogisticRegression

        inputs, labels = list(inputs), list(labels)
        if len(inputs) != len(labels) or not inputs:
            raise ValueError("fit needs as many labels as inputs, and at least one")
        if not set(labels) <= {"pass", "fail"}:
            raise ValueError("labels must be pass or fail (leave N/A rows out)")
        y = np.array([lab == "pass" for lab in labels], dtype=int)
        self.window_coef_: np.ndarray | None = None
        self.window_intercept_ = 0.0
        pooled = np.zeros((len(inputs), len(POOLED)))
        if self.use_windows and evidence is not None:
            evidence = [list(e) for e in evidence]
            xw, yw, gw = self._window_targets(inputs, labels, evidence)
            fitted = self._fit_window(xw, yw) if len(xw) else None
            if fitted is not None:
                self.window_coef_, self.window_intercept_ = fitted
                # cross-fitted window scores: each transcript scored by a window model that did not see it
                rng = np.random.default_rng(self.seed)
                fold_of = rng.permutation(len(inputs)) % max(2, min(self.folds, len(inputs)))
                for k in np.unique(fold_of):
                    train = [g for g in range(len(inputs)) if fold_of[g] != k]
                    keep = np.isin(gw, train)
                    part = self._fit_window(xw[keep], yw[keep]) or (self.window_coef_, self.window_intercept_)
                    for g in np.where(fold_of == k)[0]:
                        w = inputs[g].windows
                        pooled[g] = _pooled(w @ part[0] + part[1] if len(w) else np.zeros(0))
        names = sorted({k for inp in inputs for k in inp.findings})
        self.feature_names_ = list(POOLED) + names if self.window_coef_ is not None else names
        x = np.array([self._row(inp, p) for inp, p in zip(inputs, pooled)], dtype=float)
        self.mean_ = x.mean(axis=0) if len(x) else np.zeros(x.shape[1])
        self.scale_ = x.std(axis=0)
        self.scale_[self.scale_ < 1e-6] = 1.0
        z = (x - self.mean_) / self.scale_
        if len(set(y.tolist())) < 2:  # one class only: a constant, at the rate seen
            self.coef_ = np.zeros(z.shape[1])
            rate = (y.sum() + 1) / (len(y) + 2)
            self.intercept_ = float(np.log(rate / (1 - rate)))
        else:
            m = LogisticRegression(C=self.C, max_iter=2000)
            m.fit(z, y)
            self.coef_, self.intercept_ = m.coef_[0].astype(float), float(m.intercept_[0])
        self.n_train_ = len(inputs)
        return self

    def _row(self, inp: LearnedInput, pooled: Sequence[float] | None) -> list[float]:
        row = list(pooled) if self.window_coef_ is not None else []
        names = self.feature_names_[len(row):]
        return row + [float(inp.findings.get(k, 0.0)) for k in names]

    # ------------------------------------------------------------------ inference
    def window_scores(self, windows: np.ndarray) -> np.ndarray:
        if self.window_coef_ is None or not len(windows):
            return np.zeros(len(windows))
        return windows @ self.window_coef_ + self.window_intercept_

    def predict_input(self, inp: LearnedInput) -> tuple[float, int | None, float | None]:
        """P(pass), the most telling window's turn and its score (None without windows)."""
        scores = self.window_scores(inp.windows)
        x = np.array(self._row(inp, _pooled(scores)), dtype=float)
        p = float(_sigmoid(((x - self.mean_) / self.scale_) @ self.coef_ + self.intercept_))
        if not len(scores) or self.window_coef_ is None:
            return p, None, None
        k = int(np.argmax(scores))
        return p, inp.window_turns[k], float(np.clip(scores[k], 0.0, 1.0))

    def predict(self, transcript: Transcript, turn_vectors: np.ndarray, scope: Sequence[int],
                findings: dict[str, float], examples: dict[str, float]) -> tuple[float, int | None, float | None]:
        """What a ``learned`` detector calls: P(pass), the most telling window's turn and its score."""
        x, ids = window_matrix(transcript, turn_vectors, scope)
        return self.predict_input(LearnedInput(transcript.id, x, ids, {**findings, **examples}))

    # ------------------------------------------------------------------ persistence
    def arrays(self) -> dict[str, np.ndarray]:
        out = {"coef": np.asarray(self.coef_, np.float64), "mean": self.mean_, "scale": self.scale_}
        if self.window_coef_ is not None:
            out["window_coef"] = self.window_coef_
        return out

    def meta(self) -> dict[str, Any]:
        return {"absent": self.absent, "C_window": self.C_window, "C": self.C, "threshold": self.threshold,
                "use_windows": self.use_windows, "intercept": self.intercept_,
                "window_intercept": self.window_intercept_, "features": self.feature_names_,
                "n_train": self.n_train_}

    @classmethod
    def from_arrays(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "CriterionClassifier":
        m = cls(absent=meta["absent"], C_window=meta["C_window"], C=meta["C"], threshold=meta["threshold"],
                use_windows=meta["use_windows"])
        m.coef_, m.mean_, m.scale_ = arrays["coef"], arrays["mean"], arrays["scale"]
        m.window_coef_ = arrays.get("window_coef")
        m.intercept_, m.window_intercept_ = float(meta["intercept"]), float(meta["window_intercept"])
        m.feature_names_, m.n_train_ = list(meta["features"]), int(meta["n_train"])
        if len(m.coef_) != len(m.feature_names_):
            raise ValueError("coefficients and feature names differ in length")
        return m


# ----------------------------------------------------------------------------- bundles
def save_classifiers(models: dict[str, CriterionClassifier], bundle: Path, manifest_extra: dict[str, Any]) -> dict:
    """Write ``weights.npz`` and ``manifest.json`` (with checksums) into ``bundle``."""
    from qa_service.bundles import write_manifest

    bundle = Path(bundle)
    bundle.mkdir(parents=True, exist_ok=True)
    arrays = {f"{name}/{k}": v for name, m in models.items() for k, v in m.arrays().items()}
    np.savez(bundle / "weights.npz", **arrays)
    manifest = {"task": TASK, "models": {name: m.meta() for name, m in models.items()},
                "artifacts": {"weights.npz": ""}, **manifest_extra}
    return write_manifest(bundle, manifest)


def load_classifiers(bundle: Path, encoder: Any = None) -> dict[str, CriterionClassifier]:
    """The classifiers of a bundle, verified (checksums; the encoder's fingerprint when ``encoder`` is given:
    window models only make sense on the embeddings they were trained on)."""
    from qa_service.bundles import read_manifest

    bundle = Path(bundle)
    manifest = read_manifest(bundle, task=TASK)
    enc = manifest.get("encoder") or {}
    if encoder is not None and enc.get("fingerprint") and encoder.fingerprint() != enc["fingerprint"]:
        raise ModelLoadError(f"{bundle / 'manifest.json'}: the criterion classifiers were trained on another encoder "
                             f"({enc.get('name')}) than {getattr(encoder, 'name', 'this one')}",
                             str(bundle / "manifest.json"))
    try:
        with np.load(bundle / "weights.npz") as z:
            arrays = {k: z[k] for k in z.files}
        out = {}
        for name, meta in manifest["models"].items():
            mine = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.split("/", 1)[0] == name}
            out[name] = CriterionClassifier.from_arrays(meta, mine)
        return out
    except (KeyError, ValueError, OSError) as exc:
        raise ModelLoadError(f"{bundle}: cannot read the criterion classifiers ({exc})", str(bundle)) from exc


# ----------------------------------------------------------------------------- corrections
def merge_corrections(rows: Sequence[dict[str, Any]], corrections: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Labelled transcripts with analysts' corrections applied.

    ``rows``: labelled transcripts (a transcript plus ``labels``: criterion -> pass|fail|na, optionally
    ``evidence``: criterion -> cited turn indices). ``corrections``: either reviewed transcripts in the same
    format (``qa-service reviews export``), which are added, or replace a row with the same id; or
    ``{"id": ..., "labels": {...}}`` records that change the labels of an existing row (a corrected criterion
    loses its cited evidence unless the correction gives new ``evidence``).

    Raises:
        ValueError: a label-only correction names an unknown transcript id or a label other than pass|fail|na.
    """
    out = {r["id"]: {**r, "labels": dict(r["labels"]), "evidence": dict(r.get("evidence") or {})} for r in rows}
    order = [r["id"] for r in rows]
    for k, c in enumerate(corrections):
        labels = c.get("labels") or {}
        bad = [v for v in labels.values() if v not in ("pass", "fail", "na")]
        if bad:
            raise ValueError(f"corrections[{k}].labels: {bad[0]!r} is not pass, fail or na")
        if c.get("turns"):
            if c["id"] not in out:
                order.append(c["id"])
            out[c["id"]] = {**c, "labels": dict(labels), "evidence": dict(c.get("evidence") or {})}
            continue
        if c.get("id") not in out:
            raise ValueError(f"corrections[{k}].id: no labelled transcript {c.get('id')!r} to correct")
        row = out[c["id"]]
        for crit, lab in labels.items():
            if row["labels"].get(crit) != lab:
                row["labels"][crit] = lab
                row["evidence"].pop(crit, None)
        row["evidence"].update(c.get("evidence") or {})
    return [out[i] for i in order]


# ----------------------------------------------------------------------------- training
def learned_models(rubric: Any) -> dict[str, Any]:
    """Model name -> the criterion of ``rubric`` whose ``learned`` detector uses it."""
    return {d.model: c for s in rubric.sections for c in s.criteria for d in c.detectors if d.type == "learned"}


def collect_inputs(scorer: Any, transcripts: Sequence[Transcript]) -> dict[tuple[str, str], LearnedInput]:
    """What each ``learned`` detector of ``scorer``'s rubric sees on each transcript, keyed by (transcript id,
    criterion id): the scorer runs once with recorders in place of the models and its N/A rules off (a
    transcript labelled pass or fail must get its inputs even where the rules would say N/A)."""
    from qa_service.pipelines.rubric.scorer import RubricScorer

    rubric = scorer.rubric.model_copy(deep=True)
    for s in rubric.sections:
        for c in s.criteria:
            c.na_when = []
    models = learned_models(rubric)
    recorders = {name: InputRecorder() for name in models}
    probe = RubricScorer(rubric, encoder=scorer.encoder, sentiment=scorer.sentiment, hold_seconds=scorer.hold_seconds,
                         classifiers=recorders)
    probe.score_many(list(transcripts))
    out = {}
    for name, rec in recorders.items():
        for inp in rec.inputs:
            out[(inp.transcript_id, models[name].id)] = inp
    return out


def fit_classifiers(scorers: dict[str, Any], rows: Sequence[dict[str, Any]],
                    corrections: Sequence[dict[str, Any]] = (), params: dict[str, dict[str, Any]] | None = None,
                    inputs: dict[tuple[str, str, str], LearnedInput] | None = None) -> dict[str, CriterionClassifier]:
    """Train one classifier per model name on labelled transcripts and analysts' corrections.

    Args:
        scorers: rubric id -> a scorer for that rubric (its encoder and sentiment model make the inputs); the
            rubrics' ``learned`` detectors name the models, and a model named in several rubrics (Spanish and
            English) is trained on all of them.
        rows: labelled transcripts: the transcript, ``rubric`` (id), ``labels`` (criterion -> pass|fail|na) and
            optionally ``evidence`` (criterion -> cited turn indices).
        corrections: analysts' corrections (see :func:`merge_corrections`).
        params: model name -> keyword arguments of :class:`CriterionClassifier`.
        inputs: precomputed inputs keyed by (rubric id, transcript id, criterion id) (made here when omitted).
    """
    rows = merge_corrections(rows, corrections) if corrections else list(rows)
    if inputs is None:
        inputs = {}
        for rid, sc in scorers.items():
            mine = [r for r in rows if r["rubric"] == rid]
            got = collect_inputs(sc, [Transcript.model_validate(
                {k: v for k, v in r.items() if k in Transcript.model_fields}) for r in mine])
            inputs.update({(rid, t, c): v for (t, c), v in got.items()})
    data: dict[str, tuple[list, list, list]] = {}
    absent: dict[str, bool] = {}
    for rid, sc in scorers.items():
        for name, crit in learned_models(sc.rubric).items():
            absent[name] = any(d.expect == "absent" for d in crit.detectors)
            xs, ys, ev = data.setdefault(name, ([], [], []))
            for r in rows:
                lab = r["labels"].get(crit.id)
                key = (rid, r["id"], crit.id)
                if r["rubric"] != rid or lab not in ("pass", "fail") or key not in inputs:
                    continue
                xs.append(inputs[key])
                ys.append(lab)
                ev.append((r.get("evidence") or {}).get(crit.id, []))
    params = params or {}
    return {name: CriterionClassifier(absent=absent[name], **params.get(name, {})).fit(xs, ys, ev)
            for name, (xs, ys, ev) in data.items() if xs}


def manifest_summary(bundle: Path) -> dict[str, Any]:
    """The manifest of a classifier bundle (for reports)."""
    return json.loads((Path(bundle) / "manifest.json").read_text(encoding="utf-8"))

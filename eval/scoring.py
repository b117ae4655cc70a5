"""Evaluate rubric scoring on the blind evaluation set: choose on tune (cross-validated), report once.

    python -m eval.scoring                  # tune-CV, then one report run per candidate; writes reports,
                                            # the shipped calibration and the criterion classifiers
    python -m eval.scoring --no-write-models   # reports only

Data: ``eval/transcripts/blind-*.jsonl`` (labels read from the files at every run) and the one split in
``eval/transcripts/splits.json`` (``python -m eval.blind split``). Candidates, all on the same transcripts:

* ``similarity``: today's detectors as shipped in rubrics 1.1.0 (``eval/baselines/``: example-phrase similarity,
  patterns, PII, metrics), their semantic thresholds fitted on tune (the baseline);
* ``structural``: rubrics 1.3.0 with their conversation detectors deciding alone (no trained model);
* ``learned``: rubrics 1.3.0 with the per-criterion classifiers trained on tune (the shipped candidate).

Everything that is chosen (thresholds, classifier settings, the review threshold of each criterion, which
criteria are trusted) is chosen on tune by 5-fold cross-validation; the report split is scored once per
candidate. Metrics: Cohen's kappa on informative labels (the label is pass or fail; a predicted N/A there counts
as a disagreement) with bootstrap 95% intervals (transcripts resampled), N/A accuracy separately, per criterion,
per language and overall; total-score MAE; auto-fail precision and recall; for the learned candidate the
calibration of its probabilities (Brier score, ECE) and the share flagged for review.

Writes ``eval/reports/scoring-blind.{md,json}`` (with the command and the commit), and unless
``--no-write-models``: ``models/rubrics/<rubric>.calibration.json`` (tune-CV kappa per criterion: below
``QA_MIN_KAPPA`` a criterion is flagged ``needs_review``; the confidence below which a result is flagged) and the
classifier bundle ``models/rubrics/classifiers/``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from eval.blind import BLIND_FILES, load_blind, load_split, transcript_of
from eval.provenance import git_commit as commit_id

ROOT = Path(__file__).resolve().parent
REPORTS = ROOT / "reports"
BASELINES = ROOT / "baselines"
GRID = [round(x, 2) for x in np.arange(0.30, 0.86, 0.05)]
FOLDS = 5
BOOT = 1000
SEED = 7
LANGUAGES = {"es": ("es-ES", "es-LA"), "en": ("en",)}
# Settings of the criterion classifiers tried on tune (chosen per criterion by tune-CV kappa).
CLASSIFIER_GRID: list[dict[str, Any]] = [
    {"C": 1.0, "C_window": 0.1, "use_windows": True},
    {"C": 1.0, "C_window": 0.3, "use_windows": True},
    {"C": 0.3, "C_window": 0.1, "use_windows": True},
]
REVIEW_ACCURACY = 0.9  # the review threshold keeps results at least this accurate on tune-CV


# ----------------------------------------------------------------------------- models with caches
class CachedEncoder:
    """The encoder, remembering every text it embedded (candidates and folds re-score the same turns)."""

    def __init__(self, encoder: Any) -> None:
        self.inner = encoder
        self.name, self.dim = encoder.name, encoder.dim
        self._memo: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str], *a: Any, **k: Any) -> np.ndarray:
        texts = list(texts)
        todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if todo:
            for t, v in zip(todo, self.inner.encode(todo)):
                self._memo[t] = v
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.vstack([self._memo[t] for t in texts])

    def fingerprint(self) -> str:
        return self.inner.fingerprint()


def models():
    """The runtime's encoder (cached) and the sentiment model rubric scoring uses (QA_SCORING_SENTIMENT_MODEL,
    sharing that encoder)."""
    from qa_service.config import get_settings
    from qa_service.runtime import get_runtime

    rt = get_runtime(get_settings())
    enc = CachedEncoder(rt.encoder())
    sent = copy.copy(rt.scoring_sentiment())
    sent.encoder_ = enc
    return rt, enc, sent


# ----------------------------------------------------------------------------- metrics
def kappa(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Cohen's kappa; NaN when it is undefined (one category only on both sides)."""
    from sklearn.metrics import cohen_kappa_score

    if not gold:
        return float("nan")
    cats = set(gold) | set(pred)
    if len(cats) < 2:
        return float("nan")
    return float(cohen_kappa_score(list(gold), list(pred), labels=sorted(cats)))


def informative(rows: list[dict], preds: list[dict[str, str]], cid: str) -> tuple[list[str], list[str], list[int]]:
    idx = [k for k, r in enumerate(rows) if r["labels"].get(cid) in ("pass", "fail")]
    return [rows[k]["labels"][cid] for k in idx], [preds[k][cid] for k in idx], idx


def criterion_stats(rows: list[dict], preds: list[dict[str, str]], cid: str, na_rule: bool) -> dict[str, Any]:
    gold, pred, _ = informative(rows, preds, cid)
    out: dict[str, Any] = {"n": len(gold), "kappa": _r(kappa(gold, pred)),
                           "accuracy": _r(np.mean([g == p for g, p in zip(gold, pred)]) if gold else float("nan")),
                           "gold_pass": sum(g == "pass" for g in gold), "pred_na": sum(p == "na" for p in pred)}
    if na_rule:
        g_na = [r["labels"][cid] == "na" for r in rows]
        p_na = [p[cid] == "na" for p in preds]
        out["na"] = {"n_gold": sum(g_na), "n_pred": sum(p_na),
                     "accuracy": _r(np.mean([a == b for a, b in zip(g_na, p_na)])),
                     "recall": _r(sum(a and b for a, b in zip(g_na, p_na)) / sum(g_na)) if sum(g_na) else None,
                     "precision": _r(sum(a and b for a, b in zip(g_na, p_na)) / sum(p_na)) if sum(p_na) else None}
    return out


def _r(x: float, nd: int = 3) -> float | None:
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else round(float(x), nd)


def mean_kappa(rows: list[dict], preds: list[dict[str, str]], cids: list[str]) -> float:
    ks = [kappa(*informative(rows, preds, c)[:2]) for c in cids]
    ks = [k for k in ks if not np.isnan(k)]
    return float(np.mean(ks)) if ks else float("nan")


def bootstrap(rows: list[dict], preds: list[dict[str, str]], cids: list[str], n: int = BOOT,
              seed: int = SEED) -> dict[str, Any]:
    """95% intervals of each criterion's kappa and of the mean kappa, transcripts resampled with replacement."""
    rng = np.random.default_rng(seed)
    per: dict[str, list[float]] = {c: [] for c in cids}
    means = []
    for _ in range(n):
        idx = rng.integers(0, len(rows), len(rows))
        rs, ps = [rows[i] for i in idx], [preds[i] for i in idx]
        ks = []
        for c in cids:
            k = kappa(*informative(rs, ps, c)[:2])
            if not np.isnan(k):
                per[c].append(k)
                ks.append(k)
        if ks:
            means.append(float(np.mean(ks)))

    def ci(v: list[float]) -> list[float | None]:
        return [_r(np.percentile(v, 2.5)), _r(np.percentile(v, 97.5))] if len(v) >= 20 else [None, None]

    return {"mean": ci(means), "criteria": {c: ci(v) for c, v in per.items()}}


def labelled_total(rubric: Any, labels: dict[str, str]) -> float | None:
    """The total the labels imply, with the rubric's own arithmetic (N/A excluded) and auto-fail policy."""
    from qa_service.pipelines.rubric import policy_total, rubric_totals

    total = rubric_totals(rubric, {k: None if v == "na" else float(v == "pass") for k, v in labels.items()})[1]
    critical_failed = any(labels.get(c.id) == "fail" for s in rubric.sections for c in s.criteria if c.critical)
    return policy_total(rubric, total, critical_failed)


def summarise(rows: list[dict], results: list[Any], rubric: Any, boot: bool = True) -> dict[str, Any]:
    """Every metric of one candidate on one language's rows (``results``: ScoreResult per row)."""

    cids = [c.id for s in rubric.sections for c in s.criteria]
    crit = {c.id: c for s in rubric.sections for c in s.criteria}
    preds = [{c.id: c.result for c in res.criteria} for res in results]
    per = {cid: criterion_stats(rows, preds, cid, bool(crit[cid].na_when)) for cid in cids}
    out: dict[str, Any] = {"n": len(rows), "mean_kappa": _r(mean_kappa(rows, preds, cids)), "criteria": per}
    if boot:
        b = bootstrap(rows, preds, cids)
        out["mean_kappa_ci"] = b["mean"]
        for cid in cids:
            per[cid]["kappa_ci"] = b["criteria"][cid]
    na_ids = [c for c in cids if crit[c].na_when]
    out["na_accuracy"] = _r(np.mean([(r["labels"][c] == "na") == (p[c] == "na")
                                     for r, p in zip(rows, preds) for c in na_ids])) if na_ids else None
    gold_tot = [labelled_total(rubric, r["labels"]) for r in rows]
    pairs = [(g, x.total) for g, x in zip(gold_tot, results) if g is not None and x.total is not None]
    out["total_mae"] = _r(np.mean([abs(g - p) for g, p in pairs]), 2) if pairs else None
    crit_ids = [c for c in cids if crit[c].critical]
    gold_af = [any(r["labels"][c] == "fail" for c in crit_ids) for r in rows]
    pred_af = [x.auto_fail for x in results]
    tp = sum(g and p for g, p in zip(gold_af, pred_af))
    out["auto_fail_precision"] = _r(tp / sum(pred_af)) if sum(pred_af) else None
    out["auto_fail_recall"] = _r(tp / sum(gold_af)) if sum(gold_af) else None
    # review flags: how many informative results are flagged, and how accurate the unflagged ones are
    flagged = ok = kept = 0
    for r, x in zip(rows, results):
        for c in x.criteria:
            if r["labels"].get(c.id) in ("pass", "fail"):
                if c.needs_review:
                    flagged += 1
                else:
                    kept += 1
                    ok += c.result == r["labels"][c.id]
    out["review"] = {"flagged_share": _r(flagged / max(1, flagged + kept)),
                     "unflagged_accuracy": _r(ok / kept) if kept else None}
    return out


def probability_quality(rows: list[dict], results: list[Any]) -> dict[str, Any]:
    """Brier score and ECE (10 bins) of P(pass) = the learned verdict's confidence, on informative labels."""
    p, y = [], []
    for r, x in zip(rows, results):
        for c in x.criteria:
            if r["labels"].get(c.id) in ("pass", "fail") and c.result != "na":
                p.append(c.confidence if c.result == "pass" else 1 - c.confidence)
                y.append(r["labels"][c.id] == "pass")
    if not p:
        return {}
    pa, ya = np.array(p), np.array(y, dtype=float)
    bins = np.minimum((pa * 10).astype(int), 9)
    ece = sum(abs(pa[bins == b].mean() - ya[bins == b].mean()) * (bins == b).mean() for b in range(10)
              if (bins == b).any())
    return {"n": len(p), "brier": _r(float(np.mean((pa - ya) ** 2))), "ece": _r(float(ece))}


# ----------------------------------------------------------------------------- candidates
def rubric_file(path: Path):
    from qa_service.io.rubrics import load_rubric
    from qa_service.config import get_settings

    return load_rubric(path, get_settings().rubrics_dir)


def fit_semantic_thresholds(scorer: Any, rows: list[dict], transcripts: list[Any]) -> dict[str, float]:
    """Per criterion with a semantic detector, the threshold (GRID) with the best kappa on ``rows`` (ties: the one
    nearest the rubric's own)."""
    rubric = scorer.rubric
    sem = {c.id: next((d.threshold for d in c.detectors if d.type == "semantic" and d.threshold), 0.55)
           for s in rubric.sections for c in s.criteria if any(d.type == "semantic" for d in c.detectors)}
    by_thr = {}
    for thr in GRID:
        scorer.thresholds = {cid: thr for cid in sem}
        by_thr[thr] = [{c.id: c.result for c in x.criteria} for x in scorer.score_many(transcripts)]
    out = {}
    for cid, default in sem.items():
        best, best_k = default, -2.0
        for thr in sorted(GRID, key=lambda t: abs(t - default)):
            k = kappa(*informative(rows, by_thr[thr], cid)[:2])
            k = -1.0 if np.isnan(k) else k
            if k > best_k + 1e-9:
                best, best_k = thr, k
        out[cid] = best
    scorer.thresholds = {}
    return out


def folds_of(rows: list[dict], k: int = FOLDS, seed: int = SEED) -> list[int]:
    """Fold of each tune row, stratified by group (es-ES, es-LA, en) and channel."""
    rng = np.random.default_rng(seed)
    fold = [0] * len(rows)
    strata: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        strata.setdefault((r["group"], r["channel"]), []).append(i)
    start = 0
    for key in sorted(strata):
        idx = list(rng.permutation(strata[key]))
        for j, i in enumerate(idx):
            fold[i] = (start + j) % k
        start += len(idx)
    return fold


class Candidate:
    """Fits on some labelled rows, then scores transcripts (a ScoreResult each)."""

    name = ""

    def fit(self, rows: list[dict]) -> "Candidate":
        return self

    def score(self, rows: list[dict]) -> list[Any]:
        raise NotImplementedError


class Similarity(Candidate):
    """Rubrics 1.1.0 as shipped before this evaluation: semantic similarity to example phrases and patterns."""

    name = "similarity"

    def __init__(self, enc: Any, sent: Any) -> None:
        from qa_service.pipelines.rubric import RubricScorer

        self.scorers = {rid: RubricScorer(rubric_file(BASELINES / f"{rid}-1.1.0.yaml"), encoder=enc, sentiment=sent)
                        for rid in ("default-es", "default-en")}
        for sc in self.scorers.values():
            sc.min_kappa = 0.0

    def fit(self, rows: list[dict]) -> "Similarity":
        for rid, sc in self.scorers.items():
            mine = [r for r in rows if r["rubric"] == rid]
            sc.thresholds = fit_semantic_thresholds(sc, mine, [transcript_of(r) for r in mine])
        return self

    def score(self, rows: list[dict]) -> list[Any]:
        return _score_by_rubric(self.scorers, rows)


def _score_by_rubric(scorers: dict[str, Any], rows: list[dict]) -> list[Any]:
    out: list[Any] = [None] * len(rows)
    for rid, sc in scorers.items():
        idx = [i for i, r in enumerate(rows) if r["rubric"] == rid]
        for i, res in zip(idx, sc.score_many([transcript_of(rows[i]) for i in idx])):
            out[i] = res
    return out


class Structural(Candidate):
    """Rubrics 1.3.0 without trained models: the conversation detectors and patterns decide."""

    name = "structural"

    def __init__(self, enc: Any, sent: Any) -> None:
        from qa_service.config import get_settings
        from qa_service.io.rubrics import load_rubric
        from qa_service.pipelines.rubric import RubricScorer

        rd = get_settings().rubrics_dir
        self.scorers = {rid: RubricScorer(load_rubric(rid, rd), encoder=enc, sentiment=sent)
                        for rid in ("default-es", "default-en")}

    def score(self, rows: list[dict]) -> list[Any]:
        return _score_by_rubric(self.scorers, rows)


class Learned(Structural):
    """Rubrics 1.3.0 with the criterion classifiers trained on the rows it is fitted on."""

    name = "learned"

    def __init__(self, enc: Any, sent: Any, params: dict[str, dict[str, Any]] | None = None,
                 inputs: dict | None = None) -> None:
        super().__init__(enc, sent)
        self.params = params or {}
        self.inputs = inputs

    def fit(self, rows: list[dict]) -> "Learned":
        from qa_service.pipelines.rubric.learned import fit_classifiers

        self.models_ = fit_classifiers(self.scorers, rows, params=self.params, inputs=self.inputs)
        for sc in self.scorers.values():
            sc.classifiers = self.models_
        return self


# ----------------------------------------------------------------------------- tune: cross-validation
def cross_validated(make: Callable[[], Candidate], rows: list[dict]) -> list[Any]:
    """Out-of-fold results on ``rows`` (each fold scored by a candidate fitted on the other folds)."""
    fold = folds_of(rows)
    out: list[Any] = [None] * len(rows)
    for k in range(FOLDS):
        train = [r for r, f in zip(rows, fold) if f != k]
        test_idx = [i for i, f in enumerate(fold) if f == k]
        cand = make().fit(train)
        for i, res in zip(test_idx, cand.score([rows[i] for i in test_idx])):
            out[i] = res
    return out


def choose_classifier_settings(enc: Any, sent: Any, tune: list[dict], inputs: dict,
                               structural_cv: dict[str, list[Any]]) -> tuple[dict[str, dict], dict[str, Any]]:
    """Per model name, the classifier settings (CLASSIFIER_GRID) with the best tune-CV kappa (pooled over both
    rubrics' informative labels), computed on the recorded inputs (no re-scoring)."""
    from qa_service.pipelines.rubric.learned import CriterionClassifier, learned_models

    base = Structural(enc, sent)
    fold = folds_of(tune)
    na_pred = {}  # (row id, criterion) -> the rules said N/A (the classifier is not asked there)
    for rid, results in structural_cv.items():
        for r, x in zip([r for r in tune if r["rubric"] == rid], results):
            for c in x.criteria:
                na_pred[(r["id"], c.id)] = c.result == "na"
    table: dict[str, Any] = {}
    chosen: dict[str, dict] = {}
    names = sorted({n for sc in base.scorers.values() for n in learned_models(sc.rubric)})
    for name in names:
        crit_of = {rid: learned_models(sc.rubric)[name] for rid, sc in base.scorers.items()}
        absent = any(d.expect == "absent" for d in next(iter(crit_of.values())).detectors)
        items = [(i, r, crit_of[r["rubric"]].id) for i, r in enumerate(tune)
                 if r["labels"].get(crit_of[r["rubric"]].id) in ("pass", "fail")
                 and (r["rubric"], r["id"], crit_of[r["rubric"]].id) in inputs]
        results = []
        for g, params in enumerate(CLASSIFIER_GRID):
            gold, pred = [], []
            for k in range(FOLDS):
                tr = [(i, r, c) for i, r, c in items if fold[i] != k]
                te = [(i, r, c) for i, r, c in items if fold[i] == k]
                m = CriterionClassifier(absent=absent, **params).fit(
                    [inputs[(r["rubric"], r["id"], c)] for _i, r, c in tr], [r["labels"][c] for _i, r, c in tr],
                    [(r.get("evidence") or {}).get(c, []) for _i, r, c in tr])
                for _i, r, c in te:
                    p = m.predict_input(inputs[(r["rubric"], r["id"], c)])[0]
                    gold.append(r["labels"][c])
                    pred.append("na" if na_pred.get((r["id"], c)) else ("pass" if p >= m.threshold else "fail"))
            results.append(kappa(gold, pred))
        best = int(np.nanargmax([-2 if np.isnan(k) else k for k in results]))
        chosen[name] = CLASSIFIER_GRID[best]
        table[name] = {"kappa_by_setting": [_r(k) for k in results], "chosen": best}
    return chosen, table


def review_thresholds(rows: list[dict], results: list[Any], rubric: Any) -> dict[str, float]:
    """Per criterion, the lowest confidence (0.50-0.95) at or above which tune-CV results are at least
    REVIEW_ACCURACY accurate on informative labels; results below it are flagged ``needs_review`` (the service's
    own rule: ``qa_service.pipelines.rubric.calibration.review_thresholds``, which ``train rubric`` uses too)."""
    from qa_service.pipelines.rubric.calibration import review_thresholds as fit_review

    return fit_review([r["labels"] for r in rows], results, rubric, REVIEW_ACCURACY)


# ----------------------------------------------------------------------------- the run
def git_commit() -> str:
    return commit_id(short=False, dirty_mark="+uncommitted")


def by_language(rows: list[dict], results: list[Any], scorers: dict[str, Any], boot: bool = True) -> dict[str, Any]:
    out = {}
    for lang, groups in LANGUAGES.items():
        idx = [i for i, r in enumerate(rows) if r["group"] in groups]
        rid = "default-es" if lang == "es" else "default-en"
        out[lang] = summarise([rows[i] for i in idx], [results[i] for i in idx], scorers[rid].rubric, boot)
        if lang == "es":
            for g in groups:
                gi = [i for i in idx if rows[i]["group"] == g]
                out[g] = summarise([rows[i] for i in gi], [results[i] for i in gi], scorers[rid].rubric, boot)
    return out


def run(write_models: bool = True, out_dir: Path = REPORTS) -> dict[str, Any]:
    from qa_service.pipelines.rubric.learned import collect_inputs

    t0 = time.time()
    commit = git_commit()  # the code that runs is the code at start
    rows = load_blind()
    split = load_split()
    tune_ids, report_ids = set(split["tune"]), set(split["report"])
    tune = [r for r in rows if r["id"] in tune_ids]
    report = [r for r in rows if r["id"] in report_ids]
    rt, enc, sent = models()

    # inputs of the learned detectors, recorded once per transcript (tune and report)
    base = Structural(enc, sent)
    inputs: dict = {}
    for rid, sc in base.scorers.items():
        mine = [r for r in rows if r["rubric"] == rid]
        got = collect_inputs(sc, [transcript_of(r) for r in mine])
        inputs.update({(rid, t, c): v for (t, c), v in got.items()})
    print(f"inputs recorded in {time.time() - t0:.0f} s", file=sys.stderr)

    # --- tune: cross-validation
    cv: dict[str, list[Any]] = {}
    cv["similarity"] = cross_validated(lambda: Similarity(enc, sent), tune)
    cv["structural"] = Structural(enc, sent).score(tune)  # nothing to fit
    struct_by_rubric = {rid: [x for r, x in zip(tune, cv["structural"]) if r["rubric"] == rid]
                        for rid in base.scorers}
    params, settings_table = choose_classifier_settings(enc, sent, tune, inputs, struct_by_rubric)
    cv["learned"] = cross_validated(lambda: Learned(enc, sent, params, inputs), tune)
    print(f"tune cross-validation done in {time.time() - t0:.0f} s", file=sys.stderr)
    tune_summary = {name: by_language(tune, res, base.scorers, boot=False) for name, res in cv.items()}

    # gating and review thresholds, from the learned candidate's tune-CV results
    calibration = {}
    for rid, sc in base.scorers.items():
        lang = "es" if rid == "default-es" else "en"
        mine = [(r, x) for r, x in zip(tune, cv["learned"]) if r["rubric"] == rid]
        calibration[rid] = {
            "kappa": {cid: v["kappa"] for cid, v in tune_summary["learned"][lang]["criteria"].items()},
            "review_below": review_thresholds([r for r, _ in mine], [x for _, x in mine], sc.rubric)}

    # --- report: each candidate fitted on all of tune, scored once on report
    final = {"similarity": Similarity(enc, sent).fit(tune), "structural": Structural(enc, sent),
             "learned": Learned(enc, sent, params, inputs).fit(tune)}
    learned = final["learned"]
    for rid, sc in learned.scorers.items():  # the shipped gating applies to the shipped candidate
        sc.kappa = {k: v for k, v in calibration[rid]["kappa"].items() if v is not None}
        sc.review_below = calibration[rid]["review_below"]
        sc.min_kappa = rt.settings.min_kappa
    report_results = {name: cand.score(report) for name, cand in final.items()}
    report_summary = {name: by_language(report, res, base.scorers) for name, res in report_results.items()}
    prob = {lang: probability_quality([r for r in report if r["group"] in groups],
                                      [x for r, x in zip(report, report_results["learned"]) if r["group"] in groups])
            for lang, groups in LANGUAGES.items()}

    rep = {
        "command": "python -m eval.scoring" + ("" if write_models else " --no-write-models"),
        "commit": commit, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "data": {"files": [f"eval/transcripts/{f}" for f in BLIND_FILES], "split": "eval/transcripts/splits.json",
                 "n_tune": len(tune), "n_report": len(report)},
        "rubrics": {rid: sc.rubric.version for rid, sc in base.scorers.items()},
        "encoder": enc.name, "folds": FOLDS, "bootstrap": BOOT,
        "classifier_settings": {"grid": CLASSIFIER_GRID, "chosen": params, "tune_cv": settings_table},
        "calibration": calibration,
        "tune_cv": tune_summary, "report": report_summary, "probability_quality": prob,
        "seconds": round(time.time() - t0, 1),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "scoring-blind.json").write_text(json.dumps(rep, indent=1, ensure_ascii=False) + "\n")
    (out_dir / "scoring-blind.md").write_text(markdown(rep))
    if write_models:
        write_shipped(rt, learned, calibration, rep)
    return rep


def write_shipped(rt: Any, learned: Learned, calibration: dict[str, Any], rep: dict[str, Any]) -> None:
    """The calibration files and the classifier bundle the service loads."""
    from qa_service.pipelines.rubric.learned import save_classifiers

    rd = rt.settings.rubrics_dir
    for rid, sc in learned.scorers.items():
        cal = {"rubric": {"id": rid, "version": sc.rubric.version},
               "kappa": calibration[rid]["kappa"], "kappa_source": "tune split, 5-fold cross-validation",
               "review_below": calibration[rid]["review_below"],
               "report_kappa": {k: v["kappa"] for k, v in
                                rep["report"]["learned"]["es" if rid == "default-es" else "en"]["criteria"].items()},
               "n_tune": rep["data"]["n_tune"], "n_report": rep["data"]["n_report"], "created": rep["created"],
               "command": rep["command"], "commit": rep["commit"], "data": rep["data"]["split"]}
        (rd / f"{rid}.calibration.json").write_text(json.dumps(cal, indent=2) + "\n")
    enc = learned.scorers["default-es"].encoder
    save_classifiers(learned.models_, rd / "classifiers", {
        "version": max(sc.rubric.version for sc in learned.scorers.values()),
        "labels": ["fail", "pass"],
        "encoder": {"name": enc.name, "fingerprint": enc.fingerprint(), "dim": enc.dim},
        "rubrics": {rid: sc.rubric.version for rid, sc in learned.scorers.items()},
        "training_data": [{"name": "blind evaluation set, tune split", "files": rep["data"]["files"],
                           "split": rep["data"]["split"], "rows": rep["data"]["n_tune"]}],
        "metrics": {"tune_cv_kappa": {rid: calibration[rid]["kappa"] for rid in calibration}},
        "command": rep["command"], "commit": rep["commit"]})


# ----------------------------------------------------------------------------- report
def _fmt_ci(v: list | None) -> str:
    return f"[{v[0]}, {v[1]}]" if v and v[0] is not None else "-"


def markdown(rep: dict[str, Any]) -> str:
    cands = list(rep["report"])
    lines = [
        "# Rubric scoring on the blind evaluation set", "",
        f"Command: `{rep['command']}` at commit `{rep['commit']}` ({rep['created']}, {rep['seconds']} s). "
        f"Rubrics {', '.join(f'{k} {v}' for k, v in rep['rubrics'].items())}; encoder {rep['encoder']}.", "",
        f"{rep['data']['n_tune']} tune / {rep['data']['n_report']} report transcripts "
        f"(`{rep['data']['split']}`). Everything chosen (thresholds, classifier settings, review thresholds, "
        f"which criteria are trusted) was chosen by {rep['folds']}-fold cross-validation on tune; the report split "
        "was scored once per candidate. Kappa is on informative labels (pass/fail; a predicted N/A there is a "
        f"disagreement), with bootstrap 95% intervals ({rep['bootstrap']} resamples of transcripts); N/A accuracy "
        "separately.", "",
        "Candidates: **similarity** = rubrics 1.1.0 as shipped before (similarity to example phrases + patterns; "
        "thresholds fitted on tune; its examples share 6+ word runs with some evaluation transcripts, which can only "
        "flatter it); **structural** = rubrics 1.3.0, conversation detectors alone; **learned** = rubrics 1.3.0 with "
        "the per-criterion classifiers trained on tune (shipped).", "",
        "## Report split: mean kappa by language", "",
        "| candidate | " + " | ".join(f"{lang} (n)" for lang in ("es", "es-ES", "es-LA", "en")) + " |",
        "|---|" + "---|" * 4]
    for c in cands:
        cells = []
        for lang in ("es", "es-ES", "es-LA", "en"):
            s = rep["report"][c][lang]
            cells.append(f"{s['mean_kappa']} {_fmt_ci(s.get('mean_kappa_ci'))} ({s['n']})")
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    lines += ["", "| candidate | lang | N/A accuracy | total MAE | auto-fail P / R | flagged for review | "
                  "unflagged accuracy |", "|---|---|---|---|---|---|---|"]
    for c in cands:
        for lang in ("es", "en"):
            s = rep["report"][c][lang]
            lines.append(f"| {c} | {lang} | {s['na_accuracy']} | {s['total_mae']} | {s['auto_fail_precision']} / "
                         f"{s['auto_fail_recall']} | {s['review']['flagged_share']} | "
                         f"{s['review']['unflagged_accuracy']} |")
    for lang in ("es", "en"):
        lines += ["", f"## Report split, per criterion ({lang})", "",
                  "| criterion | n | " + " | ".join(f"{c} kappa [95% CI]" for c in cands)
                  + " | learned N/A acc | tune-CV kappa (learned) | gated |",
                  "|---|---|" + "---|" * len(cands) + "---|---|---|"]
        rid = "default-es" if lang == "es" else "default-en"
        for cid, v in rep["report"]["learned"][lang]["criteria"].items():
            cells = [f"{rep['report'][c][lang]['criteria'][cid]['kappa']} "
                     f"{_fmt_ci(rep['report'][c][lang]['criteria'][cid].get('kappa_ci'))}" for c in cands]
            tk = rep["calibration"][rid]["kappa"].get(cid)
            gated = "needs_review" if tk is None or tk < 0.6 else "trusted"
            na = v.get("na", {}).get("accuracy", "-") if v.get("na") else "-"
            lines.append(f"| {cid} | {v['n']} | " + " | ".join(cells) + f" | {na} | {tk} | {gated} |")
    lines += ["", "## Tune split, 5-fold cross-validation: mean kappa", "",
              "| candidate | es | en |", "|---|---|---|"]
    for c, s in rep["tune_cv"].items():
        lines.append(f"| {c} | {s['es']['mean_kappa']} | {s['en']['mean_kappa']} |")
    pq = rep.get("probability_quality") or {}
    if pq:
        lines += ["", "Learned probabilities on report (P(pass) against the labels): " + "; ".join(
            f"{lang}: Brier {v.get('brier')}, ECE {v.get('ece')} (n {v.get('n')})" for lang, v in pq.items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.scoring", description=__doc__.split("\n")[0])
    ap.add_argument("--no-write-models", action="store_true", help="reports only: leave the shipped calibration "
                                                                   "and classifiers as they are")
    ap.add_argument("--out", type=Path, default=REPORTS)
    args = ap.parse_args(argv)
    rep = run(write_models=not args.no_write_models, out_dir=args.out)
    print(markdown(rep))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

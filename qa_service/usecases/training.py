"""Training from the service: candidate models from a snapshot, written as bundles under ``QA_DATA_DIR/models``
(never into the installed package) and registered as candidate versions.

* sentiment: a new head (logistic regression, or an MLP) on the snapshot's texts, embedded with the encoder of the
  model served now, each source with the same total weight (corrections weigh as much as a base set), the
  regularisation chosen and the temperature calibrated on a fixed tenth of the rows (by text fingerprint).
* rubric: the semantic thresholds and the criterion classifiers (``learned`` detectors) refitted on the snapshot's
  labelled transcripts of that rubric, and each criterion's kappa and review threshold measured out of sample
  (2-fold cross-fitting), which flag needs_review.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from qa_service.errors import InvalidInputError
from qa_service.runtime import Runtime
from qa_service.usecases.access import EVERYONE, Caller
from qa_service.usecases.datasets import actor, gate_overlap, load_snapshot

Progress = Callable[[str, int, int], None]
HEADS = ("logreg", "mlp")
C_GRID = (0.3, 1.0, 3.0)


def _noop(stage: str, done: int, total: int) -> None:
    pass


def new_version(snapshot_id: str, salt: str = "") -> str:
    """A candidate version name: UTC time and a short hash of what it was trained from."""
    now = datetime.now(timezone.utc)
    digest = hashlib.sha256(f"{snapshot_id}\0{salt}\0{now.isoformat()}".encode()).hexdigest()[:6]
    return f"{now.strftime('%Y%m%d-%H%M%S')}-{digest}"


def _snapshot(rt: Runtime, snapshot_id: str, kind: str, gate_task: str) -> tuple[dict[str, Any], list[dict]]:
    meta, rows = load_snapshot(rt, snapshot_id)
    if meta.get("task") != kind:
        raise InvalidInputError(f"snapshot {snapshot_id} is a {meta.get('task')} snapshot, not {kind}", "snapshot")
    overlap = gate_overlap(rt, gate_task, rows)
    if overlap:
        raise InvalidInputError(f"snapshot {snapshot_id} holds {overlap} row(s) of the gate sets as they are now: "
                                "take a new snapshot", "snapshot")
    return meta, rows


def _training_data(meta: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: s.get(k) for k in ("name", "kind", "source", "licence", "rows", "sha256", "language")}
            for s in meta.get("sources", []) if s.get("rows")]


def _write_bundle(target: Path, write: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """Write a bundle into a temporary directory beside ``target``, then move it into place (atomically; a run
    that repeats after a crash replaces its own half-written attempt)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        manifest = write(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
        return manifest
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _register(rt: Runtime, task: str, version: str, manifest: dict[str, Any], path: str, snapshot_id: str,
              caller: Caller) -> None:
    from qa_service.store import models as registry
    from qa_service.store import upgrade

    upgrade(rt.settings.db_url)
    with rt.session() as s:
        registry.register_model(s, task, version, manifest, origin="candidate", path=path, snapshot_id=snapshot_id,
                                created_by=actor(caller))


# --------------------------------------------------------------------------- sentiment
def train_sentiment(rt: Runtime, snapshot_id: str, head: str = "logreg", C: float | None = None,
                    version: str | None = None, caller: Caller = EVERYONE, progress: Progress = _noop
                    ) -> dict[str, Any]:
    """Train a candidate sentiment model on a snapshot; returns {task, version, path, metrics, ...}."""
    from qa_service.bundles import task_dir
    from qa_service.pipelines.evaluation import classification_summary, macro_f1
    from qa_service.pipelines.sentiment import LABELS, SentimentPipeline
    from qa_service.text.normalize import normalise_for_sentiment, text_fingerprint

    if head not in HEADS:
        raise InvalidInputError(f"head must be one of {', '.join(HEADS)}", "head")
    meta, rows = _snapshot(rt, snapshot_id, "sentiment", "sentiment")
    parent = rt.sentiment()
    if not isinstance(parent, SentimentPipeline) or (parent.manifest_.get("encoder") or {}).get("path"):
        encoder_name, encoder = rt.settings.encoder, rt.encoder()  # the served model brings no reusable encoder
    else:
        encoder_name, encoder = parent.encoder, parent.encoder_model()
    is_val = np.array([_tenth(r.get("text_hash") or text_fingerprint(r["text"])) for r in rows])
    y = np.array([LABELS.index(r["label"]) for r in rows])
    use_val = is_val.sum() >= 30 and len(set(y[is_val])) == 3 and len(set(y[~is_val])) == 3
    if not use_val:
        is_val[:] = False
    if len(set(y[~is_val])) < 2:
        raise InvalidInputError(f"snapshot {snapshot_id} has a single label: nothing to learn", "snapshot")

    texts = [normalise_for_sentiment(r["text"]) for r in rows]
    sources = [r["source"] for r in rows]
    x = _embed_by_source(rt, encoder, texts, sources, progress)
    per_source = {s: sources.count(s) for s in set(sources)}
    weights = np.array([1.0 / per_source[s] for s in sources])
    tr = ~is_val
    w = weights[tr] / weights[tr].mean()
    labels = [LABELS[i] for i in y]
    grid = [C] if C is not None else list(C_GRID)
    best, best_f1, selection = None, -1.0, {}
    for k, c in enumerate(grid):
        cand = SentimentPipeline(encoder=encoder_name, head=head, C=c)
        cand.fit_embeddings(x[tr], [labels[i] for i in np.flatnonzero(tr)], w,
                            x[is_val] if use_val else None, [labels[i] for i in np.flatnonzero(is_val)] or None)
        f1 = macro_f1(y[is_val], cand.predict_proba_embeddings(x[is_val]).argmax(1), 3) if use_val else 0.0
        selection[str(c)] = round(f1, 4)
        if best is None or f1 > best_f1:
            best, best_f1 = cand, f1
        progress("fitting", k + 1, len(grid))
    assert best is not None
    best.encoder_ = encoder
    version = version or new_version(snapshot_id, f"sentiment-{head}-{C}")
    validation = classification_summary(best.predict_proba_embeddings(x[is_val]), y[is_val], LABELS) \
        if use_val else None
    target = rt.settings.candidates_dir / task_dir("sentiment") / version
    extra = {"version": version, "training_data": _training_data(meta),
             "snapshot": {"id": meta["id"], "sha256": meta["sha256"]},
             "parent": {"task": "sentiment", "version": parent.version},
             "training": {"head": head, "sample_weighting": "equal total weight per source",
                          "C_selection_validation_macro_f1": selection,
                          "validation_rows": int(is_val.sum()), "training_rows": int(tr.sum()),
                          "command": f"qa-service train sentiment --snapshot {snapshot_id}"},
             "metrics": {"validation": validation} if validation else {}}
    manifest = _write_bundle(target, lambda d: best.save(d, extra))
    progress("saving", 1, 1)
    _register(rt, "sentiment", version, manifest, f"{task_dir('sentiment')}/{version}", meta["id"], caller)
    return {"task": "sentiment", "version": version, "path": str(target), "snapshot": meta["id"],
            "parent": parent.version, "rows": len(rows), "validation": validation}


def _tenth(key: str) -> bool:
    """Whether a row is in the fixed validation tenth: by a hash of its key (whatever form the stored key has)."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) % 10 == 0


def _embed_by_source(rt: Runtime, encoder: Any, texts: list[str], sources: list[str], progress: Progress
                     ) -> np.ndarray:
    """Embeddings of ``texts``, cached on disk per source and encoder (``QA_CACHE_DIR/embeddings``): the base sets
    are the same in every snapshot, so only the corrections are embedded again."""
    x = np.zeros((len(texts), encoder.dim), np.float32)
    todo: list[tuple[list[int], Path]] = []
    root = rt.settings.cache_dir / "embeddings" / encoder.fingerprint().split(":")[-1][:16]
    for source in dict.fromkeys(sources):
        idx = [i for i, s in enumerate(sources) if s == source]
        key = hashlib.sha256("\n".join(texts[i] for i in idx).encode("utf-8")).hexdigest()[:32]
        f = root / f"{key}.npy"
        if f.exists():
            try:
                cached = np.load(f, allow_pickle=False)
                if cached.shape == (len(idx), encoder.dim):
                    x[idx] = cached
                    continue
            except (OSError, ValueError):
                pass
        todo.append((idx, f))
    total = sum(len(idx) for idx, _ in todo)
    done = 0
    for idx, f in todo:
        for start in range(0, len(idx), 256):
            part = idx[start:start + 256]
            x[part] = encoder.encode([texts[i] for i in part])
            done += len(part)
            progress("embedding", done, total)
        try:
            f.parent.mkdir(parents=True, exist_ok=True)
            np.save(f, x[idx])
        except OSError:  # a read-only cache only costs time
            pass
    return x


# --------------------------------------------------------------------------- rubric calibration
def train_rubric(rt: Runtime, rubric_name: str, snapshot_id: str, version: str | None = None,
                 caller: Caller = EVERYONE, progress: Progress = _noop) -> dict[str, Any]:
    """Refit a rubric's calibration on a snapshot (its labelled transcripts of that rubric); returns
    {task, version, path, thresholds, kappa, review_below, classifiers, ...}.

    What the shipped calibration holds is refitted: the semantic thresholds; the criterion classifiers of the
    rubric's ``learned`` detectors (with the shipped classifiers' settings, on the snapshot's labelled
    transcripts and their cited evidence turns), written into the candidate (``classifiers/``) and served with
    it; and, out of sample (2-fold cross-fitting, classifiers refitted per fold), each criterion's kappa and its
    review threshold."""
    import json

    from qa_service.bundles import task_dir, write_manifest
    from qa_service.pipelines.rubric.calibration import cross_fitted, fit_thresholds
    from qa_service.pipelines.rubric.learned import collect_inputs, fit_classifiers, learned_models, save_classifiers
    from qa_service.schemas import Transcript

    rubric = rt.rubric(rubric_name)
    task = f"rubric:{rubric.id}"
    meta, rows = _snapshot(rt, snapshot_id, "rubric", task)
    criteria = {c.id for s in rubric.sections for c in s.criteria}
    rows = [r for r in rows if r.get("rubric") == rubric.id]
    if not rows:
        raise InvalidInputError(f"snapshot {snapshot_id} has no transcripts labelled for rubric {rubric.id}",
                                "snapshot")
    # ids made unique (the classifiers' inputs are keyed by transcript id)
    rows = [{**r, "id": f"{k}:{r.get('id') or ''}"} for k, r in enumerate(rows)]
    transcripts = [Transcript.model_validate({k: v for k, v in r.items() if k in Transcript.model_fields})
                   for r in rows]
    labels = [{c: v for c, v in r["labels"].items() if c in criteria} for r in rows]
    scorer = rt.scorer(rubric, calibration=(None, {}))
    thresholds = fit_thresholds(scorer, transcripts, labels, progress=lambda d, t: progress("thresholds", d, t))
    fit_models = None
    classifiers: dict[str, Any] = {}
    named = learned_models(rubric)
    shipped_classifiers = scorer.classifiers
    if named:
        progress("classifier inputs", 0, 1)
        inputs = {(rubric.id, t, c): v for (t, c), v in collect_inputs(scorer, transcripts).items()}
        progress("classifier inputs", 1, 1)
        settings = ("C", "C_window", "use_windows", "threshold")
        params = {n: {k: getattr(shipped_classifiers[n], k) for k in settings}
                  for n in named if n in shipped_classifiers}

        def fit_models(idx: list[int]) -> dict[str, Any]:
            return fit_classifiers({rubric.id: scorer}, [rows[i] for i in idx], params=params, inputs=inputs)

    progress("kappa", 0, 1)
    kappa, review_below = cross_fitted(scorer, transcripts, labels, fit_models=fit_models)
    progress("kappa", 1, 1)
    if fit_models is not None:
        classifiers = fit_models(list(range(len(rows))))
        missing = sorted(set(named) - set(classifiers))
        if missing:  # a model without any informative label in the snapshot keeps the shipped one
            classifiers.update({n: shipped_classifiers[n] for n in missing if n in shipped_classifiers})
    version = version or new_version(snapshot_id, f"{task}")
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    cal = {"rubric": {"id": rubric.id, "version": rubric.version}, "thresholds": thresholds, "kappa": kappa,
           "review_below": review_below, "n_tune": len(rows), "created": created, "data": f"snapshot {meta['id']}",
           "kappa_method": "2-fold cross-fitted on the snapshot (thresholds and classifiers refitted per fold)",
           "classifiers": sorted(classifiers)}

    def write(d: Path) -> dict[str, Any]:
        (d / "calibration.json").write_text(json.dumps(cal, indent=2) + "\n", encoding="utf-8")
        if classifiers:
            enc = scorer.encoder
            save_classifiers(classifiers, d / "classifiers", {
                "version": version, "labels": ["fail", "pass"],
                "encoder": {"name": enc.name, "fingerprint": enc.fingerprint(), "dim": enc.dim},
                "rubrics": {rubric.id: rubric.version},
                "training_data": [{"name": f"snapshot {meta['id']}", "rows": len(rows)}],
                "metrics": {"cross_fitted_kappa": kappa}})
        return write_manifest(d, {
            "task": task, "kind": "rubric-calibration", "version": version, "labels": ["pass", "fail", "na"],
            "rubric": {"id": rubric.id, "version": rubric.version}, "artifacts": {"calibration.json": ""},
            "training_data": _training_data(meta), "snapshot": {"id": meta["id"], "sha256": meta["sha256"]},
            "training": {"transcripts": len(rows), "command": f"qa-service train rubric {rubric_name} "
                                                              f"--snapshot {snapshot_id}"},
            "metrics": {"cross_fitted_kappa": kappa}, "created": created})

    target = rt.settings.candidates_dir / task_dir(task) / version
    manifest = _write_bundle(target, write)
    progress("saving", 1, 1)
    _register(rt, task, version, manifest, f"{task_dir(task)}/{version}", meta["id"], caller)
    return {"task": task, "version": version, "path": str(target), "snapshot": meta["id"], "rows": len(rows),
            "thresholds": thresholds, "kappa": kappa, "review_below": review_below, "classifiers": sorted(classifiers)}

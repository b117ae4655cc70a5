"""Versioned training data: freeze the corrections plus the base training sets into an immutable, hashed snapshot
(``qa-service data snapshot TASK``), list snapshots, and keep every snapshot apart from the gate sets.

The gate sets (role ``gate`` in the catalogue, ``QA_DATASETS_DIR/catalog.json``) decide promotions, so no snapshot
may contain one of their texts: rows whose fingerprint (case- and space-normalised SHA-256) is in a gate set are
left out of a snapshot and counted, and a candidate's snapshot is checked again before it is compared.
Sentiment corrections carry the fingerprint of the text as it was sent (before redaction); a transcript counts as
a gate transcript when at least half of its turns (and two or more) are turns of gate transcripts, which holds
after redaction changed a name or a number in some turns.
"""

from __future__ import annotations

import getpass
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Iterable

from qa_service.errors import InvalidInputError
from qa_service.io.labelled import LabelledSet, list_snapshots, read_catalog, read_rows, read_snapshot, write_snapshot
from qa_service.runtime import Runtime
from qa_service.text.normalize import text_fingerprint
from qa_service.usecases.access import EVERYONE, Caller

TASKS = ("sentiment", "rubric")
SENTIMENT_LABELS = ("negative", "neutral", "positive")
CRITERION_LABELS = ("pass", "fail", "na")
CORRECTIONS_LICENCE = "this deployment's own corrections"


def actor(caller: Caller) -> str:
    """Who did something: the API key's id, or ``cli:<user>`` on the command line."""
    if caller.key_id:
        return caller.key_id
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name (containers): still say it was the command line
        return "cli"


def catalog(rt: Runtime, task: str, role: str | None = None) -> list[LabelledSet]:
    """The catalogue's sets of ``task`` (``sentiment`` or ``rubric``; ``rubric:<id>`` counts as ``rubric``)."""
    kind = task.split(":", 1)[0]
    return [s for s in read_catalog(rt.settings.labelled_sets_dir) if s.task == kind and (role is None or s.role == role)]


def gate_sets(rt: Runtime, task: str) -> list[tuple[LabelledSet, list[dict[str, Any]]]]:
    """The gate sets of ``task`` with their rows (for ``rubric:<id>``, only that rubric's transcripts)."""
    out = []
    for s in catalog(rt, task, "gate"):
        rows = read_rows(s.file)
        if task.startswith("rubric:"):
            rows = [r for r in rows if r.get("rubric") == task.split(":", 1)[1]]
            if not rows:
                continue
        out.append((s, rows))
    return out


def turn_fingerprints(row: dict[str, Any]) -> list[str]:
    return [text_fingerprint(t.get("text", "")) for t in row.get("turns", [])]


class GateIndex:
    """Fingerprints of every gate text of a task, to keep snapshots apart from the gate sets."""

    def __init__(self, task: str, gates: list[tuple[LabelledSet, list[dict[str, Any]]]]) -> None:
        self.kind = task.split(":", 1)[0]
        self.sets = [{"name": s.name, "sha256": s.sha256} for s, _ in gates]
        if self.kind == "sentiment":
            self.texts = {text_fingerprint(r["text"]) for _, rows in gates for r in rows}
        else:
            self.turns = {h for _, rows in gates for r in rows for h in turn_fingerprints(r)}

    def contains(self, row: dict[str, Any]) -> bool:
        if self.kind == "sentiment":
            return (row.get("text_hash") or text_fingerprint(row["text"])) in self.texts
        hashes = turn_fingerprints(row)
        hits = sum(h in self.turns for h in hashes)
        return hits >= 2 and hits * 2 >= len(hashes)


def snapshot(rt: Runtime, task: str, corrections: bool = True, base: bool = True, caller: Caller = EVERYONE
             ) -> dict[str, Any]:
    """Freeze ``task``'s training data (the corrections stored so far and/or the catalogue's base sets) into a
    snapshot under ``QA_DATA_DIR/snapshots``; returns its metadata (id, rows, label counts, sources with
    licences, what was left out and why). The same data gives the same snapshot id."""
    if task not in TASKS:
        raise InvalidInputError(f"task must be one of {', '.join(TASKS)}", "task")
    if not (corrections or base):
        raise InvalidInputError("a snapshot needs the corrections, the base sets, or both", "corrections")
    gates = GateIndex(task, gate_sets(rt, task))
    sources: list[dict[str, Any]] = []
    excluded: Counter = Counter()
    by_key: dict[str, dict[str, Any]] = {}  # later sources replace earlier rows of the same text: a correction wins

    def add(rows: Iterable[dict[str, Any]], source: dict[str, Any]) -> None:
        n = 0
        for row in rows:
            problem = _problem(task, row)
            if problem:
                excluded[problem] += 1
                continue
            if gates.contains(row):
                excluded["in a gate set"] += 1
                continue
            key = row.get("text_hash") or (text_fingerprint(row["text"]) if task == "sentiment"
                                           else "|".join(turn_fingerprints(row)) + row.get("rubric", ""))
            if key in by_key:
                excluded["duplicate (the later source's label kept)"] += 1
            by_key[key] = {**row, "source": source["name"]}
            n += 1
        sources.append({**source, "rows": n})

    if base:
        for s in catalog(rt, task, "base"):
            add(read_rows(s.file), {"name": s.name, "kind": "base", "language": s.language, "source": s.source,
                                    "licence": s.licence, "sha256": s.sha256})
    if corrections:
        add(_corrections(rt, task), {"name": "corrections", "kind": "corrections", "language": None,
                                     "source": "corrections stored by this service", "licence": CORRECTIONS_LICENCE})
    rows = sorted(by_key.values(), key=lambda r: (r["source"], r.get("text_hash") or r.get("id", "")))
    if not rows:
        raise InvalidInputError(f"nothing to snapshot: no {task} corrections or base rows"
                                + (f" ({sum(excluded.values())} left out: {dict(excluded)})" if excluded else ""),
                                "task")
    meta = {"task": task, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "created_by": actor(caller), "label_counts": _label_counts(task, rows),
            "label_counts_by_source": {s["name"]: _label_counts(task, [r for r in rows if r["source"] == s["name"]])
                                       for s in sources},
            "sources": sources, "excluded": dict(excluded), "gate_sets": gates.sets}
    day = datetime.now(timezone.utc).strftime("%Y%m%d")
    return write_snapshot(rt.settings.snapshots_dir, f"{task}-{day}", meta, rows)


def _problem(task: str, row: dict[str, Any]) -> str | None:
    if task == "sentiment":
        if not isinstance(row.get("text"), str) or not row["text"].strip():
            return "no text"
        if row.get("label") not in SENTIMENT_LABELS:
            return "label not negative/neutral/positive"
        return None
    if not row.get("turns") or not row.get("rubric"):
        return "no turns or no rubric"
    labels = row.get("labels") or {}
    if not labels or any(v not in CRITERION_LABELS for v in labels.values()):
        return "labels missing or not pass/fail/na"
    return None


def _label_counts(task: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    if task == "sentiment":
        return dict(sorted(Counter(r["label"] for r in rows).items()))
    out: dict[str, Counter] = {}
    for r in rows:
        for crit, lab in r["labels"].items():
            out.setdefault(f"{r['rubric']}/{crit}", Counter())[lab] += 1
    return {k: dict(sorted(v.items())) for k, v in sorted(out.items())}


def _corrections(rt: Runtime, task: str) -> list[dict[str, Any]]:
    from qa_service.store import corrections as correction_store
    from qa_service.store import scores as score_store
    from qa_service.store import upgrade

    upgrade(rt.settings.db_url)
    with rt.session() as s:
        if task == "sentiment":
            return [{"text": c.text, "label": c.label, "language": c.language, "text_hash": c.text_hash,
                     "id": f"correction-{c.id}"} for c in correction_store.latest_corrections(s)]
        out = []
        for score, t, labels, reviewed, partly in score_store.reviewed_for_training(s):
            kept = {c: labels[c] for c in sorted(reviewed) if c not in partly}
            if not kept:
                continue
            out.append({"id": f"{t.source}/{t.external_id}", "channel": t.channel, "language": t.language,
                        "turns": t.turns, "rubric": score.rubric_id, "rubric_version": score.rubric_version,
                        "labels": kept, "partly": sorted(partly & reviewed)})
        return out


def snapshots(rt: Runtime) -> list[dict[str, Any]]:
    """Every snapshot's metadata, oldest first."""
    return list_snapshots(rt.settings.snapshots_dir)


def load_snapshot(rt: Runtime, snapshot_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(metadata, rows) of a snapshot, verified against its hash."""
    return read_snapshot(rt.settings.snapshots_dir, snapshot_id)


def gate_overlap(rt: Runtime, task: str, rows: list[dict[str, Any]]) -> int:
    """How many of a snapshot's rows are in ``task``'s gate sets as they are now (0 for a valid candidate)."""
    gates = GateIndex(task, gate_sets(rt, task))
    return sum(gates.contains(r) for r in rows)

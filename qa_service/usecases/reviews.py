"""Analysts' reviews of stored scores: find, read, correct; export corrections as calibration data."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from qa_service.errors import InvalidInputError, NotFoundError
from qa_service.runtime import Runtime
from qa_service.store import scores as score_store
from qa_service.usecases.access import EVERYONE, Caller


def list_scores(rt: Runtime, caller: Caller = EVERYONE, **filters: Any) -> list[dict[str, Any]]:
    """Stored scores ``caller`` may see, newest first (filters: source, needs_review, reviewed, limit, offset)."""
    with rt.session() as s:
        return score_store.list_scores(s, scope=caller.scope, **filters)


def get_score(rt: Runtime, score_id: int, caller: Caller = EVERYONE) -> dict[str, Any]:
    """One stored score with its (stored, redacted) transcript, reviews and current labels; 404 when it does
    not exist or belongs to someone ``caller`` may not see (the same answer, so ids are not confirmed)."""
    with rt.session() as s:
        detail = score_store.score_detail(s, score_id, caller.scope)
    if detail is None:
        raise NotFoundError(f"score {score_id} not found")
    return detail


def review(rt: Runtime, score_id: int, corrections: list[tuple[str, str, str | None]],
           caller: Caller = EVERYONE) -> dict[str, Any]:
    """Record ``caller``'s review: ``corrections`` are (criterion, result, note); unlisted criteria are
    confirmed. Only a score ``caller`` may see can be reviewed (404 otherwise)."""
    seen: set[str] = set()
    for i, (crit, _, _) in enumerate(corrections):
        if crit in seen:
            raise InvalidInputError(f"criterion {crit!r} given twice", f"corrections[{i}].criterion")
        seen.add(crit)
    corrections = [(c, r, _redact_note(rt, n)) for c, r, n in corrections]
    with rt.session() as s:
        if not score_store.score_exists(s, score_id, caller.scope):
            raise NotFoundError(f"score {score_id} not found")
        labels = score_store.review_score(s, score_id, {c: (r, n) for c, r, n in corrections}, caller.key_id)
    return {"score_id": score_id, "labels": labels, "corrected": sorted(seen)}


def dispute(rt: Runtime, score_id: int, criterion: str, decision: str, comment: str, result: str | None = None,
            caller: Caller = EVERYONE) -> dict[str, Any]:
    """Record ``caller``'s dispute of one criterion's machine result: ``accept`` (it was right), ``partly`` (partly
    right: kept out of training), ``reject`` (it was wrong; ``result`` is the right one). The comment is required
    and stored redacted. Only a score ``caller`` may see can be disputed (404 otherwise)."""
    if not comment or not comment.strip():
        raise InvalidInputError("a dispute needs a comment saying why", "comment")
    note = _redact_note(rt, comment)
    with rt.session() as s:
        if not score_store.score_exists(s, score_id, caller.scope):
            raise NotFoundError(f"score {score_id} not found")
        row = score_store.dispute_score(s, score_id, criterion, decision, result, note or "", caller.key_id)
        labels = score_store.review_labels(s, score_store.visible_score(s, score_id))
        return {"score_id": score_id, "criterion": criterion, "decision": decision, "result": row.result,
                "original_result": row.original_result, "reviewer": row.reviewer, "at": row.created_at.isoformat(),
                "labels": labels}


def _redact_note(rt: Runtime, note: str | None) -> str | None:
    """A reviewer's note as it may be stored (notes quote calls: redacted like every stored text)."""
    if note is None:
        return None
    from qa_service.usecases.corrections import redact

    return redact(rt, note)


def export_reviews(rt: Runtime, output: str | Path, rubric: str | None = None, source: str | None = None) -> int:
    """Write reviewed transcripts with their labels in the format of eval/transcripts/labelled.jsonl, split half
    tune / half report by a hash of the id; returns how many were written."""
    from qa_service.store import upgrade

    upgrade(rt.settings.db_url)
    n = 0
    with rt.session() as session, open(output, "w", encoding="utf-8") as fh:
        for score, t, labels in score_store.reviewed_scores(session, rubric, source):
            key = hashlib.sha256(f"{t.source}\0{t.external_id}".encode()).digest()[0]
            row = {"id": t.external_id, "channel": t.channel, "language": t.language,
                   "agent": {"id": t.agent_id, "team": t.team}, "metadata": t.meta or {}, "turns": t.turns,
                   "rubric": score.rubric_id, "split": "tune" if key % 2 == 0 else "report", "labels": labels}
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            n += 1
    return n

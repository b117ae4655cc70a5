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
    with rt.session() as s:
        if not score_store.score_exists(s, score_id, caller.scope):
            raise NotFoundError(f"score {score_id} not found")
        labels = score_store.review_score(s, score_id, {c: (r, n) for c, r, n in corrections}, caller.key_id)
    return {"score_id": score_id, "labels": labels, "corrected": sorted(seen)}


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

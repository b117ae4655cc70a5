"""Stored scores and analysts' reviews: find scores (e.g. the ones flagged needs_review), read one with its
transcript, correct criteria. Corrections become calibration data (`qa-service reviews export`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from qa_service.api.auth import ANALYST, READER
from qa_service.api.deps import SettingsDep
from qa_service.errors import InvalidInputError
from qa_service.schemas import ErrorResponse

# Database integers are 64-bit: larger ids are a 422, not an overflow.
ScoreId = Annotated[int, Path(ge=1, le=2**63 - 1, description="A stored score's id")]

router = APIRouter(prefix="/v1/scores", tags=["reviews"],
                   responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}})


class ScoreSummary(BaseModel):
    score_id: int
    source: str
    transcript_id: str
    rubric: str
    rubric_version: str
    total: float | None
    auto_fail: bool
    needs_review: bool
    reviewed: bool
    scored_at: str


class Correction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    criterion: str = Field(min_length=1, max_length=200)
    result: Literal["pass", "fail", "na"]
    note: str | None = Field(default=None, max_length=2000)


class ReviewRequest(BaseModel):
    """Corrections to a score; criteria not listed are confirmed as scored. An empty list confirms all."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"corrections": [{"criterion": "empatia", "result": "fail", "note": "Fórmula sin empatía real"}]}]})

    corrections: list[Correction] = Field(default_factory=list)


@router.get("", response_model=list[ScoreSummary], dependencies=[READER], summary="Stored scores, newest first")
def list_scores(settings: SettingsDep, source: str | None = None, needs_review: bool | None = None,
                reviewed: bool | None = None, limit: int = Query(default=50, ge=1, le=500),
                offset: int = Query(default=0, ge=0, le=2**63 - 1)) -> list[ScoreSummary]:
    from sqlalchemy import select

    from qa_service.store import session_scope
    from qa_service.store.models import ReviewRow, ScoreRow, TranscriptRow

    with session_scope(settings.db_url) as s:
        q = select(ScoreRow, TranscriptRow).join(TranscriptRow, ScoreRow.transcript_id == TranscriptRow.id)
        if source is not None:
            q = q.where(TranscriptRow.source == source)
        if needs_review is not None:
            q = q.where(ScoreRow.needs_review == needs_review)
        has_review = ScoreRow.id.in_(select(ReviewRow.score_id))
        if reviewed is not None:
            q = q.where(has_review if reviewed else ~has_review)
        rows = s.execute(q.order_by(ScoreRow.id.desc()).limit(limit).offset(offset)).all()
        reviewed_ids = set(s.scalars(select(ReviewRow.score_id).where(
            ReviewRow.score_id.in_([sc.id for sc, _ in rows]))))
        return [ScoreSummary(score_id=sc.id, source=t.source, transcript_id=t.external_id, rubric=sc.rubric_id,
                             rubric_version=sc.rubric_version, total=sc.total, auto_fail=sc.auto_fail,
                             needs_review=sc.needs_review, reviewed=sc.id in reviewed_ids,
                             scored_at=sc.scored_at.isoformat()) for sc, t in rows]


def _score(s, score_id: int):
    from qa_service.store.models import ScoreRow

    score = s.get(ScoreRow, score_id)
    if score is None:
        raise HTTPException(status_code=404, detail=f"score {score_id} not found")
    return score


@router.get("/{score_id}", dependencies=[READER], responses={404: {"model": ErrorResponse}},
            summary="One stored score with its (stored, redacted) transcript, reviews and current labels")
def get_score(score_id: ScoreId, settings: SettingsDep) -> dict[str, Any]:
    from sqlalchemy import select

    from qa_service.store import session_scope
    from qa_service.store.models import ReviewRow
    from qa_service.store.repository import review_labels

    with session_scope(settings.db_url) as s:
        score = _score(s, score_id)
        t = score.transcript
        reviews = s.scalars(select(ReviewRow).where(ReviewRow.score_id == score_id).order_by(ReviewRow.id)).all()
        return {"score_id": score.id, "source": t.source,
                "transcript": {"id": t.external_id, "channel": t.channel, "language": t.language,
                               "agent": {"id": t.agent_id, "team": t.team}, "turns": t.turns},
                "result": score.result, "labels": review_labels(s, score),
                "reviews": [{"criterion": r.criterion_id, "result": r.result, "original_result": r.original_result,
                             "note": r.note, "reviewer": r.reviewer, "at": r.created_at.isoformat()}
                            for r in reviews if r.result != r.original_result or r.note]}


@router.post("/{score_id}/reviews", status_code=201, dependencies=[ANALYST],
             responses={404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
             summary="Correct (or confirm) a stored score's criteria")
def review(score_id: ScoreId, body: ReviewRequest, request: Request, settings: SettingsDep) -> dict[str, Any]:
    from qa_service.store import session_scope
    from qa_service.store.repository import review_score

    seen: set[str] = set()
    for i, c in enumerate(body.corrections):
        if c.criterion in seen:
            raise InvalidInputError(f"criterion {c.criterion!r} given twice", f"corrections[{i}].criterion")
        seen.add(c.criterion)
    principal = getattr(request.state, "principal", None)
    with session_scope(settings.db_url) as s:
        _score(s, score_id)
        labels = review_score(s, score_id, {c.criterion: (c.result, c.note) for c in body.corrections},
                              getattr(principal, "key_id", None))
    return {"score_id": score_id, "labels": labels, "corrected": sorted(seen)}

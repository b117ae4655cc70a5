"""Stored scores and analysts' reviews: find scores (e.g. the ones flagged needs_review), read one with its
transcript, correct criteria. Corrections become calibration data (`qa-service reviews export`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from qa_service.api.auth import ANALYST, READER, CallerDep
from qa_service.api.deps import RuntimeDep
from qa_service.schemas import ErrorResponse
from qa_service.usecases import reviews

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


class DisputeRequest(BaseModel):
    """A dispute of one criterion's machine result, decided: accept (it was right), partly (partly right: kept out
    of training), reject (it was wrong: give the right result). The comment is required."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"criterion": "empatia", "decision": "reject", "result": "fail", "comment": "Fórmula sin empatía real"}]})

    criterion: str = Field(min_length=1, max_length=200)
    decision: Literal["accept", "partly", "reject"]
    result: Literal["pass", "fail", "na"] | None = None
    comment: str = Field(min_length=1, max_length=2000)


@router.get("", response_model=list[ScoreSummary], dependencies=[READER], summary="Stored scores, newest first")
def list_scores(rt: RuntimeDep, caller: CallerDep, source: str | None = Query(default=None, max_length=200),
                needs_review: bool | None = None, reviewed: bool | None = None,
                limit: int = Query(default=50, ge=1, le=500),
                offset: int = Query(default=0, ge=0, le=2**63 - 1)) -> list[ScoreSummary]:
    return [ScoreSummary(**row) for row in reviews.list_scores(rt, caller, source=source, needs_review=needs_review,
                                                               reviewed=reviewed, limit=limit, offset=offset)]


@router.get("/{score_id}", dependencies=[READER], responses={404: {"model": ErrorResponse}},
            summary="One stored score with its (stored, redacted) transcript, reviews and current labels")
def get_score(score_id: ScoreId, rt: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    return reviews.get_score(rt, score_id, caller)


@router.post("/{score_id}/reviews", status_code=201, dependencies=[ANALYST],
             responses={404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
             summary="Correct (or confirm) a stored score's criteria")
def review(score_id: ScoreId, body: ReviewRequest, rt: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    return reviews.review(rt, score_id, [(c.criterion, c.result, c.note) for c in body.corrections], caller)


@router.post("/{score_id}/disputes", status_code=201, dependencies=[ANALYST],
             responses={404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
             summary="Dispute one criterion's result: accept / partly / reject, with a comment")
def dispute(score_id: ScoreId, body: DisputeRequest, rt: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    return reviews.dispute(rt, score_id, body.criterion, body.decision, body.comment, body.result, caller)

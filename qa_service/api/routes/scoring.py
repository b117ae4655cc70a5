"""Transcript scoring against rubrics, and the rubric catalogue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from qa_service.api.auth import ANALYST, READER
from qa_service.api.deps import SentimentDep, SettingsDep
from qa_service.errors import InvalidInputError
from qa_service.schemas import ErrorResponse, Rubric, ScoreResult, Transcript

router = APIRouter(prefix="/v1", tags=["scoring"])


class ScoreRequest(BaseModel):
    """A transcript and the rubric to score it with: a shipped rubric's name, or a rubric object inline."""

    model_config = ConfigDict(extra="forbid")

    transcript: Transcript
    rubric: str | dict[str, Any] = Field(default="default-es", description="'default-es', 'default-en' or a rubric")


class RubricSummary(BaseModel):
    id: str
    version: str
    language: str
    name: str
    criteria: int


def _scorer(request: Request, settings, sentiment, rubric: Rubric):
    """One scorer per rubric content, built once (example embeddings are cached inside it)."""
    from qa_service.services import make_scorer

    cache: dict = request.app.state.__dict__.setdefault("scorers", {})
    key = rubric.model_dump_json()
    if key not in cache:
        if len(cache) > 32:  # inline rubrics could grow this without bound
            cache.clear()
        cache[key] = make_scorer(settings, rubric, sentiment)
    return cache[key]


@router.post("/score", response_model=ScoreResult, summary="Score one transcript against a rubric",
             dependencies=[ANALYST], responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse},
                                                422: {"model": ErrorResponse}, 503: {"model": ErrorResponse}})
async def score(body: ScoreRequest, request: Request, settings: SettingsDep, pipe: SentimentDep) -> ScoreResult:
    from qa_service.rubrics import load_rubric, parse_rubric

    if isinstance(body.rubric, str):
        if "/" in body.rubric or body.rubric.endswith((".yaml", ".yml")):
            raise InvalidInputError("rubric must be a shipped rubric's name or an inline rubric object", "rubric")
        rubric = load_rubric(body.rubric, settings.rubrics_dir)
    else:
        rubric = parse_rubric(body.rubric, "rubric")
    if sum(len(t.text) for t in body.transcript.turns) > settings.max_text_chars * 20:
        from qa_service.errors import LimitExceededError

        raise LimitExceededError(f"transcript is too long: more than {settings.max_text_chars * 20} characters",
                                 "transcript.turns")
    scorer = _scorer(request, settings, pipe, rubric)
    return await run_in_threadpool(scorer.score, body.transcript)


@router.get("/rubrics", response_model=list[RubricSummary], summary="Shipped rubrics", dependencies=[READER])
def rubrics(settings: SettingsDep) -> list[RubricSummary]:
    from qa_service.rubrics import list_rubrics

    return [RubricSummary(id=r.id, version=r.version, language=r.language, name=r.name,
                          criteria=sum(len(s.criteria) for s in r.sections)) for r in list_rubrics(settings.rubrics_dir)]


@router.get("/rubrics/{rubric_id}", response_model=Rubric, responses={404: {"model": ErrorResponse}},
            dependencies=[READER],
            summary="One rubric, in full")
def rubric(rubric_id: str, settings: SettingsDep) -> Rubric:
    from fastapi import HTTPException

    from qa_service.rubrics import list_rubrics

    for r in list_rubrics(settings.rubrics_dir):
        if r.id == rubric_id:
            return r
    raise HTTPException(status_code=404, detail=f"rubric {rubric_id!r} not found")

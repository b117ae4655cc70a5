"""Transcript scoring against rubrics, and the rubric catalogue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from qa_service.api.auth import ANALYST, READER
from qa_service.api.deps import ModelsDep, RuntimeDep
from qa_service.schemas import ErrorResponse, Rubric, ScoreResult, Transcript
from qa_service.usecases.scoring import get_rubric, list_rubrics, score_transcript

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


@router.post("/score", response_model=ScoreResult, summary="Score one transcript against a rubric",
             dependencies=[ANALYST], responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse},
                                                422: {"model": ErrorResponse}, 503: {"model": ErrorResponse}})
async def score(body: ScoreRequest, rt: ModelsDep) -> ScoreResult:
    return await run_in_threadpool(score_transcript, rt, body.transcript, body.rubric)


@router.get("/rubrics", response_model=list[RubricSummary], summary="Shipped rubrics", dependencies=[READER])
def rubrics(rt: RuntimeDep) -> list[RubricSummary]:
    return [RubricSummary(id=r.id, version=r.version, language=r.language, name=r.name,
                          criteria=sum(len(s.criteria) for s in r.sections)) for r in list_rubrics(rt)]


@router.get("/rubrics/{rubric_id}", response_model=Rubric, responses={404: {"model": ErrorResponse}},
            dependencies=[READER], summary="One rubric, in full")
def rubric(rubric_id: str, rt: RuntimeDep) -> Rubric:
    return get_rubric(rt, rubric_id)

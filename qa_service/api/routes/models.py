"""The model registry over HTTP (admin only): versions, the current one per task, gated promotion, rollback.
A promotion or rollback reaches every server and worker within QA_MODEL_POLL_SECONDS, without a restart."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from qa_service.api.auth import ADMIN, CallerDep
from qa_service.api.deps import RuntimeDep
from qa_service.schemas import ErrorResponse
from qa_service.usecases import models

Task = Annotated[str, Path(max_length=50, pattern=r"^(sentiment|rubric:[a-z0-9_\-]+)$",
                           description="sentiment, or rubric:<rubric id> (a rubric's calibration)")]

router = APIRouter(prefix="/v1/models", tags=["models"], dependencies=[ADMIN],
                   responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}})


class PromoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"version": "20261202-101500-3fa2c1"}]})

    version: str = Field(min_length=1, max_length=200)
    force: bool = Field(default=False, description="Promote although the gate refuses (needs a reason)")
    reason: str | None = Field(default=None, max_length=2000)


class CompareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    candidate: str = Field(min_length=1, max_length=200)
    against: str = Field(default="current", min_length=1, max_length=200)


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000)


class AliasChange(BaseModel):
    task: str
    action: str
    version: str
    previous_version: str | None
    gate: dict[str, Any] | None
    forced: bool
    reason: str | None
    actor: str | None
    at: str


@router.get("", summary="Model versions per task: current, rollback target, candidates with their gate decisions")
def list_models(rt: RuntimeDep) -> list[dict[str, Any]]:
    return models.registry_view(rt)


@router.post("/{task}/compare", responses={404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
             summary="Compare a candidate with the current version on the gate sets (report at report_url)")
async def compare(task: Task, body: CompareRequest, rt: RuntimeDep) -> dict[str, Any]:
    c = await run_in_threadpool(models.compare, rt, task, body.candidate, body.against)
    groups = {name: {"n": g["n"], "diff": g["diff"], "current": {m: g["a"][m] for m in g["diff"] if m in g["a"]},
                     "candidate": {m: g["b"][m] for m in g["diff"] if m in g["b"]}} for name, g in c["groups"].items()}
    return {k: c[k] for k in ("task", "candidate", "against", "tolerance", "gate_sets", "gate", "report_id")} | \
        {"groups": groups, "report_url": f"/v1/reports/{c['report_id']}"}


@router.post("/{task}/promote", response_model=AliasChange,
             responses={404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
             summary="Make a version current if it passes the gate against the current one (409 otherwise)")
async def promote(task: Task, body: PromoteRequest, rt: RuntimeDep, caller: CallerDep) -> AliasChange:
    return AliasChange(**await run_in_threadpool(models.promote, rt, task, body.version, body.force, body.reason,
                                                 caller))


@router.post("/{task}/rollback", response_model=AliasChange,
             responses={422: {"model": ErrorResponse}}, summary="Return to the version before the current one")
async def rollback(task: Task, rt: RuntimeDep, caller: CallerDep, body: RollbackRequest | None = None
                   ) -> AliasChange:
    return AliasChange(**await run_in_threadpool(models.rollback, rt, task, body.reason if body else None, caller))

"""Training-data snapshots over HTTP (admin only): freeze the corrections and the base sets, list snapshots."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from qa_service.api.auth import ADMIN, CallerDep
from qa_service.api.deps import RuntimeDep
from qa_service.schemas import ErrorResponse
from qa_service.usecases import datasets

router = APIRouter(prefix="/v1/data", tags=["data"], dependencies=[ADMIN],
                   responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}})


class SnapshotRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"task": "sentiment"}]})

    task: Literal["sentiment", "rubric"]
    corrections: bool = Field(default=True, description="Include the corrections stored so far")
    base: bool = Field(default=True, description="Include the catalogue's base training sets")


@router.post("/snapshots", status_code=201, responses={422: {"model": ErrorResponse}},
             summary="Freeze corrections + base training sets into an immutable, hashed snapshot")
async def create_snapshot(body: SnapshotRequest, rt: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    return await run_in_threadpool(datasets.snapshot, rt, body.task, body.corrections, body.base, caller)


@router.get("/snapshots", summary="Snapshots, oldest first: rows, label counts, sources and licences")
def list_snapshots(rt: RuntimeDep) -> list[dict[str, Any]]:
    return datasets.snapshots(rt)

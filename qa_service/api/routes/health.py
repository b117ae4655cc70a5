"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from qa_service.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is alive")
def healthz() -> Health:
    return Health()


@router.get("/readyz", response_model=Readiness, summary="200 only when the models are loaded",
            responses={503: {"model": Readiness}})
def readyz(request: Request):
    state = request.app.state
    if getattr(state, "sentiment", None) is not None:
        return Readiness(status="ready", models=state.runtime.served_versions())
    status = "failed" if state.load_error else "loading"
    return JSONResponse(status_code=503, content=Readiness(status=status, detail=state.load_error).model_dump())

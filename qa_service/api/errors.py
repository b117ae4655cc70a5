"""Domain errors and validation failures mapped to HTTP in one place; nothing leaks as a 500 traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa_service.errors import (AuthenticationError, DeadlineExceededError, InvalidInputError, LimitExceededError, ModelLoadError,
                               ModelNotReadyError, NotFoundError, PermissionDeniedError, QAServiceError)

log = logging.getLogger("qa_service.api")


def _body(error: str, message: str, field: str | None = None) -> dict:
    return {"error": error, "detail": [{"field": field, "message": message}]}


def _loc(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = []
        for e in exc.errors():
            msg = e.get("msg", "invalid value")
            if e.get("type") == "json_invalid":
                msg = "request body is not valid JSON"
            detail.append({"field": _loc(tuple(e.get("loc", ()))), "message": msg})
        return JSONResponse(status_code=422, content={"error": "invalid_request", "detail": detail})

    @app.exception_handler(InvalidInputError)
    async def _invalid(_: Request, exc: InvalidInputError) -> JSONResponse:
        return JSONResponse(status_code=422, content=_body("invalid_input", str(exc), exc.field))

    @app.exception_handler(LimitExceededError)
    async def _limit(_: Request, exc: LimitExceededError) -> JSONResponse:
        return JSONResponse(status_code=413, content=_body("limit_exceeded", str(exc), exc.field))

    @app.exception_handler(DeadlineExceededError)
    async def _deadline(_: Request, exc: DeadlineExceededError) -> JSONResponse:
        return JSONResponse(status_code=504, content=_body("timeout", str(exc)))

    @app.exception_handler(NotFoundError)
    async def _not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        # Same body as a 404 raised by routing, so clients see one shape for every "not found".
        return JSONResponse(status_code=404, content=_body("http_error", str(exc)))

    @app.exception_handler(ModelNotReadyError)
    async def _not_ready(_: Request, exc: ModelNotReadyError) -> JSONResponse:
        return JSONResponse(status_code=503, content=_body("not_ready", str(exc)))

    @app.exception_handler(ModelLoadError)
    async def _model(_: Request, exc: ModelLoadError) -> JSONResponse:
        return JSONResponse(status_code=503, content=_body("model_unavailable", str(exc)))

    @app.exception_handler(AuthenticationError)
    async def _unauthenticated(_: Request, exc: AuthenticationError) -> JSONResponse:
        return JSONResponse(status_code=401, content=_body("unauthenticated", str(exc), "Authorization"),
                            headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(PermissionDeniedError)
    async def _forbidden(_: Request, exc: PermissionDeniedError) -> JSONResponse:
        return JSONResponse(status_code=403, content=_body("forbidden", str(exc), "Authorization"))

    @app.exception_handler(QAServiceError)
    async def _domain(_: Request, exc: QAServiceError) -> JSONResponse:
        return JSONResponse(status_code=400, content=_body("bad_request", str(exc)))

    from qa_service.api.middleware import BodyTooLarge

    @app.exception_handler(BodyTooLarge)
    async def _too_large(_: Request, exc: BodyTooLarge) -> JSONResponse:
        return JSONResponse(status_code=413, content=_body("limit_exceeded", str(exc.detail), "body"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content=_body("http_error", str(exc.detail)),
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover - last resort
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content=_body("internal_error", "unexpected error; see server log"))

"""Domain errors and validation failures mapped to HTTP in one place; nothing leaks as a 500 traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa_service.errors import (AuthenticationError, DeadlineExceededError, GateRefusedError, InvalidInputError,
                               LimitExceededError, ModelLoadError, ModelNotReadyError, NotFoundError,
                               PermissionDeniedError, QAServiceError)

log = logging.getLogger("qa_service.api")


def _body(error: str, message: str, field: str | None = None) -> dict:
    return {"error": error, "detail": [{"field": field, "message": message}]}


def _loc(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


# Domain error -> (status, error code, field when the exception carries none). Most specific first; the
# QAServiceError base catches the rest as 400.
DOMAIN_ERRORS: dict[type[QAServiceError], tuple[int, str, str | None]] = {
    InvalidInputError: (422, "invalid_input", None),
    LimitExceededError: (413, "limit_exceeded", None),
    DeadlineExceededError: (504, "timeout", None),
    GateRefusedError: (409, "gate_refused", "version"),
    # Same body as a 404 raised by routing, so clients see one shape for every "not found".
    NotFoundError: (404, "http_error", None),
    ModelNotReadyError: (503, "not_ready", None),
    ModelLoadError: (503, "model_unavailable", None),
    AuthenticationError: (401, "unauthenticated", "Authorization"),
    PermissionDeniedError: (403, "forbidden", "Authorization"),
    QAServiceError: (400, "bad_request", None),
}


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    status, code, field = next(v for t, v in DOMAIN_ERRORS.items() if isinstance(exc, t))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(status_code=status, content=_body(code, str(exc), getattr(exc, "field", None) or field),
                        headers=headers)


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

    for exc_type in DOMAIN_ERRORS:
        app.add_exception_handler(exc_type, _domain_error)

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

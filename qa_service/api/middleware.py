"""Operations: request size limit, request timeout, one structured log line per request, Prometheus metrics.

Log lines are JSON (``QA_LOG_FORMAT=json``, the default) and never carry request or response bodies: no
customer text reaches the logs. Metrics live on ``GET /metrics`` (Prometheus text format).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("qa_service.access")
# A client's X-Request-ID is kept only when it is short and plain; otherwise the server makes one.
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    _skip = set(vars(logging.makeLogRecord({})))

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
                               "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        out.update({k: v for k, v in vars(record).items() if k not in self._skip and k not in ("message", "asctime")})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._qa_service = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    # Replace only our own earlier handler (create_app may run more than once); leave others (pytest's) alone.
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_qa_service", False)] + [handler]
    root.setLevel(level.upper())
    logging.Formatter.converter = time.gmtime


def _error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": code, "detail": [{"field": field, "message": message}]})


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` when a body grows past its limit (FastAPI re-raises HTTP exceptions from body
    parsing as they are; the error handlers answer 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit // (1 << 20)} MB (QA_MAX_BODY_MB; uploads QA_MAX_UPLOAD_MB)")


class BodySizeLimit:
    """413 for request bodies over ``limit`` bytes: a declared Content-Length is refused before reading; every
    body (chunked ones too) is counted as it arrives and reading stops at the limit. Nothing is buffered here:
    the route reads the stream (multipart uploads are spooled to disk by the form parser). File uploads to the
    job endpoints get ``upload_limit`` instead (the route then checks ``QA_MAX_UPLOAD_MB`` itself)."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int) -> None:
        self.app = app
        self.body_limit = limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        upload = scope.get("path", "").startswith("/v1/jobs/") and \
            headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        limit = self.upload_limit if upload else self.body_limit
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _error(413, "limit_exceeded", str(BodyTooLarge(limit).detail), "body")(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge as exc:  # read outside a route's error handling (e.g. by a middleware)
            if started:
                raise
            await _error(413, "limit_exceeded", str(exc.detail), "body")(scope, receive, send)


class Metrics:
    """Prometheus metrics of one app (its own registry, so several apps in one process do not clash)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("qa_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("qa_request_seconds", "HTTP request latency", ["route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
        self.queue = Gauge("qa_job_queue_depth", "Records waiting in unfinished batch jobs", registry=self.registry)
        self.models = Gauge("qa_model_info", "Model versions loaded (value 1)", ["task", "version"],
                            registry=self.registry)

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class Observe:
    """ASGI middleware (outermost): a request id, the request timeout (504 when no response has started within
    ``QA_REQUEST_TIMEOUT``), metrics and one access-log line per request. Plain ASGI rather than Starlette's
    ``BaseHTTPMiddleware``, which costs the live path a task group and a stream per request."""

    QUIET = ("/healthz", "/readyz", "/metrics")

    def __init__(self, app: ASGIApp, metrics: Metrics, timeout: float) -> None:
        self.app = app
        self.metrics = metrics
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        t0 = time.perf_counter()
        status = 500
        started = asyncio.Event()

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
                started.set()
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, tagged))
        waiter = asyncio.ensure_future(started.wait())
        try:
            done, _ = await asyncio.wait({task, waiter}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
            if not done:  # nothing sent within the timeout: stop the work and answer 504
                task.cancel()
                status = 504
                await _error(504, "timeout", f"request took longer than {self.timeout:g} s (QA_REQUEST_TIMEOUT); "
                             "use a batch job for large inputs")(scope, receive, tagged)
            else:
                await task  # the response has started (or the app is done): the body is not cut short
        finally:
            waiter.cancel()
            if not task.done():
                task.cancel()
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - t0
            self.metrics.requests.labels(scope.get("method", ""), path, str(status)).inc()
            self.metrics.latency.labels(path).observe(elapsed)
            if path not in self.QUIET:
                principal = (scope.get("state") or {}).get("principal")
                log.info("request", extra={"request_id": rid, "method": scope.get("method"), "route": path,
                                           "status": status, "ms": round(1000 * elapsed, 2),
                                           "key_id": getattr(principal, "key_id", None)})


def _request_id(scope: Scope) -> str:
    """The client's X-Request-ID when it is 1-64 characters of [A-Za-z0-9._-]; else a new one."""
    for name, value in scope.get("headers") or []:
        if name == b"x-request-id":
            given = value.decode("latin-1")
            return given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]
    return uuid.uuid4().hex[:16]


def install_operations(app: FastAPI, settings) -> None:
    """Access log with request ids and the timeout (outermost), authentication (before any body is read), the
    body size limit, and metrics on ``app``."""
    from prometheus_client import CONTENT_TYPE_LATEST

    from qa_service.api.auth import ADMIN, Authenticate

    metrics = Metrics()
    app.state.metrics = metrics

    @app.get("/metrics", include_in_schema=False, dependencies=[] if settings.public_metrics else [ADMIN])
    def prometheus() -> Response:
        from qa_service.usecases.jobs import queue_depth

        try:
            metrics.queue.set(queue_depth(app.state.runtime))
        except Exception:  # noqa: BLE001 - a metrics scrape must not fail on a busy database
            pass
        metrics.models.clear()  # a swapped-out version is no longer served
        for task, version in app.state.runtime.served_versions().items():
            metrics.models.labels(task, version).set(1)
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    # Starlette runs the middleware added last first: observe -> Authenticate -> BodySizeLimit -> routes.
    app.add_middleware(BodySizeLimit, limit=settings.max_body_mb << 20,
                       upload_limit=(settings.max_upload_mb + 1) << 20)
    app.add_middleware(Authenticate, settings=settings, runtime=app.state.runtime)
    app.add_middleware(Observe, metrics=metrics, timeout=settings.request_timeout)

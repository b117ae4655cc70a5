"""API keys and roles: ``Authorization: Bearer <key>``; 401 without a valid key, 403 for the wrong role.

Two steps. :class:`Authenticate` (ASGI middleware, outside everything that reads a body) establishes who is
calling for every path except the open ones (``/healthz``, ``/readyz``; ``/docs`` and ``/openapi.json`` with
``QA_PUBLIC_DOCS``; ``/metrics`` with ``QA_PUBLIC_METRICS``): a missing or invalid key is answered 401 before a
single body byte is read. The caller goes to ``request.state.principal``. Then each route's dependency
(:func:`require`) checks the role (403).

Roles: ``helpdesk`` (live sentiment), ``analyst`` (scoring, jobs, reviews, feedback analysis), ``manager``
(read-only: reports, topics, rubrics, scores), ``admin`` (everything). Verified keys (and unknown ones) are
remembered for ``CACHE_SECONDS`` so the live path does not hit the database on every request; a revoked key stops
working within that time. A lookup that does reach the database runs in a worker thread (at most
``LOOKUP_THREADS`` at once), never on the event loop; keys of the wrong shape are refused without a lookup.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from qa_service.errors import AuthenticationError, PermissionDeniedError
from qa_service.usecases.access import Caller

CACHE_SECONDS = 5.0
CACHE_SIZE = 10_000
LOOKUP_THREADS = 4
# qa_<12 hex key id>_<token_urlsafe(32)>: anything else cannot be a key (no database lookup).
KEY_SHAPE = re.compile(r"qa_[0-9a-f]{12}_[A-Za-z0-9_-]{20,64}")
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
_bearer = HTTPBearer(auto_error=False, description="An API key from `qa-service keys create --role ROLE`.")



class KeyCache:
    """Key -> caller (or ``None`` for an invalid key), remembered for ``CACHE_SECONDS``; keyed by the key's
    SHA-256, so the secrets themselves are not kept in memory."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime
        self.entries: dict[bytes, tuple[float, Caller | None]] = {}
        self.limiter: anyio.CapacityLimiter | None = None

    async def caller(self, key: str) -> Caller | None:
        if not KEY_SHAPE.fullmatch(key):
            return None
        digest = hashlib.sha256(key.encode()).digest()
        hit = self.entries.get(digest)
        if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1]
        from qa_service.usecases.admin import authenticate

        if self.limiter is None:
            self.limiter = anyio.CapacityLimiter(LOOKUP_THREADS)
        found = await anyio.to_thread.run_sync(authenticate, self.runtime, key, limiter=self.limiter)
        caller = Caller(*found) if found else None
        if len(self.entries) >= CACHE_SIZE:
            self.entries.clear()
        self.entries[digest] = (time.monotonic(), caller)
        return caller


def bearer_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, else ``None``."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, key = value.decode("latin-1").partition(" ")
            return (key.strip() or None) if scheme.lower() == "bearer" else None
    return None


class Authenticate:
    """ASGI middleware: the caller of every non-open path, or 401 before the body is read."""

    def __init__(self, app: ASGIApp, settings, runtime) -> None:
        self.app = app
        self.settings = settings
        self.keys = KeyCache(runtime)
        self.open_paths = {"/healthz", "/readyz"} | (set(DOCS_PATHS) if settings.public_docs else set()) | \
            ({"/metrics"} if settings.public_metrics else set())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.open_paths:
            await self.app(scope, receive, send)
            return
        if self.settings.auth_disabled:
            caller: Caller | None = Caller(None, "admin")
        else:
            key = bearer_key(scope.get("headers") or [])
            if key is None:
                await _unauthenticated(send, "missing API key: send 'Authorization: Bearer <key>'")
                return
            caller = await self.keys.caller(key)
            if caller is None:
                await _unauthenticated(send, "invalid or revoked API key")
                return
        scope.setdefault("state", {})["principal"] = caller
        await self.app(scope, receive, send)


async def _unauthenticated(send: Send, message: str) -> None:
    body = json.dumps({"error": "unauthenticated", "detail": [{"field": "Authorization", "message": message}]})
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b"Bearer")]})
    await send({"type": "http.response.body", "body": body.encode()})


def current_caller(request: Request) -> Caller:
    """The caller that :class:`Authenticate` established (401 when there is none)."""
    caller = getattr(request.state, "principal", None)
    if caller is None:
        raise AuthenticationError("missing API key: send 'Authorization: Bearer <key>'")
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]


def require(*roles: str) -> Any:
    """A dependency admitting keys of ``roles`` (and ``admin``, always)."""
    allowed = set(roles) | {"admin"}

    async def check(request: Request,
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
        # ``credentials`` is declared for the OpenAPI security scheme; the middleware has already checked the key.
        caller = current_caller(request)
        if caller.role not in allowed:
            raise PermissionDeniedError(f"role {caller.role!r} may not do this (needs one of "
                                        f"{', '.join(sorted(allowed))})")
        return caller

    return Depends(check)


HELPDESK = require("helpdesk", "analyst")
ANALYST = require("analyst")
READER = require("analyst", "manager")
ADMIN = require()

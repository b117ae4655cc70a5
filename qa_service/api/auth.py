"""API keys and roles: ``Authorization: Bearer <key>``; 401 without a valid key, 403 for the wrong role.

Roles: ``helpdesk`` (live sentiment), ``analyst`` (scoring, jobs, reviews, feedback analysis), ``manager``
(reports and topics, read-only), ``admin`` (everything, including keys, rubrics and models). Verified keys are
remembered for a few seconds so the live path does not hit the database on every request; a revoked key stops
working within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from qa_service.errors import AuthenticationError, PermissionDeniedError

CACHE_SECONDS = 5.0
_bearer = HTTPBearer(auto_error=False, description="An API key from `qa-service keys create --role ROLE`.")


class Principal:
    """Who is calling: key id and role (``None`` id when auth is disabled)."""

    def __init__(self, key_id: str | None, role: str) -> None:
        self.key_id = key_id
        self.role = role


def _lookup(request: Request, key: str) -> Principal | None:
    from qa_service.usecases.admin import authenticate

    cache: dict[str, tuple[float, Principal | None]] = request.app.state.__dict__.setdefault("key_cache", {})
    hit = cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    found = authenticate(request.app.state.runtime, key)
    principal = Principal(*found) if found else None
    if len(cache) > 10_000:
        cache.clear()
    cache[key] = (now, principal)
    return principal


def require(*roles: str) -> Any:
    """A dependency admitting keys of ``roles`` (and ``admin``, always)."""
    allowed = set(roles) | {"admin"}

    async def check(request: Request,
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
        if request.app.state.settings.auth_disabled:
            return Principal(None, "admin")
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            raise AuthenticationError("missing API key: send 'Authorization: Bearer <key>'")
        principal = _lookup(request, credentials.credentials.strip())
        if principal is None:
            raise AuthenticationError("invalid or revoked API key")
        if principal.role not in allowed:
            raise PermissionDeniedError(f"role {principal.role!r} may not do this (needs one of "
                                        f"{', '.join(sorted(allowed))})")
        request.state.principal = principal
        return principal

    return Depends(check)


HELPDESK = require("helpdesk", "analyst")
ANALYST = require("analyst")
READER = require("analyst", "manager")
ADMIN = require()

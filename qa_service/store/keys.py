"""API keys: 256-bit secrets, only their SHA-256 stored, with a role."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timezone
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from qa_service.errors import InvalidInputError
from qa_service.store.tables import ApiKeyRow

Role = Literal["helpdesk", "analyst", "manager", "admin"]
ROLES: tuple[str, ...] = ("helpdesk", "analyst", "manager", "admin")

KEY_PREFIX = "qa"


def _key_hash(secret: str) -> str:
    # Keys are 256-bit random secrets, so a plain SHA-256 is safe to store (no dictionary to attack).
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(session: Session, role: str, name: str | None = None, team: str | None = None
                   ) -> tuple[str, str]:
    """Create a key; returns ``(key_id, key)``. The key is shown once: only its hash is stored. A key with a
    ``team`` sees the jobs and scores of every key of that team (team scope); without one, only its own."""
    if role not in ROLES:
        raise InvalidInputError(f"unknown role {role!r}: use one of {', '.join(ROLES)}", "role")
    if team is not None and not (0 < len(team) <= 100):
        raise InvalidInputError("team: 1 to 100 characters", "team")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    session.add(ApiKeyRow(id=key_id, key_hash=_key_hash(secret), role=role, name=name, team=team))
    session.flush()
    return key_id, f"{KEY_PREFIX}_{key_id}_{secret}"


def revoke_api_key(session: Session, key_id: str) -> ApiKeyRow:
    row = session.get(ApiKeyRow, key_id)
    if row is None:
        raise InvalidInputError(f"no API key with id {key_id!r}", "id")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(timezone.utc)
    return row


def verify_api_key(session: Session, key: str) -> ApiKeyRow | None:
    """The key's row when ``key`` is a valid, unrevoked key; else ``None``."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    row = session.get(ApiKeyRow, parts[1])
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _key_hash(parts[2])):
        return None
    return row


def list_api_keys(session: Session) -> list[ApiKeyRow]:
    return list(session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at)))

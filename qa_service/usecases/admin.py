"""Operating the service: database migrations and API keys."""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa_service.errors import QAServiceError
from qa_service.runtime import Runtime
from qa_service.store import current_revision, head_revision, is_new, upgrade
from qa_service.store import keys as key_store


def redacted_url(url: str) -> str:
    """The database URL with its password masked."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def migrate(rt: Runtime, revision: str = "head") -> str | None:
    """Apply migrations (creates a SQLite file on first use); returns the revision reached."""
    return upgrade(rt.settings.db_url, revision)


def revisions(rt: Runtime) -> tuple[str | None, str | None]:
    """(the database's revision, the newest this version knows)."""
    return current_revision(rt.settings.db_url), head_revision()


def prepare_database(rt: Runtime) -> bool:
    """Migrate a new database; refuse one that is behind; register the shipped models as seed versions of the
    registry. Returns True when the database was new."""
    from qa_service.usecases.models import sync_registry

    url = rt.settings.db_url
    new = is_new(url)
    if new:
        upgrade(url)
    current, head = current_revision(url), head_revision()
    if current != head:
        raise QAServiceError(f"the database is at migration {current}, this version needs {head}: "
                             "run `qa-service db upgrade` first")
    sync_registry(rt)
    return new


def create_key(rt: Runtime, role: str, name: str | None = None, team: str | None = None) -> tuple[str, str]:
    """A new API key: (id, key); the key is shown once, only its hash is stored. ``team``: the key sees what
    every key of that team owns (jobs, their results and scores)."""
    upgrade(rt.settings.db_url)
    with rt.session() as s:
        return key_store.create_api_key(s, role, name, team)


def first_admin_key(rt: Runtime) -> tuple[str, str] | int:
    """Create the first admin key when there is no active key; else the number of active keys."""
    upgrade(rt.settings.db_url)
    with rt.session() as s:
        active = [k for k in key_store.list_api_keys(s) if k.revoked_at is None]
        if active:
            return len(active)
        return key_store.create_api_key(s, "admin", "first admin key")


@dataclass
class KeyInfo:
    id: str
    role: str
    name: str | None
    team: str | None
    created_at: object
    last_used_at: object
    revoked: bool


def list_keys(rt: Runtime) -> list[KeyInfo]:
    upgrade(rt.settings.db_url)
    with rt.session() as s:
        return [KeyInfo(k.id, k.role, k.name, k.team, k.created_at, k.last_used_at, k.revoked_at is not None)
                for k in key_store.list_api_keys(s)]


def revoke_key(rt: Runtime, key_id: str) -> None:
    upgrade(rt.settings.db_url)
    with rt.session() as s:
        key_store.revoke_api_key(s, key_id)


def authenticate(rt: Runtime, key: str) -> tuple[str, str, str | None] | None:
    """(key id, role, team) of a valid, unrevoked key (its last use is recorded), else ``None``."""
    from datetime import datetime, timezone

    with rt.session() as s:
        row = key_store.verify_api_key(s, key)
        if row is None:
            return None
        row.last_used_at = datetime.now(timezone.utc)
        return row.id, row.role, row.team

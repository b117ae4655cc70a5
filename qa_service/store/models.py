"""The model registry: versions of each task (shipped seeds and trained candidates), the ``current`` alias every
server and worker follows, and the history of promotions and rollbacks.

A task is ``sentiment`` or ``rubric:<rubric id>`` (a rubric's calibration: semantic thresholds and per-criterion
kappa). Rollback pops the promotion stack that replaying a task's events gives (seed and promote push, rollback
pops), so promoting A -> B -> C and rolling back twice returns to A.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qa_service.store.tables import ModelAliasRow, ModelEventRow, ModelVersionRow, utcnow

CURRENT = "current"


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def register_model(session: Session, task: str, version: str, manifest: dict, origin: str = "seed",
                   path: str | None = None, snapshot_id: str | None = None, created_by: str | None = None
                   ) -> ModelVersionRow:
    """Record a version of ``task`` (once per task + version; a later call fills in what was missing)."""
    row = session.scalar(select(ModelVersionRow).where(ModelVersionRow.task == task, ModelVersionRow.version == version))
    if row is None:
        row = ModelVersionRow(task=task, version=version, manifest=_json(manifest), origin=origin, path=path,
                              snapshot_id=snapshot_id, created_by=created_by)
        session.add(row)
    else:
        # Rows registered before the registry (migration 0005) know neither their path nor their origin.
        row.path = row.path or path
        row.snapshot_id = row.snapshot_id or snapshot_id
        if origin == "candidate":
            row.origin = origin
    session.flush()
    return row


def get_version(session: Session, task: str, version: str) -> ModelVersionRow | None:
    return session.scalar(select(ModelVersionRow).where(ModelVersionRow.task == task,
                                                        ModelVersionRow.version == version))


def list_versions(session: Session, task: str | None = None) -> list[ModelVersionRow]:
    """Registered versions (of ``task``), oldest first."""
    q = select(ModelVersionRow).order_by(ModelVersionRow.task, ModelVersionRow.id)
    if task is not None:
        q = q.where(ModelVersionRow.task == task)
    return list(session.scalars(q))


def tasks(session: Session) -> list[str]:
    return sorted(set(session.scalars(select(ModelVersionRow.task))))


def save_comparison(session: Session, task: str, version: str, comparison: dict) -> None:
    """Keep the latest comparison of ``version`` (against the version it would replace) with its gate decision."""
    row = get_version(session, task, version)
    if row is not None:
        row.comparison = _json(comparison)
        session.flush()


def current(session: Session, task: str) -> str | None:
    """The version the ``current`` alias of ``task`` names, else ``None``."""
    row = session.get(ModelAliasRow, (task, CURRENT))
    return row.version if row else None


def current_aliases(session: Session) -> dict[str, str]:
    """task -> current version, for every task that has one (one query: the servers poll this)."""
    return {r.task: r.version for r in session.scalars(select(ModelAliasRow).where(ModelAliasRow.alias == CURRENT))}


def events(session: Session, task: str, limit: int | None = None) -> list[ModelEventRow]:
    """Changes of ``task``'s current alias, newest first."""
    q = select(ModelEventRow).where(ModelEventRow.task == task).order_by(ModelEventRow.id.desc())
    if limit:
        q = q.limit(limit)
    return list(session.scalars(q))


def promotion_stack(session: Session, task: str) -> list[str]:
    """The versions a rollback would return to, oldest first; the last is the current one."""
    stack: list[str] = []
    for e in reversed(events(session, task)):
        if e.action in ("seed", "promote"):
            stack.append(e.version)
        elif e.action == "rollback" and stack:
            stack.pop()
    return stack


def set_current(session: Session, task: str, version: str, action: str, actor: str | None,
                gate: dict | None = None, forced: bool = False, reason: str | None = None) -> ModelEventRow:
    """Point ``task``'s current alias at ``version`` and record the event (in the caller's transaction).

    The alias row is locked first (``SELECT ... FOR UPDATE`` where the database has it), so two promotions at once
    are serialised and each records the version it really replaced."""
    alias = session.scalar(select(ModelAliasRow).where(ModelAliasRow.task == task, ModelAliasRow.alias == CURRENT)
                           .with_for_update())
    previous = alias.version if alias else None
    if alias is None:
        alias = ModelAliasRow(task=task, alias=CURRENT, version=version, updated_by=actor)
        session.add(alias)
    alias.version, alias.updated_by, alias.updated_at = version, actor, utcnow()
    event = ModelEventRow(task=task, action=action, version=version, previous_version=previous,
                          gate=_json(gate) if gate is not None else None, forced=forced, reason=reason, actor=actor)
    session.add(event)
    session.flush()
    return event


def ensure_seed(session: Session, task: str, version: str, manifest: dict, path: str, make_current: bool) -> None:
    """Register a shipped version (and make it current when the task has no current version yet); two processes
    seeding at once (servers starting together) are fine: the loser's insert is rolled back to a savepoint."""
    try:
        with session.begin_nested():
            register_model(session, task, version, manifest, origin="seed", path=path)
    except IntegrityError:
        pass
    if make_current and current(session, task) is None:
        try:
            with session.begin_nested():
                set_current(session, task, version, "seed", "seed")
        except IntegrityError:
            pass


def registry_ready(session: Session) -> bool:
    """Whether the database has the registry's tables (migration 0005 applied)."""
    return inspect(session.get_bind()).has_table("model_aliases")

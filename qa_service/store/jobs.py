"""Batch jobs: a job row and one item row per record; the queries that create, claim and finish them.

Claiming works the same on SQLite and PostgreSQL: a consumer marks items ``running`` under a lease (its owner
name and an expiry) in a short transaction of its own; the claim is one UPDATE whose WHERE clause says "queued,
or running under an expired lease", so of two consumers racing for the same rows only one matches (SQLite runs
one writer at a time; PostgreSQL re-checks the clause on the row it waited for). The results are written in a
second transaction that first renews the lease of exactly those items for that owner (:func:`renew_lease`): if
another consumer took them over meanwhile the renewal matches fewer rows and the batch is dropped, not written
twice."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Iterator

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from qa_service.store.tables import JobItemRow, JobRow


def now() -> datetime:
    return datetime.now(timezone.utc)


def create_job(session: Session, job_id: str, kind: str, params: dict[str, Any],
               payloads: Iterable[dict[str, Any]], owner: tuple[str | None, str | None] = (None, None)
               ) -> tuple[int, int]:
    """Store a job and one item per payload (a payload with ``_error`` is stored as failed); returns
    ``(records, failed)``. A job whose every record failed is finished at once. ``owner``: the submitting API
    key's (id, team)."""
    job = JobRow(id=job_id, kind=kind, status="queued", params=params, owner_key_id=owner[0], owner_team=owner[1])
    session.add(job)
    session.flush()
    n = failed = 0
    for seq, p in enumerate(payloads):
        error = p.pop("_error", None) if isinstance(p, dict) else None
        session.add(JobItemRow(job_id=job_id, seq=seq, payload=p, status="failed" if error else "queued", error=error))
        n += 1
        failed += bool(error)
        if n % 1000 == 0:
            session.flush()
    job.total, job.failed = n, failed
    if n and failed == n:
        job.status, job.finished_at = "done", now()
    return n, failed


def get_job(session: Session, job_id: str) -> JobRow | None:
    """The job, detached from the session (readable after it closes), or ``None``."""
    job = session.get(JobRow, job_id)
    if job is not None:
        session.expunge(job)
    return job


def start_job(session: Session, job_id: str, owner: str, lease_s: float) -> tuple[str, dict[str, Any]] | None:
    """Mark a job running under ``owner``'s lease; returns ``(kind, params)``, or ``None`` when it is unknown or
    already finished."""
    job = session.get(JobRow, job_id)
    if job is None or job.status in ("done", "failed"):
        return None
    t = now()
    job.status = "running"
    job.started_at = job.started_at or t
    job.lease_owner, job.heartbeat_at, job.lease_expires = owner, t, t + timedelta(seconds=lease_s)
    return job.kind, dict(job.params or {})


def finish_job(session: Session, job_id: str, error: str | None = None) -> bool:
    """Mark a job failed with ``error``, or done when no item is left queued or running; returns whether it
    was finished."""
    job = session.get(JobRow, job_id)
    if error is None and session.scalar(select(func.count()).select_from(JobItemRow).where(
            JobItemRow.job_id == job_id, JobItemRow.status.in_(("queued", "running")))):
        return False
    job.status, job.error, job.finished_at = ("failed" if error else "done"), error, now()
    job.lease_owner = job.lease_expires = None
    return True


def set_progress(session: Session, job_id: str, progress: dict[str, Any]) -> None:
    """Where a job of one long step (training) is: ``{"stage", "done", "total"}``."""
    session.execute(update(JobRow).where(JobRow.id == job_id).values(progress=progress))


def _claimable(t: datetime):
    return or_(JobItemRow.status == "queued",
               and_(JobItemRow.status == "running", JobItemRow.lease_expires < t))


def claim_batch(session: Session, job_id: str, size: int, owner: str, lease_s: float) -> list[JobItemRow]:
    """Claim the next ``size`` items of a job that are queued or whose lease expired, in order, for ``owner``
    until ``lease_s`` seconds from now. Commit right after (the claim is its own transaction); the same query
    on SQLite and PostgreSQL (there the candidate rows are also locked, skipping rows another claim holds)."""
    t = now()
    candidates = select(JobItemRow.id).where(JobItemRow.job_id == job_id, _claimable(t)) \
        .order_by(JobItemRow.seq).limit(size)
    if session.bind.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(session.scalars(candidates))
    if not ids:
        return []
    # The WHERE clause is evaluated again at write time: rows another consumer claimed since do not match.
    session.execute(update(JobItemRow).where(JobItemRow.id.in_(ids), _claimable(t))
                    .values(status="running", lease_owner=owner, lease_expires=t + timedelta(seconds=lease_s))
                    .execution_options(synchronize_session=False))
    session.execute(update(JobRow).where(JobRow.id == job_id)
                    .values(lease_owner=owner, heartbeat_at=t, lease_expires=t + timedelta(seconds=lease_s)))
    return list(session.scalars(select(JobItemRow).where(
        JobItemRow.id.in_(ids), JobItemRow.lease_owner == owner, JobItemRow.status == "running")
        .order_by(JobItemRow.seq).execution_options(populate_existing=True)))


def renew_lease(session: Session, job_id: str, owner: str, item_ids: list[int], lease_s: float) -> int:
    """Extend ``owner``'s lease on its running items and the job's heartbeat; returns how many of ``item_ids``
    it still holds (fewer: another consumer took some over after the lease expired). Called as the heartbeat
    during a batch and as the first statement of the transaction that writes the batch's results (which
    then holds those rows until it commits)."""
    t = now()
    exp = t + timedelta(seconds=lease_s)
    n = session.execute(update(JobItemRow).where(
        JobItemRow.id.in_(item_ids), JobItemRow.lease_owner == owner, JobItemRow.status == "running")
        .values(lease_expires=exp).execution_options(synchronize_session=False)).rowcount
    session.execute(update(JobRow).where(JobRow.id == job_id)
                    .values(lease_owner=owner, heartbeat_at=t, lease_expires=exp))
    return int(n or 0)


def others_lease_wait(session: Session, job_id: str, owner: str) -> float | None:
    """Seconds until the earliest lease another consumer holds on this job's running items expires (0 when one
    already has); ``None`` when no item is running under another owner."""
    exp = session.scalar(select(func.min(JobItemRow.lease_expires)).where(
        JobItemRow.job_id == job_id, JobItemRow.status == "running", JobItemRow.lease_owner != owner))
    if exp is None:
        return None
    exp = exp if exp.tzinfo else exp.replace(tzinfo=timezone.utc)
    return max(0.0, (exp - now()).total_seconds())


def record_batch(session: Session, job_id: str, item_ids: list[int], results: list[Any]) -> None:
    """Write each item's result (a JSON-ready dict) or failure (an exception) and the job's counters."""
    rows = {r.id: r for r in session.scalars(select(JobItemRow).where(JobItemRow.id.in_(item_ids)))}
    items = [rows[i] for i in item_ids]
    done = 0
    for it, res in zip(items, results):
        it.attempts += 1
        if isinstance(res, Exception):
            it.status, it.error = "failed", f"{type(res).__name__}: {res}"
        else:
            it.result, it.status = res, "done"
            done += 1
        it.lease_owner = it.lease_expires = None
    session.execute(update(JobRow).where(JobRow.id == job_id)
                    .values(done=JobRow.done + done, failed=JobRow.failed + len(items) - done))


def iter_results(session_factory, job_id: str, batch: int = 500) -> Iterator[JobItemRow]:
    """Finished items of a job in order (done and failed), read in pages so memory stays flat.
    ``session_factory()`` opens one short session per page."""
    last = -1
    while True:
        with session_factory() as s:
            rows = s.scalars(select(JobItemRow).where(JobItemRow.job_id == job_id, JobItemRow.seq > last,
                                                      JobItemRow.status.in_(("done", "failed")))
                             .order_by(JobItemRow.seq).limit(batch)).all()
            for r in rows:
                s.expunge(r)
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def queue_depth(session: Session) -> int:
    """Records waiting in unfinished jobs."""
    return int(session.scalar(select(func.count()).select_from(JobItemRow).where(JobItemRow.status == "queued"))
               or 0)


def unfinished_job_ids(session: Session) -> list[str]:
    return list(session.scalars(select(JobRow.id).where(JobRow.status.in_(("queued", "running")))))


def take_over_expired_jobs(session: Session, owner: str, lease_s: float) -> list[str]:
    """Running jobs whose consumer's lease expired (it died or hung): each is given a fresh lease in
    ``owner``'s name, so of several consumers recovering at once only one re-queues it; returns their ids.
    Queued jobs are left alone (their queue message is still in the queue)."""
    t = now()
    ids = list(session.scalars(select(JobRow.id).where(
        JobRow.status == "running", or_(JobRow.lease_expires.is_(None), JobRow.lease_expires < t))))
    taken = []
    for job_id in ids:
        n = session.execute(update(JobRow).where(
            JobRow.id == job_id, JobRow.status == "running",
            or_(JobRow.lease_expires.is_(None), JobRow.lease_expires < t))
            .values(lease_owner=owner, heartbeat_at=t, lease_expires=t + timedelta(seconds=lease_s))).rowcount
        if n:
            taken.append(job_id)
    return taken

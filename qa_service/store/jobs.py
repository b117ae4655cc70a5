"""Batch jobs: a job row and one item row per record; the queries that create, claim and finish them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

from sqlalchemy import func, select, update
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


def start_job(session: Session, job_id: str) -> tuple[str, dict[str, Any]] | None:
    """Mark a job running; returns ``(kind, params)``, or ``None`` when it is unknown or already finished."""
    job = session.get(JobRow, job_id)
    if job is None or job.status in ("done", "failed"):
        return None
    job.status = "running"
    job.started_at = job.started_at or now()
    return job.kind, dict(job.params or {})


def finish_job(session: Session, job_id: str, error: str | None = None) -> None:
    """Mark a job done, or failed with ``error``."""
    job = session.get(JobRow, job_id)
    job.status, job.error, job.finished_at = ("failed" if error else "done"), error, now()


def claim_batch(session: Session, job_id: str, size: int) -> list[JobItemRow]:
    """The next ``size`` queued items of a job, in order (rows locked on PostgreSQL, skipping locked ones)."""
    q = select(JobItemRow).where(JobItemRow.job_id == job_id, JobItemRow.status == "queued") \
        .order_by(JobItemRow.seq).limit(size)
    if session.bind.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    return list(session.scalars(q))


def record_batch(session: Session, job_id: str, items: list[JobItemRow], results: list[Any]) -> None:
    """Write each item's result (a JSON-ready dict) or failure (an exception) and the job's counters."""
    done = 0
    for it, res in zip(items, results):
        it.attempts += 1
        if isinstance(res, Exception):
            it.status, it.error = "failed", f"{type(res).__name__}: {res}"
        else:
            it.result, it.status = res, "done"
            done += 1
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

"""Batch jobs: scoring transcripts and labelling comments in the background, every record done exactly once.

The queue is Huey: SQLite by default (a file in ``QA_DATA_DIR``, the consumer runs inside ``qa-service serve``),
Redis with ``QA_REDIS_URL`` for several ``qa-service worker`` processes. The queue only carries job ids; the
work itself lives in the database: a job has one row per record (``job_items``), and each batch of records is
processed and written (result, status, counters) in one transaction. A worker killed mid-batch leaves that
batch queued; on start a worker re-enqueues every unfinished job, so each record ends up done exactly once.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import func, select, update

from qa_service.config import Settings
from qa_service.errors import InvalidInputError, QAServiceError
from qa_service.store import session_scope
from qa_service.store.models import JobItemRow, JobRow

log = logging.getLogger("qa_service.jobs")

KINDS = ("score", "sentiment")
BATCH = {"score": 8, "sentiment": 128}


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- the queue
_QUEUES: dict[str, Any] = {}
_lock = threading.Lock()


def get_queue(settings: Settings):
    """The Huey instance for these settings, with the job task registered (built once per process)."""
    key = settings.redis_url or str(settings.data_dir / "queue.db")
    with _lock:
        if key in _QUEUES:
            return _QUEUES[key]
        if settings.redis_url:
            try:
                import redis  # noqa: F401  (RedisHuey needs it; fail here with an install hint)
                from huey import RedisHuey
            except ImportError as exc:  # pragma: no cover - depends on the extra
                raise QAServiceError("QA_REDIS_URL needs the redis client: pip install 'qa_service[redis]'") from exc
            huey = RedisHuey("qa_service", url=settings.redis_url)
        else:
            from huey import SqliteHuey

            settings.data_dir.mkdir(parents=True, exist_ok=True)
            huey = SqliteHuey("qa_service", filename=key)

        @huey.task(name="run_job")
        def run_job_task(job_id: str) -> None:
            run_job(settings, job_id)

        huey.run_job_task = run_job_task  # type: ignore[attr-defined]
        _QUEUES[key] = huey
        return huey


def _enqueue(settings: Settings, job_id: str) -> None:
    get_queue(settings).run_job_task(job_id)


# --------------------------------------------------------------------------- submitting and reading jobs
def submit_job(settings: Settings, kind: str, payloads: Iterable[dict[str, Any]], params: dict[str, Any]) -> JobRow:
    """Store a job and its records, then queue it. ``payloads``: transcripts (score) or comments (sentiment),
    as JSON-ready dicts; records that failed validation can be passed as ``{"_error": reason, ...}``."""
    if kind not in KINDS:
        raise InvalidInputError(f"unknown job kind {kind!r}", "kind")
    if settings.pii_mode == "redact":
        payloads = (redact_payload(settings, kind, p) for p in payloads)
    job_id = uuid.uuid4().hex
    with session_scope(settings.db_url) as s:
        job = JobRow(id=job_id, kind=kind, status="queued", params=params)
        s.add(job)
        s.flush()
        n = failed = 0
        for seq, p in enumerate(payloads):
            error = p.pop("_error", None) if isinstance(p, dict) else None
            s.add(JobItemRow(job_id=job_id, seq=seq, payload=p, status="failed" if error else "queued", error=error))
            n += 1
            failed += bool(error)
            if n % 1000 == 0:
                s.flush()
        if n == 0:
            raise InvalidInputError("the job has no records", "transcripts" if kind == "score" else "comments")
        job.total, job.failed = n, failed
        if failed == n:
            job.status, job.finished_at = "done", _now()
    if failed < n:
        _enqueue(settings, job_id)
    return get_job(settings, job_id)


def redact_payload(settings: Settings, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The record with its text redacted (before it is stored anywhere); rejected records pass through."""
    from qa_service.text.pii import get_redactor

    if "_error" in payload:
        return payload
    red = get_redactor(settings.spacy_es)
    if kind == "score":
        lang = payload.get("language") or "es"
        return {**payload, "turns": [{**t, "text": red.redact(t.get("text", ""), lang).text}
                                     for t in payload.get("turns", [])]}
    return {**payload, "text": red.redact(payload.get("text", ""), "es").text}


def get_job(settings: Settings, job_id: str) -> JobRow:
    with session_scope(settings.db_url) as s:
        job = s.get(JobRow, job_id)
        if job is None:
            raise KeyError(job_id)
        s.expunge(job)
        return job


def eta_seconds(job: JobRow) -> float | None:
    """Remaining time at the rate seen so far (None before the first record or after the end)."""
    if job.status != "running" or not job.started_at or job.done + job.failed == 0:
        return None
    started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=timezone.utc)
    elapsed = (_now() - started).total_seconds()
    processed = job.done + job.failed
    return round(elapsed / processed * (job.total - processed), 1)


def iter_results(settings: Settings, job_id: str, batch: int = 500) -> Iterable[JobItemRow]:
    """Finished records of a job in order (done and failed), read in pages so memory stays flat."""
    last = -1
    while True:
        with session_scope(settings.db_url) as s:
            rows = s.scalars(select(JobItemRow).where(JobItemRow.job_id == job_id, JobItemRow.seq > last,
                                                      JobItemRow.status.in_(("done", "failed")))
                             .order_by(JobItemRow.seq).limit(batch)).all()
            for r in rows:
                s.expunge(r)
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def queue_depth(settings: Settings) -> int:
    """Records waiting in unfinished jobs."""
    with session_scope(settings.db_url) as s:
        return int(s.scalar(select(func.count()).select_from(JobItemRow).where(JobItemRow.status == "queued")) or 0)


# --------------------------------------------------------------------------- doing the work
class _Models:
    """Models a worker loads once: the sentiment pipeline and one scorer per rubric."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._sentiment = None
        self._scorers: dict[str, Any] = {}
        self._lock = threading.Lock()

    def sentiment(self):
        with self._lock:
            if self._sentiment is None:
                from qa_service.services import load_sentiment_model

                self._sentiment = load_sentiment_model(self.settings)
            return self._sentiment

    def scorer(self, rubric: dict[str, Any] | str):
        import json

        from qa_service.rubrics import load_rubric, parse_rubric
        from qa_service.services import make_scorer

        key = rubric if isinstance(rubric, str) else json.dumps(rubric, sort_keys=True)
        sentiment = self.sentiment()
        with self._lock:
            if key not in self._scorers:
                r = load_rubric(rubric, self.settings.rubrics_dir) if isinstance(rubric, str) else \
                    parse_rubric(rubric, "rubric")
                self._scorers[key] = make_scorer(self.settings, r, sentiment)
            return self._scorers[key]


_MODELS: dict[str, _Models] = {}


def _models(settings: Settings) -> _Models:
    key = settings.db_url
    if key not in _MODELS:
        _MODELS[key] = _Models(settings)
    return _MODELS[key]


def run_job(settings: Settings, job_id: str) -> None:
    """Process the job's queued records, batch by batch, each batch in one transaction."""
    with session_scope(settings.db_url) as s:
        job = s.get(JobRow, job_id)
        if job is None or job.status in ("done", "failed"):
            return
        job.status = "running"
        job.started_at = job.started_at or _now()
        kind, params = job.kind, dict(job.params or {})
    models = _models(settings)
    try:
        while _run_batch(settings, job_id, kind, params, models):
            pass
    except Exception as exc:  # noqa: BLE001 - the job records why; the worker lives on
        # Exception messages can quote records (pydantic echoes input values): the log gets the type only,
        # unless debugging; the job row keeps the message for the analyst.
        if settings.debug:
            log.exception("job %s failed", job_id)
        else:
            log.error("job %s failed: %s (details in GET /v1/jobs/%s)", job_id, type(exc).__name__, job_id)
        with session_scope(settings.db_url) as s:
            job = s.get(JobRow, job_id)
            job.status, job.error, job.finished_at = "failed", f"{type(exc).__name__}: {exc}", _now()
        return
    with session_scope(settings.db_url) as s:
        job = s.get(JobRow, job_id)
        job.status, job.finished_at = "done", _now()
    log.info("job %s done", job_id)


def _run_batch(settings: Settings, job_id: str, kind: str, params: dict[str, Any], models: _Models) -> bool:
    from qa_service.store.repository import ingest_comments, ingest_transcripts, save_rubric, save_score, \
        save_sentiment

    with session_scope(settings.db_url) as s:
        q = select(JobItemRow).where(JobItemRow.job_id == job_id, JobItemRow.status == "queued") \
            .order_by(JobItemRow.seq).limit(BATCH[kind])
        if s.bind.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        items = s.scalars(q).all()
        if not items:
            return False
        source = params.get("source") or f"job:{job_id}"
        if kind == "score":
            from qa_service.schemas import Transcript

            scorer = models.scorer(params["rubric"])
            save_rubric(s, scorer.rubric)
            parse, compute = Transcript.model_validate, scorer.score_many
            ingest = ingest_transcripts
            save = lambda rid, res: save_score(s, rid, res, job_id=job_id)  # noqa: E731
        else:
            from qa_service.schemas import Comment

            pipe = models.sentiment()
            version = str(getattr(pipe, "manifest_", {}).get("version", "unknown"))
            parse = Comment.model_validate
            compute = lambda cs: pipe.predict([c.text for c in cs], ids=[c.id for c in cs])  # noqa: E731
            ingest = ingest_comments
            save = lambda rid, res: save_sentiment(s, rid, res, version, job_id=job_id)  # noqa: E731
        records = [parse(it.payload) for it in items]
        try:
            results: list[Any] = compute(records)
        except Exception:  # noqa: BLE001 - one bad record must not fail the batch: retry one by one
            results = []
            for rec in records:
                try:
                    results.append(compute([rec])[0])
                except Exception as exc:  # noqa: BLE001
                    results.append(exc)
        ok = [(it, rec, res) for it, rec, res in zip(items, records, results) if not isinstance(res, Exception)]
        ids = ingest(s, source, [rec for _, rec, _ in ok], redacted=settings.pii_mode == "redact").ids if ok else []
        for (it, _, res), rid in zip(ok, ids):
            save(rid, res)
            it.result, it.status = res.model_dump(mode="json"), "done"
        for it, res in zip(items, results):
            it.attempts += 1
            if isinstance(res, Exception):
                it.status, it.error = "failed", f"{type(res).__name__}: {res}"
        s.execute(update(JobRow).where(JobRow.id == job_id)
                  .values(done=JobRow.done + len(ok), failed=JobRow.failed + len(items) - len(ok)))
    return True


def recover(settings: Settings) -> list[str]:
    """Queue again every job that has records left (after a crash or a killed worker)."""
    with session_scope(settings.db_url) as s:
        ids = list(s.scalars(select(JobRow.id).where(JobRow.status.in_(("queued", "running")))))
    for job_id in ids:
        _enqueue(settings, job_id)
    if ids:
        log.info("re-queued %d unfinished job(s)", len(ids))
    return ids


# --------------------------------------------------------------------------- consumers
def start_embedded_consumer(settings: Settings, workers: int = 1, sentiment: Any = None):
    """Start a Huey consumer in background threads of this process (``qa-service serve``); returns it.
    ``sentiment``: the pipeline the server already loaded, shared rather than loaded twice."""
    from huey.consumer import Consumer

    if sentiment is not None:
        _models(settings)._sentiment = sentiment
    class _Embedded(Consumer):
        def _set_signal_handlers(self) -> None:  # the server owns the process's signals
            pass

    huey = get_queue(settings)
    # On shutdown, a batch still running after 5 s is abandoned: its transaction never commits, so its records
    # stay queued and the next start picks them up.
    consumer = _Embedded(huey, workers=workers, worker_type="thread", periodic=False, max_delay=1.0,
                         shutdown_timeout=5)
    consumer.start()
    recover(settings)
    return consumer


def run_worker(settings: Settings, workers: int = 1) -> None:
    """Run a consumer in the foreground (``qa-service worker``) until interrupted."""
    huey = get_queue(settings)
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=False, max_delay=1.0)
    recover(settings)
    consumer.run()

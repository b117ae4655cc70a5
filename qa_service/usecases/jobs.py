"""Batch jobs: scoring transcripts and labelling comments in the background, every record done exactly once.

The queue is Huey: SQLite by default (a file in ``QA_DATA_DIR``, the consumer runs inside ``qa-service serve``),
Redis with ``QA_REDIS_URL`` for several ``qa-service worker`` processes. The queue only carries job ids; the
work itself lives in the database: a job has one row per record (``job_items``), and each batch of records is
processed and written (result, status, counters) in one transaction. A worker killed mid-batch leaves that
batch queued; on start a worker re-enqueues every unfinished job, so each record ends up done exactly once.
Models come from the process's :class:`~qa_service.runtime.Runtime`, the same objects the API serves.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any, Iterable, Iterator

from qa_service.errors import InvalidInputError, QAServiceError
from qa_service.runtime import Runtime, get_runtime
from qa_service.store import jobs as job_store
from qa_service.store.records import ingest_comments, ingest_transcripts, save_sentiment
from qa_service.store.scores import save_rubric, save_score
from qa_service.store.tables import JobItemRow, JobRow
from qa_service.usecases.access import EVERYONE, Caller

log = logging.getLogger("qa_service.jobs")

KINDS = ("score", "sentiment")
BATCH = {"score": 8, "sentiment": 128}


# --------------------------------------------------------------------------- the queue
_QUEUES: dict[str, Any] = {}
# The runtime whose jobs a queue's task runs: the latest one that used the queue (a process has one in
# production; tests build several configurations on one data directory).
_QUEUE_RUNTIME: dict[str, Runtime] = {}
_lock = threading.Lock()


def get_queue(rt: Runtime):
    """The Huey instance for this runtime's settings, with the job task registered (built once per process)."""
    settings = rt.settings
    key = settings.redis_url or str(settings.data_dir / "queue.db")
    with _lock:
        _QUEUE_RUNTIME[key] = rt
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
            run_job(_QUEUE_RUNTIME.get(key) or get_runtime(settings), job_id)

        huey.run_job_task = run_job_task  # type: ignore[attr-defined]
        _QUEUES[key] = huey
        return huey


def _enqueue(rt: Runtime, job_id: str) -> None:
    get_queue(rt).run_job_task(job_id)


# --------------------------------------------------------------------------- submitting and reading jobs
def submit_job(rt: Runtime, kind: str, payloads: Iterable[dict[str, Any]], params: dict[str, Any],
               caller: Caller = EVERYONE) -> JobRow:
    """Store a job and its records, then queue it. ``payloads``: transcripts (score) or comments (sentiment),
    as JSON-ready dicts; records that failed validation can be passed as ``{"_error": reason, ...}``. The job,
    its results and the scores it produces are owned by ``caller``'s key (and team)."""
    if kind not in KINDS:
        raise InvalidInputError(f"unknown job kind {kind!r}", "kind")
    if rt.settings.pii_mode == "redact":
        payloads = (redact_payload(rt, kind, p) for p in payloads)
    job_id = uuid.uuid4().hex
    with rt.session() as s:
        n, failed = job_store.create_job(s, job_id, kind, params, payloads, owner=caller.owner)
        if n == 0:
            raise InvalidInputError("the job has no records", "transcripts" if kind == "score" else "comments")
    if failed < n:
        _enqueue(rt, job_id)
    return get_job(rt, job_id)


def redact_payload(rt: Runtime, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The record with its text redacted (before it is stored anywhere); rejected records pass through."""
    if "_error" in payload:
        return payload
    red = rt.redactor()
    if kind == "score":
        lang = payload.get("language") or "es"
        return {**payload, "turns": [{**t, "text": red.redact(t.get("text", ""), lang).text}
                                     for t in payload.get("turns", [])]}
    return {**payload, "text": red.redact(payload.get("text", ""), "es").text}


def get_job(rt: Runtime, job_id: str) -> JobRow:
    """The job; KeyError when there is none."""
    with rt.session() as s:
        job = job_store.get_job(s, job_id)
    if job is None:
        raise KeyError(job_id)
    return job


def eta_seconds(job: JobRow) -> float | None:
    """Remaining time at the rate seen so far (None before the first record or after the end)."""
    from datetime import timezone

    if job.status != "running" or not job.started_at or job.done + job.failed == 0:
        return None
    started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=timezone.utc)
    elapsed = (job_store.now() - started).total_seconds()
    processed = job.done + job.failed
    return round(elapsed / processed * (job.total - processed), 1)


def iter_results(rt: Runtime, job_id: str, batch: int = 500) -> Iterator[JobItemRow]:
    """Finished records of a job in order (done and failed), read in pages so memory stays flat."""
    return job_store.iter_results(rt.session, job_id, batch)


def queue_depth(rt: Runtime) -> int:
    """Records waiting in unfinished jobs."""
    with rt.session() as s:
        return job_store.queue_depth(s)


# --------------------------------------------------------------------------- doing the work
def run_job(rt: Runtime, job_id: str) -> None:
    """Process the job's queued records, batch by batch, each batch in one transaction."""
    with rt.session() as s:
        started = job_store.start_job(s, job_id)
    if started is None:
        return
    kind, params = started
    try:
        while _run_batch(rt, job_id, kind, params):
            pass
    except Exception as exc:  # noqa: BLE001 - the job records why; the worker lives on
        # Exception messages can quote records (pydantic echoes input values): the log gets the type only,
        # unless debugging; the job row keeps the message for the analyst.
        # Job ids name customer batches: they are logged at debug level only.
        if rt.settings.debug:
            log.exception("job %s failed", job_id)
        else:
            log.error("a %s job failed: %s (its status says why)", kind, type(exc).__name__)
            log.debug("job %s failed", job_id)
        with rt.session() as s:
            job_store.finish_job(s, job_id, error=f"{type(exc).__name__}: {exc}")
        return
    with rt.session() as s:
        job_store.finish_job(s, job_id)
    log.info("a %s job is done", kind)
    log.debug("job %s done", job_id)


def _run_batch(rt: Runtime, job_id: str, kind: str, params: dict[str, Any]) -> bool:
    with rt.session() as s:
        items = job_store.claim_batch(s, job_id, BATCH[kind])
        if not items:
            return False
        source = params.get("source") or f"job:{job_id}"
        if kind == "score":
            from qa_service.schemas import Transcript

            scorer = rt.scorer(rt.rubric(params["rubric"]))
            save_rubric(s, scorer.rubric)
            parse, compute = Transcript.model_validate, scorer.score_many
            ingest = ingest_transcripts
            save = lambda rid, res: save_score(s, rid, res, job_id=job_id)  # noqa: E731
        else:
            from qa_service.schemas import Comment

            pipe = rt.sentiment()
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
        ok = [(rec, res) for rec, res in zip(records, results) if not isinstance(res, Exception)]
        ids = ingest(s, source, [rec for rec, _ in ok], redacted=rt.settings.pii_mode == "redact").ids if ok else []
        for (_, res), rid in zip(ok, ids):
            save(rid, res)
        job_store.record_batch(s, job_id, items, [res if isinstance(res, Exception) else res.model_dump(mode="json")
                                                  for res in results])
    return True


def recover(rt: Runtime) -> list[str]:
    """Queue again every job that has records left (after a crash or a killed worker)."""
    with rt.session() as s:
        ids = job_store.unfinished_job_ids(s)
    for job_id in ids:
        _enqueue(rt, job_id)
    if ids:
        log.info("re-queued %d unfinished job(s)", len(ids))
    return ids


# --------------------------------------------------------------------------- consumers
def start_embedded_consumer(rt: Runtime, workers: int = 1):
    """Start a Huey consumer in background threads of this process (``qa-service serve``); returns it. It
    works with the runtime's models, the ones the server already loaded."""
    from huey.consumer import Consumer

    class _Embedded(Consumer):
        def _set_signal_handlers(self) -> None:  # the server owns the process's signals
            pass

    huey = get_queue(rt)
    # On shutdown, a batch still running after 5 s is abandoned: its transaction never commits, so its records
    # stay queued and the next start picks them up.
    consumer = _Embedded(huey, workers=workers, worker_type="thread", periodic=False, max_delay=1.0,
                         shutdown_timeout=5)
    consumer.start()
    recover(rt)
    return consumer


def run_worker(rt: Runtime, workers: int = 1) -> None:
    """Run a consumer in the foreground (``qa-service worker``) until interrupted."""
    huey = get_queue(rt)
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=False, max_delay=1.0)
    recover(rt)
    consumer.run()


def find_job(rt: Runtime, job_id: str, caller: Caller = EVERYONE) -> JobRow:
    """The job named in a request; NotFoundError (404) for an unknown or malformed id, and for another
    caller's job (404, not 403: the id is not confirmed to exist)."""
    from qa_service.errors import NotFoundError

    if not job_id.isalnum() or len(job_id) > 64:
        raise NotFoundError(f"job {job_id!r} not found")
    try:
        job = get_job(rt, job_id)
    except KeyError:
        raise NotFoundError(f"job {job_id!r} not found") from None
    if not caller.may_see(job.owner_key_id, job.owner_team):
        raise NotFoundError(f"job {job_id!r} not found")
    return job


def job_params(rt: Runtime, kind: str, source: str | None, rubric: str | dict[str, Any] | None) -> dict[str, Any]:
    """A job's parameters; the rubric is validated now, so a bad one is refused and not a failed job."""
    from qa_service.usecases.scoring import request_rubric

    if source is not None and len(source) > 200:
        raise InvalidInputError("source: at most 200 characters", "source")
    params: dict[str, Any] = {"source": source}
    if kind == "score":
        rubric = rubric or "default-es"
        request_rubric(rt, rubric)
        params["rubric"] = rubric
    return params


def payloads_from_file(rt: Runtime, path, kind: str) -> list[dict[str, Any]]:
    """Records of an uploaded file as job payloads; unreadable ones become failed items carrying their line and
    reason (nothing is dropped)."""
    from qa_service.errors import LimitExceededError
    from qa_service.io.records import BadRecord

    out: list[dict[str, Any]] = []
    if kind == "score":
        from qa_service.io.transcripts import read_transcripts

        records = read_transcripts(path)
    else:
        from qa_service.io.comments import read_comments

        records = read_comments(path)
    for rec in records:
        if isinstance(rec, BadRecord):
            out.append({"_error": f"line {rec.line}: {rec.reason}", "id": f"line-{rec.line}"})
        else:
            out.append(rec.model_dump(mode="json"))
        if len(out) > rt.settings.max_job_records:
            raise LimitExceededError(f"more than {rt.settings.max_job_records} records (QA_MAX_JOB_RECORDS)", "file")
    return out

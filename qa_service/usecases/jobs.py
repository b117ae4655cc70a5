"""Batch jobs: scoring transcripts, labelling comments and fitting topics in the background, every record done
exactly once.

The queue is Huey: SQLite by default (a file in ``QA_DATA_DIR``, the consumer runs inside ``qa-service serve``),
Redis with ``QA_REDIS_URL`` for several ``qa-service worker`` processes. The queue only carries job ids; the
work itself lives in the database: a job has one row per record (``job_items``), and each batch of records is
processed and written (result, status, counters) in one transaction. A worker killed mid-batch leaves that
batch claimed under a lease (owner, expiry) that nobody renews; once it expires, a consumer's recovery loop
re-queues the job and the batch is claimed again, so each record ends up done exactly once. Two consumers may
work on one job (a duplicate queue message): claims are leased and the results' write re-checks the lease.
Models come from the process's :class:`~qa_service.runtime.Runtime`, the same objects the API serves.

A ``topics`` job is one fit over all its records: they are claimed together (in chunks of :data:`CHUNK` rows per
statement), leased while the fit runs, and written together; each record's result is its topic (and sentiment and
complaint), and the model and report are kept as ``topics-<job id>`` (``/v1/topics/...``, ``/v1/reports/...``).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
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

KINDS = ("score", "sentiment", "train", "topics")
BATCH = {"score": 8, "sentiment": 128, "train": 1}
CHUNK = 5000  # rows per statement when a whole job is claimed or written at once (SQL parameter limits)
MIN_TOPIC_RECORDS = 20  # a topic fit needs at least this many comments


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
    if kind == "topics":
        payloads = list(payloads)
        good = sum("_error" not in p for p in payloads)
        if good < MIN_TOPIC_RECORDS:
            raise InvalidInputError(f"a topic fit needs at least {MIN_TOPIC_RECORDS} readable comments ({good} given)",
                                    "comments")
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
        turns = payload.get("turns", [])
        lang = rt.record_language(" ".join(t.get("text", "") for t in turns)[:2000], payload.get("language"))
        return {**payload, "turns": [{**t, "text": red.redact(t.get("text", ""), lang).text} for t in turns]}
    text = payload.get("text", "")
    return {**payload, "text": red.redact(text, rt.record_language(text)).text}


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
def consumer_name() -> str:
    """This consumer thread's name in leases: host, process and thread."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{threading.get_ident()}"


def run_job(rt: Runtime, job_id: str) -> None:
    """Process the job's records, batch by batch: each batch is claimed under a lease in one transaction and
    written in another. When nothing is left to claim but another consumer holds items of this job, wait for
    them to be written or for that lease to expire (then they are claimed here)."""
    owner, lease = consumer_name(), rt.settings.job_lease_seconds
    with rt.session() as s:
        started = job_store.start_job(s, job_id, owner, lease)
    if started is None:
        return
    kind, params = started
    try:
        while True:
            if _run_batch(rt, job_id, kind, params, owner):
                continue
            with rt.session() as s:
                wait = job_store.others_lease_wait(s, job_id, owner)
            if wait is None:
                break
            time.sleep(min(max(wait, 0.05), 1.0))
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
        finished = job_store.finish_job(s, job_id)
    if finished:
        log.info("a %s job is done", kind)
        log.debug("job %s done", job_id)


class _Heartbeat:
    """Renews a batch's lease every third of the lease while the batch is computed (a long batch keeps it)."""

    def __init__(self, rt: Runtime, job_id: str, owner: str, ids: list[int]) -> None:
        self.rt, self.job_id, self.owner, self.ids = rt, job_id, owner, ids
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True, name=f"lease-{job_id[:8]}")

    def _beat(self) -> None:
        lease = self.rt.settings.job_lease_seconds
        while not self.stop.wait(lease / 3):
            try:
                with self.rt.session() as s:
                    for i in range(0, len(self.ids), CHUNK):
                        job_store.renew_lease(s, self.job_id, self.owner, self.ids[i:i + CHUNK], lease)
            except Exception:  # noqa: BLE001 - a missed beat only shortens the lease; the write re-checks it
                log.warning("a job's lease renewal failed")  # job ids are logged at debug level only
                log.debug("job %s: lease renewal failed", self.job_id)

    def __enter__(self) -> "_Heartbeat":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def _run_batch(rt: Runtime, job_id: str, kind: str, params: dict[str, Any], owner: str) -> bool:
    if kind == "topics":
        return _run_topics(rt, job_id, params, owner)
    lease = rt.settings.job_lease_seconds
    with rt.session() as s:  # the claim commits on its own: other consumers now skip these items
        claimed = [(it.id, it.payload) for it in job_store.claim_batch(s, job_id, BATCH[kind], owner, lease)]
    if not claimed:
        return False
    ids = [i for i, _ in claimed]
    if kind == "train":
        return _run_train(rt, job_id, params, owner, ids)
    source = params.get("source") or f"job:{job_id}"
    if kind == "score":
        from qa_service.schemas import Transcript

        scorer = rt.scorer(rt.rubric(params["rubric"]))
        parse, compute = Transcript.model_validate, scorer.score_many
        ingest = ingest_transcripts
    else:
        from qa_service.schemas import Comment

        pipe = rt.sentiment()
        version = str(getattr(pipe, "manifest_", {}).get("version", "unknown"))
        parse = Comment.model_validate
        compute = lambda cs: pipe.predict([c.text for c in cs], ids=[c.id for c in cs])  # noqa: E731
        ingest = ingest_comments
    records = [parse(p) for _, p in claimed]
    with _Heartbeat(rt, job_id, owner, ids):
        try:
            results: list[Any] = compute(records)
        except Exception:  # noqa: BLE001 - one bad record must not fail the batch: retry one by one
            results = []
            for rec in records:
                try:
                    results.append(compute([rec])[0])
                except Exception as exc:  # noqa: BLE001
                    results.append(exc)
    with rt.session() as s:
        # First statement: renew the lease on exactly these items; this transaction then holds them until it
        # commits. Fewer rows: the lease expired and another consumer took some over; it writes them, not us.
        if job_store.renew_lease(s, job_id, owner, ids, lease) < len(ids):
            s.rollback()
            log.warning("a batch's lease was lost to another consumer; its results are discarded")
            log.debug("job %s: batch lease lost", job_id)
            return True
        ok = [(rec, res) for rec, res in zip(records, results) if not isinstance(res, Exception)]
        ids_stored = ingest(s, source, [rec for rec, _ in ok], redacted=rt.settings.pii_mode == "redact").ids \
            if ok else []
        if kind == "score":
            save_rubric(s, scorer.rubric)
            for (_, res), rid in zip(ok, ids_stored):
                save_score(s, rid, res, job_id=job_id)
        else:
            for (_, res), rid in zip(ok, ids_stored):
                save_sentiment(s, rid, res, version, job_id=job_id)
        job_store.record_batch(s, job_id, ids, [res if isinstance(res, Exception) else res.model_dump(mode="json")
                                                for res in results])
    return True


# --------------------------------------------------------------------------- training jobs
def submit_train(rt: Runtime, task: str, snapshot: str, rubric: str | None = None, head: str = "logreg",
                 caller: Caller = EVERYONE) -> JobRow:
    """Queue the training of a candidate (``task`` sentiment, or rubric with ``rubric``) on a snapshot; checked
    now (the snapshot exists and is of that task, the rubric is a shipped one), so a bad request is refused
    rather than a failed job. The job has one record; its result is the candidate (version, path, metrics)."""
    from qa_service.usecases.datasets import load_snapshot
    from qa_service.usecases.training import HEADS, new_version

    if task not in ("sentiment", "rubric"):
        raise InvalidInputError("task must be sentiment or rubric", "task")
    if head not in HEADS:
        raise InvalidInputError(f"head must be one of {', '.join(HEADS)}", "head")
    meta, _ = load_snapshot(rt, snapshot)
    if meta.get("task") != task:
        raise InvalidInputError(f"snapshot {snapshot} is a {meta.get('task')} snapshot", "snapshot")
    if task == "rubric":
        from qa_service.usecases.scoring import request_rubric

        if not rubric:
            raise InvalidInputError("a rubric job names the rubric", "rubric")
        request_rubric(rt, rubric)
    job_id = uuid.uuid4().hex
    params = {"task": task, "snapshot": snapshot, "rubric": rubric, "head": head,
              "version": new_version(snapshot, job_id), "requested_by": caller.key_id}
    with rt.session() as s:
        job_store.create_job(s, job_id, "train", params, [{"id": f"train-{task}", **params}], owner=caller.owner)
    _enqueue(rt, job_id)
    return get_job(rt, job_id)


def _run_train(rt: Runtime, job_id: str, params: dict[str, Any], owner: str, ids: list[int]) -> bool:
    """Train the job's candidate under the item's lease, reporting progress; a failure fails the job with its
    reason. Run again after a crash, it writes the same version (the bundle is replaced whole)."""
    from qa_service.usecases.training import train_rubric, train_sentiment

    caller = Caller(params.get("requested_by"), "admin")
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        t = time.monotonic()
        if t - last[0] < 0.5 and done < total:
            return
        last[0] = t
        with rt.session() as s:
            job_store.set_progress(s, job_id, {"stage": stage, "done": done, "total": total})

    error: Exception | None = None
    result: dict[str, Any] = {}
    with _Heartbeat(rt, job_id, owner, ids):
        try:
            if params["task"] == "sentiment":
                result = train_sentiment(rt, params["snapshot"], head=params.get("head") or "logreg",
                                         version=params.get("version"), caller=caller, progress=progress)
            else:
                result = train_rubric(rt, params["rubric"], params["snapshot"], version=params.get("version"),
                                      caller=caller, progress=progress)
        except Exception as exc:  # noqa: BLE001 - recorded on the item and the job
            error = exc
    with rt.session() as s:
        if job_store.renew_lease(s, job_id, owner, ids, rt.settings.job_lease_seconds) < len(ids):
            s.rollback()
            return True
        job_store.record_batch(s, job_id, ids, [error if error else result])
        job_store.set_progress(s, job_id, {"stage": "failed" if error else "done", "done": 1, "total": 1})
    if error is not None:
        raise error
    return True


def topics_job_model_id(job_id: str) -> str:
    """The model (and report) id a topics job keeps its results under."""
    return f"topics-{job_id}"


def _run_topics(rt: Runtime, job_id: str, params: dict[str, Any], owner: str) -> bool:
    """Claim every remaining record of a topics job, fit, and write every record's topic in one transaction."""
    from qa_service.schemas import Comment
    from qa_service.usecases.feedback import api_model_dir, api_report_dir, fit_topics

    lease = rt.settings.job_lease_seconds
    claimed: list[tuple[int, Any]] = []
    with rt.session() as s:
        while True:  # claims commit chunk by chunk; the lease covers them all
            got = job_store.claim_batch(s, job_id, CHUNK, owner, lease)
            claimed += [(it.id, it.payload) for it in got]
            if len(got) < CHUNK:
                break
    if not claimed:
        return False
    ids = [i for i, _ in claimed]
    model_id = topics_job_model_id(job_id)
    comments = [Comment.model_validate(p) for _, p in claimed]
    with _Heartbeat(rt, job_id, owner, ids):
        fit = fit_topics(rt, comments, api_report_dir(rt, model_id), api_model_dir(rt, model_id), model_id,
                         source_name=params.get("source") or f"job:{job_id}", period=params.get("period", "week"),
                         min_topic_size=params.get("min_topic_size", "auto"),
                         nr_topics=params.get("nr_topics", "auto"), title=params.get("title"),
                         min_period_count=params.get("min_period_count", 30),
                         redacted=rt.settings.pii_mode == "redact")
    a, tm = fit.analysis, fit.analysis.topic_model
    cm = a.complaints.complaints_ if a.complaints else {}
    results = []
    for c, t, sim, r in zip(a.comments, a.topics, a.similarity, a.sentiment):
        k = a.complaint_of.get(c.id)
        results.append({"topic": int(t), "topic_label": tm.topic_name(int(t)), "similarity": round(float(sim), 4),
                        "sentiment": r.label, "complaint": k, "complaint_label": cm[k].label if k in cm else None,
                        "model_id": model_id, "report_url": f"/v1/reports/{model_id}"})
    with rt.session() as s:
        held = sum(job_store.renew_lease(s, job_id, owner, ids[i:i + CHUNK], lease) for i in range(0, len(ids), CHUNK))
        if held < len(ids):
            s.rollback()
            log.warning("a topics job's lease was lost to another consumer; its results are discarded")
            return True
        for i in range(0, len(ids), CHUNK):
            job_store.record_batch(s, job_id, ids[i:i + CHUNK], results[i:i + CHUNK])
    return True


def recover(rt: Runtime) -> list[str]:
    """Queue again the running jobs whose consumer's lease expired (it was killed or hung); a job another
    consumer is working on (live lease) or one still waiting in the queue is left alone."""
    with rt.session() as s:
        ids = job_store.take_over_expired_jobs(s, consumer_name(), rt.settings.job_lease_seconds)
    for job_id in ids:
        _enqueue(rt, job_id)
    if ids:
        log.info("re-queued %d job(s) whose lease expired", len(ids))
    return ids


def _recover_every(rt: Runtime, stop: threading.Event) -> threading.Thread:
    """Check for expired leases now and every half lease until ``stop`` is set (a consumer that survives
    another one's death takes its jobs over without a restart)."""
    def loop() -> None:
        while True:
            try:
                recover(rt)
            except Exception:  # noqa: BLE001 - try again next round (e.g. database briefly locked)
                log.warning("recovering expired jobs failed; retrying")
            if stop.wait(max(rt.settings.job_lease_seconds / 2, 0.5)):
                return

    t = threading.Thread(target=loop, daemon=True, name="job-recovery")
    t.start()
    return t


# --------------------------------------------------------------------------- consumers
def start_embedded_consumer(rt: Runtime, workers: int = 1):
    """Start a Huey consumer in background threads of this process (``qa-service serve``); returns it. It
    works with the runtime's models, the ones the server already loaded."""
    from huey.consumer import Consumer

    stop = threading.Event()

    class _Embedded(Consumer):
        def _set_signal_handlers(self) -> None:  # the server owns the process's signals
            pass

        def stop(self, graceful: bool = False) -> None:
            stop.set()
            super().stop(graceful=graceful)

    huey = get_queue(rt)
    # On shutdown, a batch still running after 5 s is abandoned: its results are never written, so its records
    # stay claimed until their lease expires and a consumer takes them over.
    consumer = _Embedded(huey, workers=workers, worker_type="thread", periodic=False, max_delay=1.0,
                         shutdown_timeout=5)
    consumer.start()
    _recover_every(rt, stop)
    rt.watch_registry()  # promotions and rollbacks reach the jobs too, without a restart
    return consumer


def run_worker(rt: Runtime, workers: int = 1) -> None:
    """Run a consumer in the foreground (``qa-service worker``) until interrupted."""
    huey = get_queue(rt)
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=False, max_delay=1.0)
    stop = threading.Event()
    _recover_every(rt, stop)
    rt.watch_registry()
    try:
        consumer.run()
    finally:
        stop.set()


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


def job_params(rt: Runtime, kind: str, source: str | None, rubric: str | dict[str, Any] | None,
               options: dict[str, Any] | None = None) -> dict[str, Any]:
    """A job's parameters; the rubric (score) or fit options (topics) are validated now, so bad ones are refused
    and not a failed job. ``options`` (topics): period, min_topic_size, nr_topics, min_period_count, title."""
    from qa_service.usecases.scoring import request_rubric

    if source is not None and len(source) > 200:
        raise InvalidInputError("source: at most 200 characters", "source")
    params: dict[str, Any] = {"source": source}
    if kind == "score":
        rubric = rubric or "default-es"
        request_rubric(rt, rubric)
        params["rubric"] = rubric
    if kind == "topics":
        params.update(topic_job_options(options or {}))
    return params


def topic_job_options(options: dict[str, Any]) -> dict[str, Any]:
    """Validated fit options of a topics job (form fields arrive as strings)."""
    from qa_service.usecases.feedback import check_period

    def count(name: str, value: Any, words: tuple[str, ...], least: int) -> Any:
        if isinstance(value, str) and value in words:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            n = value
        elif isinstance(value, str) and value.strip().isdigit():
            n = int(value)
        else:
            n = least - 1
        if n < least:
            allowed = " or ".join([repr(w) for w in words] + [f"an integer >= {least}"])
            raise InvalidInputError(f"{name} {value!r}: use {allowed}", name)
        return n

    out: dict[str, Any] = {"period": check_period(str(options.get("period") or "week"))}
    out["min_topic_size"] = count("min_topic_size", options.get("min_topic_size", "auto"), ("auto",), 2)
    nr = options.get("nr_topics", "auto")
    out["nr_topics"] = None if nr in ("all", None) else count("nr_topics", nr, ("auto", "all"), 1)
    out["min_period_count"] = count("min_period_count", options.get("min_period_count", 30), (), 1)
    title = options.get("title") or "Informe de comentarios de clientes"
    if len(str(title)) > 200:
        raise InvalidInputError("title: at most 200 characters", "title")
    out["title"] = str(title)
    return out


def text_limit_problem(rt: Runtime, record: Any) -> tuple[str, str] | None:
    """``(field, reason)`` when a comment's text or a transcript turn's text is longer than QA_MAX_TEXT_CHARS
    (the limit every route applies to a text), else ``None``."""
    limit = rt.settings.max_text_chars
    texts = [("text", record.text)] if hasattr(record, "text") else \
        [(f"turns[{j}].text", t.text) for j, t in enumerate(record.turns)]
    for field, text in texts:
        if len(text) > limit:
            return field, f"{field} is {len(text)} characters long (limit {limit}, QA_MAX_TEXT_CHARS)"
    return None


def check_text_limits(rt: Runtime, kind: str, records: Iterable[Any]) -> None:
    """LimitExceededError (413) naming the first over-long text of a JSON job request."""
    from qa_service.errors import LimitExceededError

    name = "transcripts" if kind == "score" else "comments"
    for i, rec in enumerate(records):
        problem = text_limit_problem(rt, rec)
        if problem:
            raise LimitExceededError(problem[1], f"{name}[{i}].{problem[0]}")


def payloads_from_file(rt: Runtime, path, kind: str, speakers: list[str] | None = None) -> list[dict[str, Any]]:
    """Records of an uploaded file as job payloads; unreadable ones become failed items carrying their line and
    reason (nothing is dropped). ``speakers``: transcript label mappings (``Laura=agent``). A file with no usable
    record at all (empty, or every line rejected) is an InvalidInputError naming the ``file`` field, with the
    first reasons."""
    from qa_service.errors import LimitExceededError
    from qa_service.io.records import BadRecord

    out: list[dict[str, Any]] = []
    if kind == "score":
        from qa_service.io.transcripts import SpeakerMap, parse_speaker_map, read_transcripts

        records = read_transcripts(path, speakers=SpeakerMap(parse_speaker_map(speakers or [])))
    else:
        from qa_service.io.comments import read_comments

        records = read_comments(path, max_text_chars=rt.settings.max_text_chars)
    for n, rec in enumerate(records, 1):
        if isinstance(rec, BadRecord):
            # the reader suggests the command line's flag; over HTTP the same mapping is a form field
            reason = re.sub(r"add --speaker '?(.+?)'?$", r"send the form field speaker=\1", rec.reason)
            out.append({"_error": f"line {rec.line}: {reason}", "id": f"line-{rec.line}"})
        elif problem := text_limit_problem(rt, rec):
            # kept as a failed item (its text is not stored): where it is and why
            out.append({"_error": f"record {n}: {problem[1]}", "id": rec.id})
        else:
            out.append(rec.model_dump(mode="json"))
        if len(out) > rt.settings.max_job_records:
            raise LimitExceededError(f"more than {rt.settings.max_job_records} records (QA_MAX_JOB_RECORDS)", "file")
    if all("_error" in p for p in out):
        why = "; ".join(p["_error"] for p in out[:3]) + (f"; and {len(out) - 3} more" if len(out) > 3 else "")
        raise InvalidInputError(f"no usable record in the file: {why or 'it is empty'}", "file")
    return out

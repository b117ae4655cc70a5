"""Batch jobs over HTTP: submit (JSON body or an uploaded file), follow, stream the results."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Iterator, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from qa_service.api.auth import ADMIN, ANALYST, CallerDep
from qa_service.api.deps import RuntimeDep
from qa_service.runtime import Runtime
from qa_service.usecases.access import Caller
from qa_service.errors import InvalidInputError, LimitExceededError
from qa_service.io.tables import iter_csv
from qa_service.schemas import Comment, ErrorResponse, Transcript

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], dependencies=[ANALYST],
                   responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}})


class ScoreJobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "rubric": "default-es", "source": "crm-export-2026-11-24",
        "transcripts": [{"id": "call-1", "turns": [{"speaker": "agent", "text": "Buenos días, le atiende Laura."}]}]}]})

    rubric: str | dict[str, Any] = Field(default="default-es", description="Shipped rubric name or a rubric object")
    transcripts: list[Transcript] = Field(min_length=1)
    source: str | None = Field(default=None, max_length=200, description="(source, id) identifies a record")


class SentimentJobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comments: list[Comment] = Field(min_length=1)
    source: str | None = Field(default=None, max_length=200)


class TrainJobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"task": "sentiment", "snapshot": "sentiment-20261202-3fa2c1d4e5f6"},
        {"task": "rubric", "rubric": "default-es", "snapshot": "rubric-20261202-0a1b2c3d4e5f"}]})

    task: Literal["sentiment", "rubric"]
    snapshot: str = Field(min_length=1, max_length=200, description="A snapshot id (qa-service data list)")
    rubric: str | None = Field(default=None, max_length=200, description="rubric jobs: the shipped rubric's name")
    head: Literal["logreg", "mlp"] = Field(default="logreg", description="sentiment jobs: the head to train")


class TopicJobRequest(BaseModel):
    """Comments to fit topics on in the background (large inputs: up to QA_MAX_JOB_RECORDS), and how."""

    model_config = ConfigDict(extra="forbid")

    comments: list[Comment] = Field(min_length=1)
    source: str | None = Field(default=None, max_length=200)
    period: Literal["day", "week", "month"] = "week"
    min_topic_size: int | Literal["auto"] = "auto"
    nr_topics: int | Literal["auto", "all"] = Field(default="auto", description="'auto' (8-25 topics for a few "
                                                    "thousand comments), 'all' (as clustered) or a number")
    min_period_count: int = Field(default=30, ge=1, description="Periods with fewer comments are greyed out")
    title: str = Field(default="Informe de comentarios de clientes", max_length=200)


_REQUEST = {"score": ScoreJobRequest, "sentiment": SentimentJobRequest, "topics": TopicJobRequest}
_OPTIONS = ("period", "min_topic_size", "nr_topics", "min_period_count", "title")


class JobAccepted(BaseModel):
    job_id: str
    status: str
    total: int
    failed: int = Field(description="Records rejected before processing (unreadable); listed in the results")
    status_url: str
    results_url: str


class JobStatus(BaseModel):
    job_id: str
    kind: Literal["score", "sentiment", "train", "topics"]
    status: Literal["queued", "running", "done", "failed"]
    total: int
    done: int
    failed: int
    eta_seconds: float | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    error: str | None
    progress: dict[str, Any] | None = Field(default=None, description="train jobs: {stage, done, total}")


def _accepted(job) -> JSONResponse:
    body = JobAccepted(job_id=job.id, status=job.status, total=job.total, failed=job.failed,
                       status_url=f"/v1/jobs/{job.id}", results_url=f"/v1/jobs/{job.id}/results")
    return JSONResponse(status_code=202, content=body.model_dump())


async def _upload(request: Request, settings) -> tuple[Path, dict[str, Any], str]:
    """Save the multipart ``file`` to a temporary file (size-limited); returns it, the other form fields and
    the uploaded file's name."""
    form = await request.form(max_files=1, max_fields=20)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise InvalidInputError("send the records as a multipart field named 'file' (JSONL or CSV)", "file")
    name = Path(upload.filename or "upload.jsonl").name
    suffix = Path(name).suffix.lower()
    if suffix not in (".jsonl", ".json", ".csv", ".txt", ".vtt", ".srt"):
        raise InvalidInputError(f"file {name!r}: use .jsonl, .json or .csv (or .txt/.vtt/.srt transcripts)", "file")
    limit = settings.max_upload_mb * 1024 * 1024
    tmp = tempfile.NamedTemporaryFile(delete=False, suffix=suffix, prefix="qa-upload-")
    size = 0
    try:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise LimitExceededError(f"file is larger than {settings.max_upload_mb} MB (QA_MAX_UPLOAD_MB)", "file")
            tmp.write(chunk)
    except BaseException:
        tmp.close()
        Path(tmp.name).unlink(missing_ok=True)
        raise
    tmp.close()
    fields: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    fields["speaker"] = [v for v in form.getlist("speaker") if isinstance(v, str)]  # repeatable: Laura=agent
    return Path(tmp.name), fields, name


async def _submit(request: Request, rt: Runtime, kind: str, caller: Caller) -> JSONResponse:
    from qa_service.usecases.jobs import check_text_limits, job_params, payloads_from_file, submit_job

    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        path, fields, name = await _upload(request, rt.settings)
        try:
            payloads = await run_in_threadpool(payloads_from_file, rt, path, kind, fields["speaker"])
        finally:
            path.unlink(missing_ok=True)
        params = await run_in_threadpool(job_params, rt, kind, fields.get("source") or name,
                                         fields.get("rubric") or "default-es",
                                         {k: fields[k] for k in _OPTIONS if k in fields})
    else:
        try:
            raw = await request.json()
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # ValueError: also a >4300-digit integer
            why = "nested too deeply" if isinstance(exc, RecursionError) else "not valid JSON"
            raise InvalidInputError(f"request body is {why} (or send a multipart 'file')", "body") from None
        model = _REQUEST[kind]
        try:
            body = model.model_validate(raw)
        except ValidationError as exc:
            from fastapi.exceptions import RequestValidationError

            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
        records = body.transcripts if kind == "score" else body.comments
        if len(records) > rt.settings.max_job_records:
            raise LimitExceededError(f"more than {rt.settings.max_job_records} records (QA_MAX_JOB_RECORDS)",
                                     "transcripts" if kind == "score" else "comments")
        check_text_limits(rt, kind, records)
        payloads = [r.model_dump(mode="json") for r in records]
        params = await run_in_threadpool(job_params, rt, kind, body.source, getattr(body, "rubric", None),
                                         {k: getattr(body, k) for k in _OPTIONS if hasattr(body, k)})
    job = await run_in_threadpool(submit_job, rt, kind, payloads, params, caller)
    return _accepted(job)


_SUBMIT_DOC = {
    "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}, "rubric": {"type": "string"},
        "source": {"type": "string"},
        "speaker": {"type": "array", "items": {"type": "string"}, "description": "transcripts: map a speaker label "
                    "to a role, 'Laura=agent' (agent|customer|system; repeat the field); an unmapped label rejects "
                    "its transcript"}}, "required": ["file"]}}}},
}


@router.post("/score", status_code=202, response_model=JobAccepted,
             responses={413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
             summary="Score transcripts in the background: JSON {rubric, transcripts} or a JSONL/CSV file upload",
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": ScoreJobRequest.model_json_schema()},
                 **_SUBMIT_DOC["requestBody"]["content"]}}})
async def submit_score(request: Request, rt: RuntimeDep, caller: CallerDep) -> JSONResponse:
    return await _submit(request, rt, "score", caller)


@router.post("/sentiment", status_code=202, response_model=JobAccepted,
             responses={413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
             summary="Label comments in the background: JSON {comments} or a JSONL/CSV file upload",
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": SentimentJobRequest.model_json_schema()},
                 **_SUBMIT_DOC["requestBody"]["content"]}}})
async def submit_sentiment(request: Request, rt: RuntimeDep, caller: CallerDep) -> JSONResponse:
    return await _submit(request, rt, "sentiment", caller)


@router.post("/train", status_code=202, response_model=JobAccepted, dependencies=[ADMIN],
             responses={404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
             summary="Train a candidate model on a snapshot in the background (admin); the result names it")
async def submit_train(body: TrainJobRequest, rt: RuntimeDep, caller: CallerDep) -> JSONResponse:
    from qa_service.usecases.jobs import submit_train as submit

    return _accepted(await run_in_threadpool(submit, rt, body.task, body.snapshot, body.rubric, body.head, caller))


@router.post("/topics", status_code=202, response_model=JobAccepted,
             responses={413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
             summary="Fit topics on many comments in the background: JSON {comments, ...} or a JSONL/CSV file upload "
                     "(form fields period, nr_topics, min_topic_size, min_period_count, title, source); each "
                     "record's result is its topic, the report is /v1/reports/topics-<job_id>",
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": TopicJobRequest.model_json_schema()},
                 **_SUBMIT_DOC["requestBody"]["content"]}}})
async def submit_topics(request: Request, rt: RuntimeDep, caller: CallerDep) -> JSONResponse:
    return await _submit(request, rt, "topics", caller)


def _job(rt: Runtime, job_id: str, caller: Caller):
    from qa_service.usecases.jobs import find_job

    return find_job(rt, job_id, caller)


def _iso(d) -> str | None:
    return d.isoformat() if d else None


@router.get("/{job_id}", response_model=JobStatus, responses={404: {"model": ErrorResponse}}, summary="Job status")
def job_status(job_id: str, rt: RuntimeDep, caller: CallerDep) -> JobStatus:
    from qa_service.usecases.jobs import eta_seconds

    job = _job(rt, job_id, caller)
    return JobStatus(job_id=job.id, kind=job.kind, status=job.status, total=job.total, done=job.done,
                     failed=job.failed, eta_seconds=eta_seconds(job), created_at=_iso(job.created_at),
                     started_at=_iso(job.started_at), finished_at=_iso(job.finished_at), error=job.error,
                     progress=job.progress)


_CSV = {"train": ["seq", "id", "status", "task", "version", "snapshot", "error"],
        "score": ["seq", "id", "status", "total", "auto_fail", "needs_review", "language", "error"],
        "sentiment": ["seq", "id", "status", "label", "score", "negative", "neutral", "positive", "language", "error"],
        "topics": ["seq", "id", "status", "topic", "topic_label", "similarity", "sentiment", "complaint",
                   "complaint_label", "error"]}


def _csv_row(kind: str, item) -> dict[str, Any]:
    r = item.result or {}
    base = {"seq": item.seq, "id": (item.payload or {}).get("id"), "status": item.status, "error": item.error or ""}
    if kind == "score":
        return {**base, **{k: r.get(k, "") for k in ("total", "auto_fail", "needs_review", "language")}}
    if kind == "train":
        return {**base, **{k: r.get(k, "") for k in ("task", "version", "snapshot")}}
    if kind == "topics":
        return {**base, **{k: "" if r.get(k) is None else r[k] for k in _CSV["topics"][3:-1]}}
    p = r.get("probabilities") or {}
    return {**base, "label": r.get("label", ""), "score": r.get("score", ""), "negative": p.get("negative", ""),
            "neutral": p.get("neutral", ""), "positive": p.get("positive", ""), "language": r.get("language", "")}


@router.get("/{job_id}/results", responses={404: {"model": ErrorResponse}},
            summary="Finished records so far, streamed: JSONL (default) or CSV (?format=csv)")
def job_results(job_id: str, rt: RuntimeDep, caller: CallerDep, format: Literal["jsonl", "csv"] = "jsonl"
                ) -> StreamingResponse:
    from qa_service.usecases.jobs import iter_results

    job = _job(rt, job_id, caller)

    def jsonl() -> Iterator[bytes]:
        for item in iter_results(rt, job.id):
            row = {"seq": item.seq, "id": (item.payload or {}).get("id"), "status": item.status}
            row.update({"result": item.result} if item.status == "done" else {"error": item.error})
            yield (json.dumps(row, ensure_ascii=False) + "\n").encode()

    def as_csv() -> Iterator[bytes]:
        rows = (_csv_row(job.kind, item) for item in iter_results(rt, job.id))
        for chunk in iter_csv(rows, _CSV[job.kind]):  # the one CSV writer: formula cells neutralised
            yield chunk.encode()

    if format == "csv":
        return StreamingResponse(as_csv(), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{job.id}.csv"'})
    return StreamingResponse(jsonl(), media_type="application/x-ndjson")

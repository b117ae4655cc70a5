"""Topics, recurring complaints and the feedback report over HTTP.

``POST /v1/topics/fit`` fits a topic model on comments and keeps the model and its report under
``QA_DATA_DIR``; ``POST /v1/topics/{model_id}/tag`` tags new comments with it; ``GET /v1/reports/{report_id}``
serves the report page. ``POST /v1/complaints`` clusters negative comments or complaining customer turns.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from qa_service.api.auth import READER
from qa_service.api.deps import SentimentDep, SettingsDep
from qa_service.errors import InvalidInputError, LimitExceededError
from qa_service.schemas import Comment, ErrorResponse, Transcript

# Analysts and managers (and admins): feedback analysis creates reports but changes no stored record.
router = APIRouter(prefix="/v1", tags=["topics"], dependencies=[READER],
                   responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}})

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")


class TopicFitRequest(BaseModel):
    """Comments to find topics in, and how: sent in the request (``comments``), or read from storage
    (``source``, optionally ``since`` / ``until``), in which case each stored comment's topic is stored too."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "comments": [{"id": "c1", "text": "Me cobraron dos veces la factura de octubre", "created_at": "2026-11-02",
                      "score": 2, "channel": "email", "team": "facturacion"}], "period": "week"}]})

    comments: list[Comment] = Field(default_factory=list)
    source: str | None = Field(default=None, max_length=200, description="Fit on the stored comments of a source")
    since: datetime | None = Field(default=None, description="With source: comments created at or after")
    until: datetime | None = Field(default=None, description="With source: comments created before")
    period: Literal["day", "week", "month"] = "week"
    min_topic_size: int | Literal["auto"] = "auto"
    nr_topics: int | Literal["auto"] | None = None
    reduce_outliers: bool = True
    merge: list[list[int]] = Field(default_factory=list, description="Groups of topic ids to merge.")
    refit: str | None = Field(default=None, description="Id of a fitted model to refit with stable topic ids.")
    title: str = Field(default="Informe de comentarios de clientes", max_length=200)

    @model_validator(mode="after")
    def _check(self) -> "TopicFitRequest":
        if isinstance(self.min_topic_size, int) and self.min_topic_size < 2:
            raise ValueError("min_topic_size must be 'auto' or >= 2")
        return self


class TopicOut(BaseModel):
    id: int
    label: str
    keywords: list[str]
    size: int
    representative: list[str]


class TopicFitResponse(BaseModel):
    model_id: str
    report_url: str
    topics: list[TopicOut]
    documents: list[dict[str, Any]] = Field(description="id, topic, topic_label per comment (-1 = no topic)")
    trends: list[dict[str, Any]]
    complaints: list[dict[str, Any]]
    drivers: list[dict[str, Any]]
    summary: dict[str, Any]


class TagRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[str] = Field(min_length=1)
    ids: list[str] | None = None


class TagResult(BaseModel):
    id: str | None
    topic: int
    topic_label: str
    similarity: float


class ComplaintsRequest(BaseModel):
    """Comments (negative ones are used) or transcripts (complaining customer turns are used): one of the two."""

    model_config = ConfigDict(extra="forbid")

    comments: list[Comment] = Field(default_factory=list)
    transcripts: list[Transcript] = Field(default_factory=list)
    period: Literal["day", "week", "month"] = "week"
    min_topic_size: int | Literal["auto"] = "auto"

    @model_validator(mode="after")
    def _one(self) -> "ComplaintsRequest":
        if not self.comments and not self.transcripts:
            raise ValueError("give comments or transcripts")
        return self


def _check_id(value: str, field: str) -> str:
    if not _ID.match(value):
        raise InvalidInputError(f"{value!r} is not a model id (letters, digits, '.', '_', '-')", field)
    return value


def _model_dir(settings, model_id: str) -> Path:
    return settings.data_dir / "topics" / model_id


def _report_dir(settings, report_id: str) -> Path:
    return settings.data_dir / "reports" / report_id


def _limit(settings, n: int, field: str) -> None:
    if n > settings.max_topic_texts:
        raise LimitExceededError(f"too many items: {n} (limit {settings.max_topic_texts}, QA_MAX_TOPIC_TEXTS)", field)


def _new_id(prefix: str) -> str:
    import secrets

    return f"{prefix}-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def _load(settings, model_id: str):
    from qa_service.services import load_topic_model

    d = _model_dir(settings, _check_id(model_id, "model_id"))
    if not (d / "manifest.json").exists():
        raise HTTPException(status_code=404, detail=f"topic model {model_id!r} not found")
    return load_topic_model(settings, str(d))


def _too_long(settings, texts: list[str], field: str) -> None:
    for i, t in enumerate(texts):
        if len(t) > settings.max_text_chars:
            raise LimitExceededError(f"text longer than {settings.max_text_chars} characters", f"{field}[{i}].text")


@router.post("/topics/fit", response_model=TopicFitResponse, status_code=201,
             responses={413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, 404: {"model": ErrorResponse}},
             summary="Fit topics on comments; keeps the model and its report")
def fit_topics(body: TopicFitRequest, settings: SettingsDep, pipe: SentimentDep) -> TopicFitResponse:
    from qa_service.feedback import analyse_comments, quote_redactor
    from qa_service.services import build_topic_model

    if bool(body.comments) == bool(body.source):
        raise InvalidInputError("give either comments or the source of stored comments", "comments")
    stored_ids: list[int] | None = None
    if body.source:
        stored_ids, comments = _stored_comments(settings, body)
    else:
        comments = body.comments
    _limit(settings, len(comments), "comments")
    _too_long(settings, [c.text for c in comments], "comments")
    ids = [c.id for c in comments]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InvalidInputError(f"duplicate comment id {dup!r}", "comments")
    previous = _load(settings, body.refit) if body.refit else None
    model = build_topic_model(settings, min_topic_size=body.min_topic_size, nr_topics=body.nr_topics,
                              reduce_outliers=body.reduce_outliers)
    analysis = analyse_comments(comments, model, pipe, freq=body.period, previous=previous,
                                merge=body.merge if previous is None else ())
    if previous is not None:
        for g in body.merge:
            analysis.topic_model.merge(g)
    redact = quote_redactor(settings)
    if redact:
        analysis.redact_quotes(redact)
    model_id = _new_id("topics")
    analysis.topic_model.save(_model_dir(settings, model_id), model_id, training_data=[
        {"source": "API request", "rows": len(body.comments), "licence": "the user's own data"}],
        metrics={"outlier_share": analysis.summary()["outlier_share"]})
    analysis.write(_report_dir(settings, model_id), title=body.title)
    if stored_ids is not None:
        _store_assignments(settings, model_id, stored_ids, analysis)
    tm = analysis.topic_model
    return TopicFitResponse(
        model_id=model_id, report_url=f"/v1/reports/{model_id}",
        topics=[TopicOut(id=t.id, label=t.name, keywords=t.keywords, size=t.size, representative=t.representative)
                for t in sorted(tm.topics_.values(), key=lambda t: -t.size)],
        documents=[{"id": r["id"], "topic": r["topic"], "topic_label": r["topic_label"]} for r in analysis.document_rows()],
        trends=analysis.trend_rows(), complaints=analysis.complaint_rows(), drivers=analysis.driver_rows(),
        summary=analysis.summary())


def _stored_comments(settings, body: TopicFitRequest) -> tuple[list[int], list[Comment]]:
    from sqlalchemy import select

    from qa_service.store import session_scope
    from qa_service.store.models import CommentRow

    with session_scope(settings.db_url) as s:
        q = select(CommentRow).where(CommentRow.source == body.source).order_by(CommentRow.id)
        if body.since:
            q = q.where(CommentRow.created_at >= body.since)
        if body.until:
            q = q.where(CommentRow.created_at < body.until)
        rows = s.scalars(q.limit(settings.max_topic_texts + 1)).all()
        out = [(r.id, Comment(id=r.external_id, text=r.text, created_at=r.created_at, score=r.score,
                              channel=r.channel, agent_id=r.agent_id, team=r.team, metadata=r.meta or {}))
               for r in rows]
    if not out:
        raise InvalidInputError(f"no stored comments from source {body.source!r} in that period", "source")
    return [i for i, _ in out], [c for _, c in out]


def _store_assignments(settings, model_id: str, comment_ids: list[int], analysis) -> None:
    from qa_service.store import session_scope
    from qa_service.store.models import TopicAssignmentRow

    tm = analysis.topic_model
    with session_scope(settings.db_url) as s:
        s.add_all([TopicAssignmentRow(comment_id=cid, model_id=model_id, topic=int(t), topic_label=tm.topic_name(int(t)),
                                      similarity=float(sim))
                   for cid, t, sim in zip(comment_ids, analysis.topics, analysis.similarity)])


@router.get("/topics", summary="Topic models fitted through the API")
def list_topic_models(settings: SettingsDep) -> list[dict[str, Any]]:
    root = settings.data_dir / "topics"
    out = []
    for d in sorted(root.glob("*/manifest.json")) if root.exists() else []:
        try:
            m = json.loads(d.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        out.append({"model_id": d.parent.name, "created": m.get("created"), "topics": len(m.get("labels", [])),
                    "documents": m.get("n_documents")})
    return out


@router.get("/topics/{model_id}", response_model=list[TopicOut], responses={404: {"model": ErrorResponse}},
            summary="A fitted model's topics")
def get_topics(model_id: str, settings: SettingsDep) -> list[TopicOut]:
    tm = _load(settings, model_id)
    return [TopicOut(id=t.id, label=t.name, keywords=t.keywords, size=t.size, representative=t.representative)
            for t in sorted(tm.topics_.values(), key=lambda t: -t.size)]


@router.post("/topics/{model_id}/tag", responses={404: {"model": ErrorResponse}, 413: {"model": ErrorResponse}},
             summary="Tag comments with a fitted model (no refit)")
async def tag(model_id: str, body: TagRequest, request: Request, settings: SettingsDep) -> dict[str, list[TagResult]]:
    if len(body.texts) > settings.max_texts:
        raise LimitExceededError(f"too many texts: {len(body.texts)} (limit {settings.max_texts})", "texts")
    for i, t in enumerate(body.texts):
        if len(t) > settings.max_text_chars:
            raise LimitExceededError(f"text longer than {settings.max_text_chars} characters", f"texts[{i}]")
    if body.ids is not None and len(body.ids) != len(body.texts):
        raise InvalidInputError(f"{len(body.ids)} ids for {len(body.texts)} texts", "ids")
    cache: dict = request.app.state.__dict__.setdefault("topic_models", {})
    tm = cache.get(model_id)
    if tm is None:
        tm = await run_in_threadpool(_load, settings, model_id)
        if len(cache) > 16:
            cache.clear()
        cache[model_id] = tm
    topics, sims = await run_in_threadpool(tm.transform, body.texts)
    ids = body.ids or [None] * len(body.texts)
    return {"results": [TagResult(id=i, topic=int(t), topic_label=tm.topic_name(int(t)), similarity=round(float(s), 4))
                        for i, t, s in zip(ids, topics, sims)]}


@router.get("/reports/{report_id}", response_class=HTMLResponse, responses={404: {"model": ErrorResponse}},
            summary="The report page of a topic fit or complaint analysis (self-contained HTML)")
def report(report_id: str, settings: SettingsDep) -> HTMLResponse:
    f = _report_dir(settings, _check_id(report_id, "report_id")) / "report.html"
    if not f.exists():
        raise HTTPException(status_code=404, detail=f"report {report_id!r} not found")
    return HTMLResponse(f.read_text(encoding="utf-8"))


@router.post("/complaints", status_code=201, responses={413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
             summary="Recurring complaints in negative comments or complaining customer turns")
def complaints(body: ComplaintsRequest, settings: SettingsDep, pipe: SentimentDep) -> dict[str, Any]:
    from qa_service.feedback import analyse_complaints, complaint_outputs, quote_redactor
    from qa_service.pipelines.complaints import select_complaints
    from qa_service.services import build_topic_model

    _limit(settings, len(body.comments) + len(body.transcripts), "comments")
    _too_long(settings, [c.text for c in body.comments], "comments")
    items = select_complaints(pipe, comments=body.comments, transcripts=body.transcripts)
    if not items:
        raise InvalidInputError("no complaints found: no negative comments or complaining customer turns",
                                "comments" if body.comments else "transcripts")
    model = build_topic_model(settings, min_topic_size=body.min_topic_size)
    clusters, trends = analyse_complaints(items, model, freq=body.period)
    report_id = _new_id("complaints")
    complaint_outputs(clusters, trends, _report_dir(settings, report_id), freq=body.period,
                      redact=quote_redactor(settings))
    return {"report_id": report_id, "report_url": f"/v1/reports/{report_id}", "complaints_found": len(items),
            "recurring": [{"id": c.id, "label": c.label, "cases": c.sources, "texts": c.size, "keywords": c.keywords,
                           "quotes": c.quotes, "mean_score": c.mean_score} for c in clusters.complaints_.values()],
            "not_recurring": int((clusters.labels_ == -1).sum())}

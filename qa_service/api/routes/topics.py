"""Topics, recurring complaints and the feedback report over HTTP.

``POST /v1/topics/fit`` fits a topic model on comments and keeps the model and its report under
``QA_DATA_DIR``; ``POST /v1/topics/{model_id}/tag`` tags new comments with it; ``GET /v1/reports/{report_id}``
serves the report page. ``POST /v1/complaints`` clusters negative comments or complaining customer turns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from qa_service.api.auth import ANALYST, READER
from qa_service.api.deps import ModelsDep, RuntimeDep
from qa_service.errors import Deadline, InvalidInputError, LimitExceededError
from qa_service.reports.feedback import REPORT_HEADERS
from qa_service.schemas import Comment, ErrorResponse, Transcript
from qa_service.usecases import feedback

# Managers are read-only: they read topics and reports and may tag texts with a fitted model (nothing is written);
# fitting topics and finding complaints write models, reports and topic assignments, so they need an analyst.
router = APIRouter(prefix="/v1", tags=["topics"], dependencies=[READER],
                   responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}})


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


def _topic_out(tm) -> list[TopicOut]:
    return [TopicOut(id=t.id, label=t.name, keywords=t.keywords, size=t.size, representative=t.representative)
            for t in sorted(tm.topics_.values(), key=lambda t: -t.size)]


@router.post("/topics/fit", response_model=TopicFitResponse, status_code=201, dependencies=[ANALYST],
             responses={413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, 404: {"model": ErrorResponse}},
             summary="Fit topics on comments; keeps the model and its report")
def fit_topics(body: TopicFitRequest, rt: ModelsDep) -> TopicFitResponse:
    model_id, fit = feedback.fit_topics_api(
        rt, body.comments, body.source, body.since, body.until, body.title, period=body.period,
        min_topic_size=body.min_topic_size, nr_topics=body.nr_topics, reduce_outliers=body.reduce_outliers,
        merge=body.merge, refit_id=body.refit, deadline=Deadline(rt.settings.request_timeout))
    a = fit.analysis
    return TopicFitResponse(
        model_id=model_id, report_url=f"/v1/reports/{model_id}", topics=_topic_out(a.topic_model),
        documents=[{"id": r["id"], "topic": r["topic"], "topic_label": r["topic_label"]} for r in a.document_rows()],
        trends=a.trend_rows(), complaints=a.complaint_rows(), drivers=a.driver_rows(), summary=a.summary())


@router.get("/topics", summary="Topic models fitted through the API")
def list_topic_models(rt: RuntimeDep) -> list[dict[str, Any]]:
    return feedback.list_api_topic_models(rt)


@router.get("/topics/{model_id}", response_model=list[TopicOut], responses={404: {"model": ErrorResponse}},
            summary="A fitted model's topics")
def get_topics(model_id: str, rt: RuntimeDep) -> list[TopicOut]:
    return _topic_out(feedback.load_api_topic_model(rt, model_id))


@router.post("/topics/{model_id}/tag", responses={404: {"model": ErrorResponse}, 413: {"model": ErrorResponse}},
             summary="Tag comments with a fitted model (no refit)")
async def tag(model_id: str, body: TagRequest, rt: RuntimeDep) -> dict[str, list[TagResult]]:
    limits = rt.settings
    if len(body.texts) > limits.max_texts:
        raise LimitExceededError(f"too many texts: {len(body.texts)} (limit {limits.max_texts})", "texts")
    for i, t in enumerate(body.texts):
        if len(t) > limits.max_text_chars:
            raise LimitExceededError(f"text longer than {limits.max_text_chars} characters", f"texts[{i}]")
    if body.ids is not None and len(body.ids) != len(body.texts):
        raise InvalidInputError(f"{len(body.ids)} ids for {len(body.texts)} texts", "ids")
    tm = await run_in_threadpool(feedback.load_api_topic_model, rt, model_id)
    tags = await run_in_threadpool(feedback.tag_comments, tm, body.texts)
    ids = body.ids or [None] * len(body.texts)
    return {"results": [TagResult(id=i, topic=t, topic_label=label, similarity=sim)
                        for i, (t, label, sim) in zip(ids, tags)]}


@router.get("/reports/{report_id}", response_class=HTMLResponse, responses={404: {"model": ErrorResponse}},
            summary="The report page of a topic fit, complaint analysis or model comparison (self-contained HTML)")
def report(report_id: str, rt: RuntimeDep) -> HTMLResponse:
    return HTMLResponse(feedback.report_html(rt, report_id), headers=REPORT_HEADERS)


@router.post("/complaints", status_code=201, dependencies=[ANALYST],
             responses={413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
             summary="Recurring complaints in negative comments or complaining customer turns")
def complaints(body: ComplaintsRequest, rt: ModelsDep) -> dict[str, Any]:
    report_id, items, clusters = feedback.find_complaints_api(rt, body.comments, body.transcripts, body.period,
                                                              body.min_topic_size,
                                                              deadline=Deadline(rt.settings.request_timeout))
    return {"report_id": report_id, "report_url": f"/v1/reports/{report_id}", "complaints_found": len(items),
            "recurring": [{"id": c.id, "label": c.label, "cases": c.sources, "texts": c.size, "keywords": c.keywords,
                           "quotes": c.quotes, "mean_score": c.mean_score} for c in clusters.complaints_.values()],
            "not_recurring": int((clusters.labels_ == -1).sum())}

"""Live sentiment."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from fastapi import APIRouter, Response

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from qa_service.api.auth import HELPDESK, CallerDep
from qa_service.api.deps import ModelsDep
from qa_service.errors import Deadline, InvalidInputError
from qa_service.schemas import (ID_CHARS, ErrorResponse, SentimentBatchResponse, SentimentLabel, SentimentRequest,
                                SentimentResult)
from qa_service.text.normalize import scrub
from qa_service.usecases.corrections import CorrectionInput, correct_many
from qa_service.usecases.sentiment import label_text, label_texts

router = APIRouter(prefix="/v1", tags=["sentiment"], dependencies=[HELPDESK])

_ERRORS = {401: {"model": ErrorResponse, "description": "Missing or invalid API key"},
           403: {"model": ErrorResponse, "description": "The key's role may not do this"},
           413: {"model": ErrorResponse, "description": "Too many or too long texts"},
           422: {"model": ErrorResponse, "description": "Invalid body or empty text"},
           503: {"model": ErrorResponse, "description": "Models not loaded"}}


@router.post("/sentiment", response_model=SentimentResult | SentimentBatchResponse, responses=_ERRORS,
             summary="Sentiment of one text ({text}) or of several ({texts})")
async def sentiment(body: SentimentRequest, rt: ModelsDep):
    if (body.text is None) == (body.texts is None):
        raise InvalidInputError("give exactly one of 'text' or 'texts'", field="text")
    # The results are validated models already: they are serialised once here rather than validated again
    # against the response union and encoded by FastAPI (the schema above still documents them).
    if body.text is not None:
        # Short single texts are cheaper inline than a thread hop (the encoder is fast and holds the GIL little).
        return Response(label_text(rt, body.text).model_dump_json(), media_type="application/json")
    deadline = Deadline(rt.settings.request_timeout)  # the 504 comes first; this stops the work too
    results = await run_in_threadpool(label_texts, rt, body.texts or [], deadline)
    return Response(SentimentBatchResponse(results=results).model_dump_json(), media_type="application/json")


def _scrubbed(v: object) -> object:
    """Lone surrogates (valid JSON escapes) replaced before a length-checked field reads them."""
    return scrub(v) if isinstance(v, str) else v


Scrubbed = Annotated[str, BeforeValidator(_scrubbed)]


class FeedbackItem(BaseModel):
    """A corrected label for a text (``text``), or for a stored comment a job labelled (``source`` + ``id``)."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, description="The text as the model saw it.")
    source: Scrubbed | None = Field(default=None, max_length=200, description="A stored comment's source ...")
    id: Scrubbed | None = Field(default=None, max_length=ID_CHARS, description="... and id.")
    label: SentimentLabel
    comment: Scrubbed | None = Field(default=None, max_length=2000, description="Why (stored redacted).")


class FeedbackRequest(BaseModel):
    """One correction (the fields of an item), or several: ``{"corrections": [...]}`` (at most QA_MAX_TEXTS)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "¿Me pueden enviar la factura de marzo?", "label": "neutral", "comment": "una consulta, no una queja"},
        {"source": "encuesta-2026-11", "id": "c-17", "label": "negative"},
        {"corrections": [{"text": "Gracias, todo resuelto", "label": "positive"}]}]})

    text: str | None = Field(default=None, description="The text as the model saw it.")
    source: Scrubbed | None = Field(default=None, max_length=200, description="A stored comment's source ...")
    id: Scrubbed | None = Field(default=None, max_length=ID_CHARS, description="... and id.")
    label: SentimentLabel | None = None
    comment: Scrubbed | None = Field(default=None, max_length=2000, description="Why (stored redacted).")
    corrections: list[FeedbackItem] | None = Field(default=None, description="Several corrections at once.")


class FeedbackStored(BaseModel):
    id: int
    label: SentimentLabel
    predicted: str | None = Field(description="The model's label for it")
    model_version: str | None = Field(description="The model version that gave that label")
    language: str | None
    created_at: str


class FeedbackBatchStored(BaseModel):
    corrections: list[FeedbackStored]


def _stored(c) -> FeedbackStored:
    return FeedbackStored(id=c.id, label=c.label, predicted=c.predicted, model_version=c.model_version,
                          language=c.language, created_at=c.created_at.isoformat())


@router.post("/sentiment/feedback", status_code=201, response_model=FeedbackStored | FeedbackBatchStored,
             responses={**_ERRORS, 404: {"model": ErrorResponse, "description": "No such stored comment"}},
             summary="Correct sentiment results: the right label for a text or a stored comment (or several)")
async def sentiment_feedback(body: FeedbackRequest, rt: ModelsDep, caller: CallerDep):
    single = body.corrections is None
    if single == (body.label is None) or (not single and (body.text or body.source or body.id or body.comment)):
        raise InvalidInputError("give one correction (label with text, or source and id) or 'corrections'", "label")
    items = [CorrectionInput(body.label, body.text, body.source, body.id, body.comment)] if single else \
        [CorrectionInput(**c.model_dump()) for c in body.corrections or []]
    out = await run_in_threadpool(correct_many, rt, items, caller, single)
    return _stored(out[0]) if single else FeedbackBatchStored(corrections=[_stored(c) for c in out])

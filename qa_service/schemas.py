"""Pydantic models: the API and file contracts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SentimentLabel = Literal["negative", "neutral", "positive"]
LanguageCode = Literal["es", "en", "other"]


class Probabilities(BaseModel):
    """Calibrated class probabilities; they sum to 1."""

    negative: float = Field(ge=0, le=1)
    neutral: float = Field(ge=0, le=1)
    positive: float = Field(ge=0, le=1)


class SentimentResult(BaseModel):
    """Sentiment of one text."""

    id: str | None = Field(default=None, description="The input record's id (files) or null (API).")
    label: SentimentLabel
    score: float = Field(ge=-1, le=1, description="P(positive) - P(negative), in -1..1.")
    probabilities: Probabilities
    language: LanguageCode


class SentimentRequest(BaseModel):
    """Either ``text`` (one result back) or ``texts`` (``{"results": [...]}`` back), not both."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"text": "Me han cobrado dos veces la factura y nadie me responde."},
                     {"texts": ["Muy amable la agente, gracias.", "The app keeps crashing."]}]})

    text: str | None = Field(default=None, description="One message or comment.")
    texts: list[str] | None = Field(default=None, description="Several messages, at most QA_MAX_TEXTS.")


class SentimentBatchResponse(BaseModel):
    results: list[SentimentResult]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "loading", "failed"]
    models: dict[str, str] = Field(default_factory=dict, description="Loaded model versions by task.")
    detail: str | None = None


class ErrorDetail(BaseModel):
    field: str | None = None
    message: str


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body: what went wrong and, where it applies, which field."""

    error: str
    detail: list[ErrorDetail]

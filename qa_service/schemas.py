"""Pydantic models: the API and file contracts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


# --------------------------------------------------------------------------- transcripts
Speaker = Literal["agent", "customer", "system"]


class Turn(BaseModel):
    """One turn of a call or chat. ``start``/``end`` are seconds from the start (calls); chats may give ``at``."""

    speaker: Speaker
    text: str
    start: float | None = Field(default=None, ge=0)
    end: float | None = Field(default=None, ge=0)
    at: datetime | None = None

    @model_validator(mode="after")
    def _end_after_start(self) -> "Turn":
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class AgentInfo(BaseModel):
    id: str | None = None
    team: str | None = None


class Transcript(BaseModel):
    """A call or chat transcript (the JSON contract in ARCHITECTURE.md)."""

    id: str = Field(min_length=1)
    channel: Literal["call", "chat", "email", "other"] = "call"
    language: LanguageCode | None = None
    started_at: datetime | None = None
    agent: AgentInfo = Field(default_factory=AgentInfo)
    metadata: dict[str, Any] = Field(default_factory=dict)
    turns: list[Turn] = Field(min_length=1)

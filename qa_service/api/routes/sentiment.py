"""Live sentiment."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from qa_service.api.auth import HELPDESK
from qa_service.api.deps import SentimentDep, SettingsDep
from qa_service.errors import InvalidInputError, LimitExceededError
from qa_service.schemas import ErrorResponse, SentimentBatchResponse, SentimentRequest, SentimentResult
from qa_service.text.normalize import is_blank

router = APIRouter(prefix="/v1", tags=["sentiment"], dependencies=[HELPDESK])

_ERRORS = {401: {"model": ErrorResponse, "description": "Missing or invalid API key"},
           403: {"model": ErrorResponse, "description": "The key's role may not do this"},
           413: {"model": ErrorResponse, "description": "Too many or too long texts"},
           422: {"model": ErrorResponse, "description": "Invalid body or empty text"},
           503: {"model": ErrorResponse, "description": "Models not loaded"}}


@router.post("/sentiment", response_model=SentimentResult | SentimentBatchResponse, responses=_ERRORS,
             summary="Sentiment of one text ({text}) or of several ({texts})")
async def sentiment(body: SentimentRequest, settings: SettingsDep, pipe: SentimentDep):
    if (body.text is None) == (body.texts is None):
        raise InvalidInputError("give exactly one of 'text' or 'texts'", field="text")
    if body.text is not None:
        _check_text(body.text, "text", settings.max_text_chars)
        # Short single texts are cheaper inline than a thread hop (the encoder is fast and holds the GIL little).
        return pipe.predict(body.text)
    texts = body.texts or []
    if not texts:
        raise InvalidInputError("'texts' is empty", field="texts")
    if len(texts) > settings.max_texts:
        raise LimitExceededError(f"too many texts: {len(texts)} > limit {settings.max_texts}", field="texts")
    for i, t in enumerate(texts):
        _check_text(t, f"texts[{i}]", settings.max_text_chars)
    results = await run_in_threadpool(pipe.predict, texts)
    return SentimentBatchResponse(results=results)


def _check_text(text: str, field: str, limit: int) -> None:
    if len(text) > limit:
        raise LimitExceededError(f"{field} is too long: {len(text)} characters > limit {limit}", field=field)
    if is_blank(text):
        raise InvalidInputError(f"{field} is empty or whitespace only", field=field)

"""Live sentiment."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from fastapi import APIRouter

from qa_service.api.auth import HELPDESK
from qa_service.api.deps import ModelsDep
from qa_service.errors import Deadline, InvalidInputError
from qa_service.schemas import ErrorResponse, SentimentBatchResponse, SentimentRequest, SentimentResult
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
    if body.text is not None:
        # Short single texts are cheaper inline than a thread hop (the encoder is fast and holds the GIL little).
        return label_text(rt, body.text)
    deadline = Deadline(rt.settings.request_timeout)  # the 504 comes first; this stops the work too
    return SentimentBatchResponse(results=await run_in_threadpool(label_texts, rt, body.texts or [], deadline))

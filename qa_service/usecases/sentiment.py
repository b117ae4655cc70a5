"""Sentiment: live (one text or a few, the helpdesk's path) and streamed over files."""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Sequence

from qa_service.errors import Deadline, InvalidInputError, LimitExceededError
from qa_service.runtime import Runtime
from qa_service.schemas import SentimentResult
from qa_service.text.normalize import is_blank


def check_text(rt: Runtime, text: str, field: str) -> None:
    """A text the live path accepts: not blank, not longer than ``QA_MAX_TEXT_CHARS``."""
    limit = rt.settings.max_text_chars
    if len(text) > limit:
        raise LimitExceededError(f"{field} is too long: {len(text)} characters > limit {limit}", field=field)
    if is_blank(text):
        raise InvalidInputError(f"{field} is empty or whitespace only", field=field)


def label_text(rt: Runtime, text: str) -> SentimentResult:
    """The sentiment of one text."""
    check_text(rt, text, "text")
    return rt.sentiment().predict(text)


def label_texts(rt: Runtime, texts: Sequence[str], deadline: Deadline | None = None,
                batch_size: int = 64) -> list[SentimentResult]:
    """The sentiment of several texts (at most ``QA_MAX_TEXTS``); with a ``deadline``, in batches of
    ``batch_size`` with the deadline checked before each."""
    if not texts:
        raise InvalidInputError("'texts' is empty", field="texts")
    if len(texts) > rt.settings.max_texts:
        raise LimitExceededError(f"too many texts: {len(texts)} > limit {rt.settings.max_texts}", field="texts")
    for i, t in enumerate(texts):
        check_text(rt, t, f"texts[{i}]")
    pipe = rt.sentiment()  # one model for the whole request, even when a promotion swaps it meanwhile
    if deadline is None:
        return pipe.predict(list(texts))
    out: list[SentimentResult] = []
    for i in range(0, len(texts), batch_size):
        deadline.check("sentiment")
        out.extend(pipe.predict(list(texts[i:i + batch_size])))
    return out


def label_batches(rt: Runtime, batches: Iterable[list], model: str | None = None
                  ) -> Iterator[list[SentimentResult]]:
    """Label batches of text records (``.id``, ``.text``), one result list per batch (files of any size)."""
    pipe = rt.sentiment(model)
    for batch in batches:
        yield pipe.predict([r.text for r in batch], ids=[r.id for r in batch])


def batched(records: Iterable, size: int, on_bad: Callable[[object], None]) -> Iterator[list]:
    """Group good records into lists of ``size``; hand each bad one (a BadRecord) to ``on_bad`` as it is met."""
    from qa_service.io.records import BadRecord

    batch: list = []
    for rec in records:
        if isinstance(rec, BadRecord):
            on_bad(rec)
            continue
        batch.append(rec)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch

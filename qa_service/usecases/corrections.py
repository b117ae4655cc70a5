"""Corrections as data: a person's sentiment label for a text the service labelled (helpdesk, analysts), stored
redacted like every text, by whom and when. Snapshots (``usecases/datasets.py``) turn them into training data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from qa_service.errors import InvalidInputError, NotFoundError
from qa_service.runtime import Runtime
from qa_service.schemas import SentimentLabel
from qa_service.store import corrections as store
from qa_service.text.normalize import is_blank, text_fingerprint
from qa_service.usecases.access import EVERYONE, Caller
from qa_service.usecases.sentiment import check_text

LABELS = ("negative", "neutral", "positive")
MAX_COMMENT_CHARS = 2000


@dataclass
class Correction:
    id: int
    label: str
    predicted: str | None
    model_version: str | None
    language: str | None
    created_at: datetime


def redact(rt: Runtime, text: str, language: str | None = None) -> str:
    """``text`` as it may be stored: PII redacted in its language (as given when the deployment keeps text)."""
    red = rt.redactor()
    return text if red is None else red.redact(text, rt.record_language(text, language)).text


def correct_sentiment(rt: Runtime, label: SentimentLabel | str, text: str | None = None,
                      source: str | None = None, record_id: str | None = None, comment: str | None = None,
                      caller: Caller = EVERYONE) -> Correction:
    """Store a corrected sentiment label for ``text``, or for the stored comment (``source``, ``record_id``) that a
    job labelled. The model's own label is recorded too: the one stored for that comment, else the served model's
    now. The text and the comment are redacted before they are stored."""
    if label not in LABELS:
        raise InvalidInputError("label must be negative, neutral or positive", "label")
    if (text is None) == (record_id is None):
        raise InvalidInputError("give the text, or the stored comment's source and id (not both)", "text")
    if comment is not None:
        if len(comment) > MAX_COMMENT_CHARS:
            raise InvalidInputError(f"comment: at most {MAX_COMMENT_CHARS} characters", "comment")
        comment = None if is_blank(comment) else redact(rt, comment)
    if text is not None:
        check_text(rt, text, "text")
        result = rt.sentiment().predict(text)
        stored = redact(rt, text, result.language if result.language != "other" else None)
        with rt.session() as s:
            row = store.add_correction(s, text=stored, text_hash=text_fingerprint(text), label=label,
                                       language=result.language, predicted=result.label,
                                       model_version=result.model_version, comment=comment,
                                       redacted=rt.redactor() is not None, author=caller.key_id)
            return _out(row)
    if not source:
        raise InvalidInputError("a stored comment is named by its source and id", "source")
    with rt.session() as s:
        found = store.find_comment(s, source, record_id or "", caller.scope)
        if found is None:
            raise NotFoundError(f"comment {record_id!r} from {source!r} not found")
        last = store.latest_sentiment(s, found.id)
        row = store.add_correction(s, text=found.text, text_hash=text_fingerprint(found.text), label=label,
                                   language=last.language if last else None,
                                   predicted=last.label if last else None,
                                   model_version=last.model_version if last else None, comment=comment,
                                   redacted=found.redacted, author=caller.key_id, comment_id=found.id)
        return _out(row)


def _out(row) -> Correction:
    return Correction(row.id, row.label, row.predicted, row.model_version, row.language, row.created_at)

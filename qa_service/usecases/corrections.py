"""Corrections as data: a person's sentiment label for a text the service labelled (helpdesk, analysts), stored
redacted like every text, by whom and when. Snapshots (``usecases/datasets.py``) turn them into training data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from qa_service.errors import InvalidInputError, NotFoundError
from qa_service.runtime import Runtime
from qa_service.schemas import SentimentLabel
from qa_service.store import corrections as store
from qa_service.text.normalize import is_blank, scrub, text_fingerprint
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
    """``text`` as it may be stored: PII redacted in its language (as given when the deployment keeps text); lone
    surrogates (valid in JSON escapes, not storable as UTF-8) replaced."""
    text = scrub(text)
    red = rt.redactor()
    return text if red is None else red.redact(text, rt.record_language(text, language)).text


@dataclass
class CorrectionInput:
    """One correction as sent: the right ``label`` for ``text``, or for the stored comment (``source``, ``id``)."""

    label: str
    text: str | None = None
    source: str | None = None
    id: str | None = None
    comment: str | None = None


def correct_sentiment(rt: Runtime, label: SentimentLabel | str, text: str | None = None,
                      source: str | None = None, record_id: str | None = None, comment: str | None = None,
                      caller: Caller = EVERYONE) -> Correction:
    """Store a corrected sentiment label for ``text``, or for the stored comment (``source``, ``record_id``) that a
    job labelled. The model's own label is recorded too: the one stored for that comment, else the served model's
    now. The text and the comment are redacted before they are stored."""
    return correct_many(rt, [CorrectionInput(label, text, source, record_id, comment)], caller, single=True)[0]


def correct_many(rt: Runtime, items: list[CorrectionInput], caller: Caller = EVERYONE, single: bool = False
                 ) -> list[Correction]:
    """Store several corrections in one transaction (the model labels the given texts in one batch); a bad item
    is a 422 naming it (``corrections[3].label``) and nothing is stored."""
    if not items:
        raise InvalidInputError("no corrections", "corrections")
    if len(items) > rt.settings.max_texts:
        from qa_service.errors import LimitExceededError

        raise LimitExceededError(f"too many corrections: {len(items)} > limit {rt.settings.max_texts}",
                                 "corrections")
    where = (lambda i, f: f) if single else (lambda i, f: f"corrections[{i}].{f}")  # noqa: E731
    comments = []
    for i, it in enumerate(items):
        if it.label not in LABELS:
            raise InvalidInputError("label must be negative, neutral or positive", where(i, "label"))
        if (it.text is None) == (it.id is None):
            raise InvalidInputError("give the text, or the stored comment's source and id (not both)",
                                    where(i, "text"))
        if it.id is not None and not it.source:
            raise InvalidInputError("a stored comment is named by its source and id", where(i, "source"))
        if it.text is not None:
            check_text(rt, it.text, where(i, "text"))
        if it.comment is not None and len(it.comment) > MAX_COMMENT_CHARS:
            raise InvalidInputError(f"at most {MAX_COMMENT_CHARS} characters", where(i, "comment"))
        comments.append(None if it.comment is None or is_blank(it.comment) else redact(rt, it.comment))
    texts = [(i, it.text) for i, it in enumerate(items) if it.text is not None]
    predicted = dict(zip([i for i, _ in texts], rt.sentiment().predict([t for _, t in texts]))) if texts else {}
    stored = {i: redact(rt, t, predicted[i].language if predicted[i].language != "other" else None)
              for i, t in texts}
    redacting = rt.redactor() is not None
    out = []
    with rt.session() as s:
        for i, it in enumerate(items):
            if it.text is not None:
                r = predicted[i]
                row = store.add_correction(s, text=stored[i], text_hash=text_fingerprint(it.text), label=it.label,
                                           language=r.language, predicted=r.label, model_version=r.model_version,
                                           comment=comments[i], redacted=redacting, author=caller.key_id)
            else:
                found = store.find_comment(s, it.source or "", it.id or "", caller.scope)
                if found is None:
                    raise NotFoundError(f"{where(i, 'id')}: comment {it.id!r} from {it.source!r} not found")
                last = store.latest_sentiment(s, found.id)
                row = store.add_correction(s, text=found.text, text_hash=text_fingerprint(found.text),
                                           label=it.label, language=last.language if last else None,
                                           predicted=last.label if last else None,
                                           model_version=last.model_version if last else None,
                                           comment=comments[i], redacted=found.redacted, author=caller.key_id,
                                           comment_id=found.id)
            out.append(_out(row))
    return out


def _out(row) -> Correction:
    return Correction(row.id, row.label, row.predicted, row.model_version, row.language, row.created_at)

"""Sentiment corrections: a person's label for a text the model labelled (the text as stored: redacted)."""

from __future__ import annotations

from typing import Iterator

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from qa_service.store.tables import CommentRow, JobRow, SentimentCorrectionRow, SentimentRow

Scope = tuple[str, str | None] | None
"""Whose stored comments a caller may reference: ``None`` all; (key id, team) those a job of theirs labelled."""


def add_correction(session: Session, *, text: str, text_hash: str, label: str, language: str | None,
                   predicted: str | None, model_version: str | None, comment: str | None, redacted: bool,
                   author: str | None, comment_id: int | None = None) -> SentimentCorrectionRow:
    row = SentimentCorrectionRow(text=text, text_hash=text_hash, label=label, language=language, predicted=predicted,
                                 model_version=model_version, comment=comment, redacted=redacted, author=author,
                                 comment_id=comment_id)
    session.add(row)
    session.flush()
    return row


def find_comment(session: Session, source: str, external_id: str, scope: Scope = None) -> CommentRow | None:
    """The stored comment (source, id) when ``scope`` may see it: unscoped callers see every comment, others the
    comments that a job they (or their team) submitted labelled."""
    q = select(CommentRow).where(CommentRow.source == source, CommentRow.external_id == external_id)
    if scope is not None:
        key_id, team = scope
        owner = JobRow.owner_key_id == key_id
        if team is not None:
            owner = or_(owner, JobRow.owner_team == team)
        q = q.where(exists(select(SentimentRow.id).join(JobRow, SentimentRow.job_id == JobRow.id)
                           .where(SentimentRow.comment_id == CommentRow.id, owner)))
    return session.scalar(q)


def latest_sentiment(session: Session, comment_id: int) -> SentimentRow | None:
    """The most recent stored sentiment of a comment."""
    return session.scalar(select(SentimentRow).where(SentimentRow.comment_id == comment_id)
                          .order_by(SentimentRow.id.desc()).limit(1))


def latest_corrections(session: Session) -> Iterator[SentimentCorrectionRow]:
    """Every corrected text once: the latest correction of each (by text fingerprint), oldest first."""
    latest: dict[str, SentimentCorrectionRow] = {}
    for row in session.scalars(select(SentimentCorrectionRow).order_by(SentimentCorrectionRow.id)
                               .execution_options(yield_per=1000)):
        latest.pop(row.text_hash, None)
        latest[row.text_hash] = row
    return iter(list(latest.values()))


def count_corrections(session: Session) -> int:
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).select_from(SentimentCorrectionRow)) or 0)

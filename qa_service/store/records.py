"""Transcripts and comments: idempotent ingestion by (source, id), stored comments for topic fits, sentiment
results and topic assignments."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from qa_service.errors import InvalidInputError
from qa_service.schemas import Comment, SentimentResult, Transcript
from qa_service.store.tables import CommentRow, SentimentRow, TopicAssignmentRow, TranscriptRow


@dataclass
class IngestReport:
    """What one ingestion did: every record ends up in exactly one of these counts."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    ids: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


def content_hash(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def check_source(source: str) -> str:
    source = (source or "").strip()
    if not source or len(source) > 200:
        raise InvalidInputError("source must be 1 to 200 characters (e.g. the file name or system)", "source")
    return source


def _upsert(session: Session, table, source: str, external_id: str, values: dict, report: IngestReport) -> None:
    """Insert, update in place (content changed) or leave (same content) the record keyed by (source, id)."""
    row = session.scalar(select(table).where(table.source == source, table.external_id == external_id))
    if row is None:
        row = table(source=source, external_id=external_id, **values)
        session.add(row)
        session.flush()
        report.inserted += 1
    elif row.content_hash != values["content_hash"]:
        for k, v in values.items():
            setattr(row, k, v)
        report.updated += 1
    else:
        report.unchanged += 1
    report.ids.append(row.id)


def ingest_transcripts(session: Session, source: str, transcripts: Iterable[Transcript],
                       redacted: bool = False) -> IngestReport:
    """Insert new transcripts, update changed ones, leave identical ones: sending a file twice changes nothing."""
    source = check_source(source)
    report = IngestReport()
    for t in transcripts:
        payload = t.model_dump(mode="json")
        _upsert(session, TranscriptRow, source, t.id, dict(
            channel=t.channel, language=t.language, started_at=t.started_at, agent_id=t.agent.id, team=t.agent.team,
            turns=payload["turns"], meta=t.metadata, content_hash=content_hash(payload), redacted=redacted), report)
    return report


def ingest_comments(session: Session, source: str, comments: Iterable[Comment], redacted: bool = False
                    ) -> IngestReport:
    """Like :func:`ingest_transcripts`, for survey comments."""
    source = check_source(source)
    report = IngestReport()
    for c in comments:
        _upsert(session, CommentRow, source, c.id, dict(
            text=c.text, created_at=c.created_at, score=c.score, channel=c.channel, agent_id=c.agent_id, team=c.team,
            meta=c.metadata, content_hash=content_hash(c.model_dump(mode="json")), redacted=redacted), report)
    return report


def save_sentiment(session: Session, comment_id: int, result: SentimentResult, model_version: str,
                   job_id: str | None = None) -> SentimentRow:
    row = session.scalar(select(SentimentRow).where(SentimentRow.comment_id == comment_id,
                                                    SentimentRow.model_version == model_version))
    values = dict(label=result.label, score=result.score, probabilities=result.probabilities.model_dump(),
                  language=result.language, job_id=job_id)
    if row is None:
        row = SentimentRow(comment_id=comment_id, model_version=model_version, **values)
        session.add(row)
    else:
        for k, v in values.items():
            setattr(row, k, v)
    session.flush()
    return row


def stored_comments(session: Session, source: str, since: datetime | None = None, until: datetime | None = None,
                    limit: int | None = None) -> list[tuple[int, Comment]]:
    """Stored comments of ``source`` created in [since, until), oldest row first, as (row id, Comment)."""
    q = select(CommentRow).where(CommentRow.source == source).order_by(CommentRow.id)
    if since:
        q = q.where(CommentRow.created_at >= since)
    if until:
        q = q.where(CommentRow.created_at < until)
    if limit is not None:
        q = q.limit(limit)
    return [(r.id, Comment(id=r.external_id, text=r.text, created_at=r.created_at, score=r.score, channel=r.channel,
                           agent_id=r.agent_id, team=r.team, metadata=r.meta or {}))
            for r in session.scalars(q)]


def save_topic_assignments(session: Session, model_id: str, rows: Iterable[tuple[int, int, str, float]]) -> None:
    """Store each comment's topic under a fitted model: (comment row id, topic, topic label, similarity)."""
    session.add_all([TopicAssignmentRow(comment_id=cid, model_id=model_id, topic=int(t), topic_label=label,
                                        similarity=float(sim)) for cid, t, label, sim in rows])

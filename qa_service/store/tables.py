"""Database tables (SQLAlchemy 2, portable between SQLite and PostgreSQL).

Records users send are keyed by ``(source, external_id)`` so that sending the same file again updates rows in
place instead of duplicating them. Results (scores, sentiment, topic assignments) point at those rows.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class TranscriptRow(Base):
    __tablename__ = "transcripts"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_transcripts_source_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str | None] = mapped_column(String(10))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    agent_id: Mapped[str | None] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(String(200))
    turns: Mapped[list[Any]] = mapped_column(JSON)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    redacted: Mapped[bool] = mapped_column(Boolean, default=False)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    scores: Mapped[list["ScoreRow"]] = relationship(back_populates="transcript", cascade="all, delete-orphan")


class CommentRow(Base):
    __tablename__ = "comments"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_comments_source_id"),
                      Index("ix_comments_created_at", "created_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    score: Mapped[float | None] = mapped_column(Float)
    channel: Mapped[str | None] = mapped_column(String(100))
    agent_id: Mapped[str | None] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(String(200))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    redacted: Mapped[bool] = mapped_column(Boolean, default=False)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class RubricRow(Base):
    """A rubric version as it was used (scores refer to id + version)."""

    __tablename__ = "rubrics"
    __table_args__ = (UniqueConstraint("rubric_id", "version", name="uq_rubrics_id_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rubric_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(50))
    language: Mapped[str] = mapped_column(String(10))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ScoreRow(Base):
    """One transcript scored with one rubric version (rescoring with the same version replaces it)."""

    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("transcript_id", "rubric_id", "rubric_version", name="uq_scores_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id", ondelete="CASCADE"))
    rubric_id: Mapped[str] = mapped_column(String(200))
    rubric_version: Mapped[str] = mapped_column(String(50))
    total: Mapped[float | None] = mapped_column(Float)
    auto_fail: Mapped[bool] = mapped_column(Boolean)
    needs_review: Mapped[bool] = mapped_column(Boolean)
    language: Mapped[str | None] = mapped_column(String(10))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    job_id: Mapped[str | None] = mapped_column(String(64))
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    owner_key_id: Mapped[str | None] = mapped_column(String(32), index=True)
    owner_team: Mapped[str | None] = mapped_column(String(100))

    transcript: Mapped[TranscriptRow] = relationship(back_populates="scores")
    criteria: Mapped[list["CriterionResultRow"]] = relationship(back_populates="score_row",
                                                                cascade="all, delete-orphan")


class CriterionResultRow(Base):
    __tablename__ = "criterion_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("scores.id", ondelete="CASCADE"), index=True)
    criterion_id: Mapped[str] = mapped_column(String(200))
    result: Mapped[str] = mapped_column(String(10))
    score: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)

    score_row: Mapped[ScoreRow] = relationship(back_populates="criteria")


class SentimentRow(Base):
    __tablename__ = "sentiments"
    __table_args__ = (UniqueConstraint("comment_id", "model_version", name="uq_sentiments_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), index=True)
    model_version: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(10))
    score: Mapped[float] = mapped_column(Float)
    probabilities: Mapped[dict[str, Any]] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(10))
    job_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TopicAssignmentRow(Base):
    __tablename__ = "topic_assignments"
    __table_args__ = (UniqueConstraint("comment_id", "model_id", name="uq_topic_assignments_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[str] = mapped_column(String(200))
    topic: Mapped[int] = mapped_column(Integer)
    topic_label: Mapped[str] = mapped_column(String(300))
    similarity: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelVersionRow(Base):
    """A model version in the registry (migration 0005): a shipped bundle (``seed``) or a candidate the service
    trained (``candidate``, a bundle under QA_DATA_DIR/models), with the snapshot it was trained on, its latest
    comparison against the version it would replace and the gate's decision."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("task", "version", name="uq_model_versions"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(50))
    version: Mapped[str] = mapped_column(String(200))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    origin: Mapped[str] = mapped_column(String(20), default="seed")
    # Relative to QA_MODELS_DIR (seed) or to QA_DATA_DIR/models (candidate): machines sharing a database may
    # keep their directories in different places.
    path: Mapped[str | None] = mapped_column(String(500))
    snapshot_id: Mapped[str | None] = mapped_column(String(200))
    comparison: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by: Mapped[str | None] = mapped_column(String(100))


class ModelAliasRow(Base):
    """A named pointer to a version of a task (``current``: the one every server and worker serves)."""

    __tablename__ = "model_aliases"

    task: Mapped[str] = mapped_column(String(50), primary_key=True)
    alias: Mapped[str] = mapped_column(String(50), primary_key=True)
    version: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100))


class ModelEventRow(Base):
    """One change of a task's ``current`` alias: seed, promote or rollback, with the gate's decision, whether it was
    forced and why, who and when. Replaying a task's events gives the promotion stack that rollback pops."""

    __tablename__ = "model_events"
    __table_args__ = (Index("ix_model_events_task", "task", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(50))
    action: Mapped[str] = mapped_column(String(20))
    version: Mapped[str] = mapped_column(String(200))
    previous_version: Mapped[str | None] = mapped_column(String(200))
    gate: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SentimentCorrectionRow(Base):
    """A corrected sentiment label (migration 0005): the text as stored (redacted), the label the model gave and
    the one a person says is right, by whom and when. ``text_hash`` identifies the text as sent (normalised) so
    a text in a gate set is never trained on."""

    __tablename__ = "sentiment_corrections"
    __table_args__ = (Index("ix_sentiment_corrections_hash", "text_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(String(10))
    predicted: Mapped[str | None] = mapped_column(String(10))
    model_version: Mapped[str | None] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    redacted: Mapped[bool] = mapped_column(Boolean, default=False)
    author: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JobRow(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The API key that submitted the job (None: the command line or before migration 0003) and its team.
    owner_key_id: Mapped[str | None] = mapped_column(String(32), index=True)
    owner_team: Mapped[str | None] = mapped_column(String(100))
    # The consumer working on the job (migration 0004): it renews the lease between and during batches;
    # recover() re-queues a running job only once its lease has expired.
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_expires: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Migration 0005: a job of one long step (training) reports where it is: {"stage", "done", "total"}.
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class JobItemRow(Base):
    """One record of a job: done exactly once (its result is written in the same transaction as its status)."""

    __tablename__ = "job_items"
    __table_args__ = (UniqueConstraint("job_id", "seq", name="uq_job_items_seq"),
                      Index("ix_job_items_status", "job_id", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A claimed item is "running" under a lease (migration 0004); another consumer may take it once expired.
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKeyRow(Base):
    """An API key: only its SHA-256 is stored; ``id`` is the public part shown in listings and logs."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReviewRow(Base):
    """An analyst's verdict on one criterion of a stored score (a correction, or a confirmation when the result
    is unchanged). The latest verdict per criterion is the label that goes back into calibration data."""

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_score", "score_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("scores.id", ondelete="CASCADE"))
    criterion_id: Mapped[str] = mapped_column(String(200))
    result: Mapped[str] = mapped_column(String(10))
    original_result: Mapped[str] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text)
    reviewer: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Migration 0005: a "correction" (result given) or a "dispute" of the machine's result decided accept (it was
    # right) / partly (partly right: the label is kept out of training) / reject (it was wrong), with a comment.
    kind: Mapped[str] = mapped_column(String(20), default="correction")
    decision: Mapped[str | None] = mapped_column(String(10))

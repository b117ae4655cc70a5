"""Reading and writing domain records: idempotent ingestion by (source, id), results, API keys."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from qa_service.errors import InvalidInputError
from qa_service.schemas import Comment, ScoreResult, SentimentResult, Transcript
from qa_service.store.models import (ApiKeyRow, CommentRow, CriterionResultRow, ModelVersionRow, ReviewRow, RubricRow,
                                     ScoreRow, SentimentRow, TranscriptRow)

Role = Literal["helpdesk", "analyst", "manager", "admin"]
ROLES: tuple[str, ...] = ("helpdesk", "analyst", "manager", "admin")


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


def _hash(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _check_source(source: str) -> str:
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
    source = _check_source(source)
    report = IngestReport()
    for t in transcripts:
        payload = t.model_dump(mode="json")
        _upsert(session, TranscriptRow, source, t.id, dict(
            channel=t.channel, language=t.language, started_at=t.started_at, agent_id=t.agent.id, team=t.agent.team,
            turns=payload["turns"], meta=t.metadata, content_hash=_hash(payload), redacted=redacted), report)
    return report


def ingest_comments(session: Session, source: str, comments: Iterable[Comment], redacted: bool = False
                    ) -> IngestReport:
    """Like :func:`ingest_transcripts`, for survey comments."""
    source = _check_source(source)
    report = IngestReport()
    for c in comments:
        _upsert(session, CommentRow, source, c.id, dict(
            text=c.text, created_at=c.created_at, score=c.score, channel=c.channel, agent_id=c.agent_id, team=c.team,
            meta=c.metadata, content_hash=_hash(c.model_dump(mode="json")), redacted=redacted), report)
    return report


def save_rubric(session: Session, rubric) -> RubricRow:
    """Record the rubric version a score was made with (once per id + version; a changed body under the same
    version is refused, since old scores would no longer say what they were scored against)."""
    body = rubric.model_dump(mode="json")
    h = _hash(body)
    row = session.scalar(select(RubricRow).where(RubricRow.rubric_id == rubric.id,
                                                 RubricRow.version == rubric.version))
    if row is None:
        row = RubricRow(rubric_id=rubric.id, version=rubric.version, language=rubric.language, body=body,
                        content_hash=h)
        session.add(row)
        session.flush()
    elif row.content_hash != h:
        raise InvalidInputError(f"rubric {rubric.id} version {rubric.version} was stored with different content: "
                                "give the changed rubric a new version", "rubric.version")
    return row


def save_score(session: Session, transcript_id: int, result: ScoreResult, job_id: str | None = None) -> ScoreRow:
    """Store a score with its criterion results and evidence (replacing an earlier score with the same rubric
    version)."""
    old = session.scalar(select(ScoreRow).where(ScoreRow.transcript_id == transcript_id,
                                                ScoreRow.rubric_id == result.rubric.id,
                                                ScoreRow.rubric_version == result.rubric.version))
    if old is not None:
        session.delete(old)
        session.flush()
    data = result.model_dump(mode="json")
    row = ScoreRow(transcript_id=transcript_id, rubric_id=result.rubric.id, rubric_version=result.rubric.version,
                   total=result.total, auto_fail=result.auto_fail, needs_review=result.needs_review,
                   language=result.language, result=data, job_id=job_id,
                   criteria=[CriterionResultRow(criterion_id=c["id"], result=c["result"], score=c.get("score"),
                                                confidence=c.get("confidence"), evidence=c.get("evidence", []))
                             for c in data["criteria"]])
    session.add(row)
    session.flush()
    return row


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


def register_model(session: Session, task: str, version: str, manifest: dict) -> ModelVersionRow:
    """Record a model version the service ran with (once per task + version)."""
    row = session.scalar(select(ModelVersionRow).where(ModelVersionRow.task == task, ModelVersionRow.version == version))
    if row is None:
        row = ModelVersionRow(task=task, version=version, manifest=json.loads(json.dumps(manifest, default=str)))
        session.add(row)
        session.flush()
    return row


# --------------------------------------------------------------------------- analyst reviews
def review_score(session: Session, score_id: int, corrections: dict[str, tuple[str, str | None]],
                 reviewer: str | None) -> dict[str, str]:
    """Record an analyst's review of a stored score: ``corrections`` maps criterion id -> (result, note); every
    other criterion is confirmed as scored. Returns the criterion labels after the review."""
    score = session.get(ScoreRow, score_id)
    if score is None:
        raise KeyError(score_id)
    current = review_labels(session, score)
    unknown = sorted(set(corrections) - set(current))
    if unknown:
        raise InvalidInputError(f"criteria not in this score: {', '.join(unknown)}", "corrections")
    for crit, (result, note) in corrections.items():
        if result not in ("pass", "fail", "na"):
            raise InvalidInputError(f"{crit}: result must be pass, fail or na", "corrections")
    scored = {c["id"]: c["result"] for c in score.result["criteria"]}
    for crit, label in current.items():
        result, note = corrections.get(crit, (label, None))
        session.add(ReviewRow(score_id=score_id, criterion_id=crit, result=result, original_result=scored[crit],
                              note=note, reviewer=reviewer))
    session.flush()
    return review_labels(session, score)


def review_labels(session: Session, score: ScoreRow) -> dict[str, str]:
    """Criterion -> label: the latest review's verdict, else the scorer's result."""
    labels = {c["id"]: c["result"] for c in score.result["criteria"]}
    for r in session.scalars(select(ReviewRow).where(ReviewRow.score_id == score.id).order_by(ReviewRow.id)):
        labels[r.criterion_id] = r.result
    return labels


def reviewed_scores(session: Session, rubric_id: str | None = None, source: str | None = None
                    ) -> Iterable[tuple[ScoreRow, TranscriptRow, dict[str, str]]]:
    """Stored scores that an analyst reviewed, with their transcript and current labels (for calibration)."""
    q = select(ScoreRow, TranscriptRow).join(TranscriptRow, ScoreRow.transcript_id == TranscriptRow.id) \
        .where(ScoreRow.id.in_(select(ReviewRow.score_id))).order_by(ScoreRow.id)
    if rubric_id:
        q = q.where(ScoreRow.rubric_id == rubric_id)
    if source:
        q = q.where(TranscriptRow.source == source)
    for score, transcript in session.execute(q):
        yield score, transcript, review_labels(session, score)


# --------------------------------------------------------------------------- API keys
KEY_PREFIX = "qa"


def _key_hash(secret: str) -> str:
    # Keys are 256-bit random secrets, so a plain SHA-256 is safe to store (no dictionary to attack).
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(session: Session, role: str, name: str | None = None) -> tuple[str, str]:
    """Create a key; returns ``(key_id, key)``. The key is shown once: only its hash is stored."""
    if role not in ROLES:
        raise InvalidInputError(f"unknown role {role!r}: use one of {', '.join(ROLES)}", "role")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    session.add(ApiKeyRow(id=key_id, key_hash=_key_hash(secret), role=role, name=name))
    session.flush()
    return key_id, f"{KEY_PREFIX}_{key_id}_{secret}"


def revoke_api_key(session: Session, key_id: str) -> ApiKeyRow:
    row = session.get(ApiKeyRow, key_id)
    if row is None:
        raise InvalidInputError(f"no API key with id {key_id!r}", "id")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(timezone.utc)
    return row


def verify_api_key(session: Session, key: str) -> ApiKeyRow | None:
    """The key's row when ``key`` is a valid, unrevoked key; else ``None``."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    row = session.get(ApiKeyRow, parts[1])
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _key_hash(parts[2])):
        return None
    return row


def list_api_keys(session: Session) -> list[ApiKeyRow]:
    return list(session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at)))

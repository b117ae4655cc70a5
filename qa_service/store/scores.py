"""Scores: the rubric versions they were made with, criterion results with evidence, analysts' reviews."""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import or_, select, true
from sqlalchemy.orm import Session

from qa_service.errors import InvalidInputError
from qa_service.schemas import ScoreResult
from qa_service.store.records import content_hash
from qa_service.store.tables import CriterionResultRow, JobRow, ReviewRow, RubricRow, ScoreRow, TranscriptRow


def save_rubric(session: Session, rubric) -> RubricRow:
    """Record the rubric version a score was made with (once per id + version; a changed body under the same
    version is refused, since old scores would no longer say what they were scored against)."""
    body = rubric.model_dump(mode="json")
    # Rubrics stored before ``on_auto_fail`` existed hash as before when they leave it at its default.
    h = content_hash({k: v for k, v in body.items() if not (k == "on_auto_fail" and v == "zero")})
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
    # A score belongs to whoever owns the job that produced it (the submitting API key and its team).
    job = session.get(JobRow, job_id) if job_id else None
    row = ScoreRow(transcript_id=transcript_id, rubric_id=result.rubric.id, rubric_version=result.rubric.version,
                   total=result.total, auto_fail=result.auto_fail, needs_review=result.needs_review,
                   language=result.language, result=data, job_id=job_id,
                   owner_key_id=job.owner_key_id if job else None, owner_team=job.owner_team if job else None,
                   criteria=[CriterionResultRow(criterion_id=c["id"], result=c["result"], score=c.get("score"),
                                                confidence=c.get("confidence"), evidence=c.get("evidence", []))
                             for c in data["criteria"]])
    session.add(row)
    session.flush()
    return row


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


DECISIONS = ("accept", "partly", "reject")


def dispute_score(session: Session, score_id: int, criterion: str, decision: str, result: str | None,
                  comment: str, reviewer: str | None) -> ReviewRow:
    """Record a dispute of one criterion's machine result: ``accept`` (it was right; the label is the machine's
    result), ``reject`` (it was wrong; ``result`` is the right one), ``partly`` (partly right: the label stays
    the given result or the machine's, and the criterion is kept out of training). A comment is required."""
    score = session.get(ScoreRow, score_id)
    if score is None:
        raise KeyError(score_id)
    scored = {c["id"]: c["result"] for c in score.result["criteria"]}
    if criterion not in scored:
        raise InvalidInputError(f"criterion {criterion!r} is not in this score", "criterion")
    if decision not in DECISIONS:
        raise InvalidInputError("decision must be accept, partly or reject", "decision")
    if result is not None and result not in ("pass", "fail", "na"):
        raise InvalidInputError("result must be pass, fail or na", "result")
    if not comment or not comment.strip():
        raise InvalidInputError("a dispute needs a comment saying why", "comment")
    original = scored[criterion]
    if decision == "accept":
        if result not in (None, original):
            raise InvalidInputError(f"accept keeps the machine's result ({original}); to change it, reject",
                                    "result")
        result = original
    elif decision == "reject":
        if result is None or result == original:
            raise InvalidInputError(f"reject needs the right result (other than the machine's {original!r})",
                                    "result")
    else:
        result = result or original
    row = ReviewRow(score_id=score_id, criterion_id=criterion, result=result, original_result=original, note=comment,
                    reviewer=reviewer, kind="dispute", decision=decision)
    session.add(row)
    session.flush()
    return row


def review_state(session: Session, score: ScoreRow) -> tuple[dict[str, str], set[str], set[str]]:
    """(criterion -> label, criteria a person reviewed, criteria whose latest verdict is a dispute decided
    ``partly``): the latest review's verdict per criterion, else the scorer's result."""
    labels = {c["id"]: c["result"] for c in score.result["criteria"]}
    reviewed: set[str] = set()
    partly: set[str] = set()
    for r in session.scalars(select(ReviewRow).where(ReviewRow.score_id == score.id).order_by(ReviewRow.id)):
        labels[r.criterion_id] = r.result
        reviewed.add(r.criterion_id)
        if r.decision == "partly":
            partly.add(r.criterion_id)
        else:
            partly.discard(r.criterion_id)
    return labels, reviewed, partly


def review_labels(session: Session, score: ScoreRow) -> dict[str, str]:
    """Criterion -> label: the latest review's verdict, else the scorer's result."""
    return review_state(session, score)[0]


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


def reviewed_for_training(session: Session
                          ) -> Iterable[tuple[ScoreRow, TranscriptRow, dict[str, str], set[str], set[str]]]:
    """Every reviewed score with its (stored, redacted) transcript, its labels, the criteria a person reviewed and
    those disputed ``partly``."""
    q = select(ScoreRow, TranscriptRow).join(TranscriptRow, ScoreRow.transcript_id == TranscriptRow.id) \
        .where(ScoreRow.id.in_(select(ReviewRow.score_id))).order_by(ScoreRow.id)
    for score, transcript in session.execute(q):
        labels, reviewed, partly = review_state(session, score)
        yield score, transcript, labels, reviewed, partly


Scope = tuple[str, str | None] | None
"""Whose scores a query sees: ``None`` all; (key id, team) those owned by the key or by the team."""


def visible(scope: Scope):
    """The WHERE condition for scores visible in ``scope`` (``true()`` when unscoped)."""
    if scope is None:
        return true()
    key_id, team = scope
    mine = ScoreRow.owner_key_id == key_id
    return or_(mine, ScoreRow.owner_team == team) if team is not None else mine


def list_scores(session: Session, source: str | None = None, needs_review: bool | None = None,
                reviewed: bool | None = None, limit: int = 50, offset: int = 0, scope: Scope = None
                ) -> list[dict[str, Any]]:
    """Stored scores visible in ``scope``, newest first, with their transcript's source and id and whether an
    analyst reviewed them."""
    q = select(ScoreRow, TranscriptRow).join(TranscriptRow, ScoreRow.transcript_id == TranscriptRow.id) \
        .where(visible(scope))
    if source is not None:
        q = q.where(TranscriptRow.source == source)
    if needs_review is not None:
        q = q.where(ScoreRow.needs_review == needs_review)
    has_review = ScoreRow.id.in_(select(ReviewRow.score_id))
    if reviewed is not None:
        q = q.where(has_review if reviewed else ~has_review)
    rows = session.execute(q.order_by(ScoreRow.id.desc()).limit(limit).offset(offset)).all()
    reviewed_ids = set(session.scalars(select(ReviewRow.score_id).where(
        ReviewRow.score_id.in_([sc.id for sc, _ in rows]))))
    return [dict(score_id=sc.id, source=t.source, transcript_id=t.external_id, rubric=sc.rubric_id,
                 rubric_version=sc.rubric_version, total=sc.total, auto_fail=sc.auto_fail,
                 needs_review=sc.needs_review, reviewed=sc.id in reviewed_ids, scored_at=sc.scored_at.isoformat())
            for sc, t in rows]


def visible_score(session: Session, score_id: int, scope: Scope = None) -> ScoreRow | None:
    """The score when it exists and ``scope`` sees it, else ``None``."""
    return session.scalar(select(ScoreRow).where(ScoreRow.id == score_id, visible(scope)))


def score_detail(session: Session, score_id: int, scope: Scope = None) -> dict[str, Any] | None:
    """One stored score with its (stored) transcript, current labels and the reviews that changed or noted
    something; ``None`` when there is no such score (or ``scope`` does not see it)."""
    score = visible_score(session, score_id, scope)
    if score is None:
        return None
    t = score.transcript
    reviews = session.scalars(select(ReviewRow).where(ReviewRow.score_id == score_id).order_by(ReviewRow.id)).all()
    return {"score_id": score.id, "source": t.source,
            "transcript": {"id": t.external_id, "channel": t.channel, "language": t.language,
                           "agent": {"id": t.agent_id, "team": t.team}, "turns": t.turns},
            "result": score.result, "labels": review_labels(session, score),
            "reviews": [{"criterion": r.criterion_id, "kind": r.kind, "decision": r.decision, "result": r.result,
                         "original_result": r.original_result, "note": r.note, "reviewer": r.reviewer,
                         "at": r.created_at.isoformat()}
                        for r in reviews if r.result != r.original_result or r.note or r.kind == "dispute"]}


def score_exists(session: Session, score_id: int, scope: Scope = None) -> bool:
    return visible_score(session, score_id, scope) is not None

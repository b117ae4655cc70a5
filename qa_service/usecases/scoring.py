"""Scoring transcripts against rubrics, and the rubric catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator

from qa_service.errors import InvalidInputError, LimitExceededError, NotFoundError
from qa_service.runtime import Runtime
from qa_service.schemas import Rubric, ScoreResult, Transcript


def request_rubric(rt: Runtime, rubric: str | dict[str, Any]) -> Rubric:
    """A rubric named in a request: a shipped rubric's name (looked up in the registry) or a rubric object,
    never a path. Validating compiles its patterns: call it off the event loop."""
    if not isinstance(rubric, (str, dict)):
        raise InvalidInputError("rubric must be a shipped rubric's name or an inline rubric object", "rubric")
    return rt.rubric(rubric)


def score_transcript(rt: Runtime, transcript: Transcript, rubric: str | dict[str, Any]) -> ScoreResult:
    """Score one transcript (the API's live path)."""
    r = request_rubric(rt, rubric)
    limit = rt.settings.max_text_chars * 20
    if sum(len(t.text) for t in transcript.turns) > limit:
        raise LimitExceededError(f"transcript is too long: more than {limit} characters", "transcript.turns")
    return rt.scorer(r).score(transcript)


def score_batches(rt: Runtime, rubric: str | Path, batches: Iterable[list[Transcript]]) -> Iterator[list[ScoreResult]]:
    """Score batches of transcripts with a rubric (a shipped rubric's name, or a YAML file's Path), one result
    list per batch."""
    scorer = rt.scorer(rt.rubric(rubric))
    for batch in batches:
        yield scorer.score_many(batch)


def list_rubrics(rt: Runtime) -> list[Rubric]:
    """The shipped rubrics."""
    from qa_service.io.rubrics import list_rubrics as shipped

    return shipped(rt.settings.rubrics_dir)


def get_rubric(rt: Runtime, rubric_id: str) -> Rubric:
    for r in list_rubrics(rt):
        if r.id == rubric_id:
            return r
    raise NotFoundError(f"rubric {rubric_id!r} not found")

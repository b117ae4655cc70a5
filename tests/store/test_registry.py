"""The model registry in the database (SQLite; PostgreSQL in CI): seed versions, the current alias, promotions and
rollbacks as a stack, the history; sentiment corrections and criterion disputes."""

from __future__ import annotations

import uuid

import pytest

from qa_service.config import Settings
from qa_service.errors import InvalidInputError
from qa_service.store import session_scope, upgrade
from qa_service.store import models as registry


@pytest.fixture(scope="module")
def url() -> str:
    url = Settings().db_url
    upgrade(url)
    return url


def _task() -> str:
    return f"rubric:test-{uuid.uuid4().hex[:8]}"  # each test its own task: the PostgreSQL run shares one database


def test_seed_is_idempotent_and_becomes_current_once(url):
    task = _task()
    for _ in range(2):
        with session_scope(url) as s:
            registry.ensure_seed(s, task, "1.0", {"task": task}, "rubrics/x.calibration.json", make_current=True)
            registry.ensure_seed(s, task, "0.9", {"task": task}, "rubrics/x.calibration.json", make_current=True)
    with session_scope(url) as s:
        assert [r.version for r in registry.list_versions(s, task)] == ["1.0", "0.9"]
        assert {r.origin for r in registry.list_versions(s, task)} == {"seed"}
        assert registry.current(s, task) == "1.0"
        assert [e.action for e in registry.events(s, task)] == ["seed"]
        assert registry.current_aliases(s)[task] == "1.0"


def test_promotions_stack_and_rollbacks_pop(url):
    task = _task()
    with session_scope(url) as s:
        registry.ensure_seed(s, task, "A", {}, "a", make_current=True)
        for v in ("B", "C"):
            registry.register_model(s, task, v, {}, origin="candidate", path=f"x/{v}", snapshot_id="snap-1",
                                    created_by="k1")
            registry.set_current(s, task, v, "promote", "k1", gate={"decision": "pass"})
        assert registry.promotion_stack(s, task) == ["A", "B", "C"]
        registry.set_current(s, task, "B", "rollback", "k2", reason="C misbehaves")
        assert registry.promotion_stack(s, task) == ["A", "B"]
        registry.set_current(s, task, "C", "promote", "k1", forced=True, reason="needed today")
        assert registry.promotion_stack(s, task) == ["A", "B", "C"]
        registry.set_current(s, task, "B", "rollback", "k2")
        registry.set_current(s, task, "A", "rollback", "k2")
        assert registry.promotion_stack(s, task) == ["A"] and registry.current(s, task) == "A"
        hist = registry.events(s, task)
        assert [(e.action, e.version, e.previous_version) for e in hist[:3]] == \
            [("rollback", "A", "B"), ("rollback", "B", "C"), ("promote", "C", "B")]
        assert hist[2].forced and hist[2].reason == "needed today" and hist[2].actor == "k1"
        row = registry.get_version(s, task, "C")
        assert row.origin == "candidate" and row.snapshot_id == "snap-1" and row.created_by == "k1"


def test_sentiment_corrections_and_disputes_are_stored(url):
    from qa_service.schemas import Transcript
    from qa_service.store.corrections import add_correction, latest_corrections
    from qa_service.store.records import ingest_transcripts
    from qa_service.store.scores import dispute_score, review_state, save_rubric, save_score
    from qa_service.runtime import get_runtime

    tag = uuid.uuid4().hex[:8]
    with session_scope(url) as s:
        for label in ("negative", "neutral"):  # the same text corrected twice: the latest label counts
            add_correction(s, text=f"texto {tag}", text_hash=f"h{tag}", label=label, language="es",
                           predicted="negative", model_version="1.0.0", comment=None, redacted=True, author="k1")
        latest = [c for c in latest_corrections(s) if c.text_hash == f"h{tag}"]
        assert [c.label for c in latest] == ["neutral"]

    rt = get_runtime(Settings())
    rubric = rt.rubric("default-es")
    t = Transcript.model_validate({"id": f"d-{tag}", "turns": [
        {"speaker": "agent", "text": "Buenos días, le atiende Laura."},
        {"speaker": "customer", "text": "Me han cobrado dos veces."}]})
    result = rt.scorer(rubric).score(t)
    with session_scope(url) as s:
        tid = ingest_transcripts(s, f"test-{tag}", [t]).ids[0]
        save_rubric(s, rubric)
        score = save_score(s, tid, result)
        crit = result.criteria[0]
        other = "fail" if crit.result == "pass" else "pass"
        with pytest.raises(InvalidInputError, match="reject needs"):
            dispute_score(s, score.id, crit.id, "reject", None, "mal", "k1")
        with pytest.raises(InvalidInputError, match="accept keeps"):
            dispute_score(s, score.id, crit.id, "accept", other, "bien", "k1")
        with pytest.raises(InvalidInputError, match="comment"):
            dispute_score(s, score.id, crit.id, "accept", None, "  ", "k1")
        row = dispute_score(s, score.id, crit.id, "reject", other, "no lo hizo", "k1")
        assert (row.kind, row.decision, row.result, row.original_result) == ("dispute", "reject", other, crit.result)
        second = result.criteria[1]
        dispute_score(s, score.id, second.id, "partly", None, "a medias", "k2")
        labels, reviewed, partly = review_state(s, score)
        assert labels[crit.id] == other and labels[second.id] == second.result
        assert reviewed == {crit.id, second.id} and partly == {second.id}

"""Storage: migrations, idempotent ingestion by (source, id), results, API keys (SQLite; PostgreSQL in CI)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, inspect, select

from qa_service.config import Settings
from qa_service.errors import InvalidInputError
from qa_service.schemas import Comment, Transcript
from qa_service.store import current_revision, get_engine, head_revision, is_new, session_scope, upgrade
from qa_service.store.tables import CommentRow, CriterionResultRow, ScoreRow, TranscriptRow
from qa_service.store.keys import create_api_key, revoke_api_key, verify_api_key
from qa_service.store.records import ingest_comments, ingest_transcripts
from qa_service.store.scores import save_rubric, save_score


@pytest.fixture(scope="module")
def url() -> str:
    url = Settings().db_url
    upgrade(url)
    return url


def _source() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"  # each test its own source: the PostgreSQL run shares one database


def _transcript(i: int, text: str = "Me han cobrado dos veces.") -> Transcript:
    return Transcript.model_validate({"id": f"call-{i}", "channel": "call", "agent": {"id": "a1", "team": "t"},
                                      "turns": [{"speaker": "agent", "text": "Buenos días, le atiende Laura."},
                                                {"speaker": "customer", "text": text}]})


def test_new_sqlite_database_is_migrated_to_head(tmp_path):
    url = f"sqlite:///{tmp_path / 'new' / 'qa.db'}"
    assert is_new(url)
    assert upgrade(url) == head_revision() == current_revision(url)
    assert not is_new(url)
    tables = set(inspect(get_engine(url)).get_table_names())
    assert {"transcripts", "comments", "scores", "criterion_results", "sentiments", "topic_assignments", "jobs",
            "job_items", "rubrics", "model_versions", "api_keys"} <= tables
    assert upgrade(url) == head_revision()  # idempotent


def test_ingesting_the_same_transcripts_twice_changes_nothing(url):
    src = _source()
    batch = [_transcript(i) for i in range(5)]
    with session_scope(url) as s:
        first = ingest_transcripts(s, src, batch)
    with session_scope(url) as s:
        again = ingest_transcripts(s, src, batch)
    assert (first.inserted, first.updated, first.unchanged) == (5, 0, 0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    assert first.ids == again.ids
    # One changed record is updated in place; a new one is added; none is lost.
    changed = batch[:4] + [_transcript(4, "Sigo sin respuesta."), _transcript(5)]
    with session_scope(url) as s:
        third = ingest_transcripts(s, src, changed)
    assert (third.inserted, third.updated, third.unchanged) == (1, 1, 4)
    with session_scope(url) as s:
        rows = s.scalars(select(TranscriptRow).where(TranscriptRow.source == src)).all()
        assert len(rows) == 6
        assert next(r for r in rows if r.external_id == "call-4").turns[1]["text"] == "Sigo sin respuesta."
    # The same id from another source is another record.
    with session_scope(url) as s:
        assert ingest_transcripts(s, src + "-b", batch[:1]).inserted == 1


def test_comments_are_idempotent_too(url):
    src = _source()
    comments = [Comment(id=str(i), text=f"comentario {i}", score=i % 5 + 1) for i in range(10)]
    with session_scope(url) as s:
        assert ingest_comments(s, src, comments).inserted == 10
    with session_scope(url) as s:
        rep = ingest_comments(s, src, comments + [Comment(id="10", text="nuevo")])
        assert (rep.inserted, rep.unchanged) == (1, 10)
        n = s.scalar(select(func.count()).select_from(CommentRow).where(CommentRow.source == src))
        assert n == 11
    with pytest.raises(InvalidInputError, match="source"):
        with session_scope(url) as s:
            ingest_comments(s, " ", comments)


def test_scores_are_stored_with_criteria_and_replaced_on_rescore(url, sentiment, settings):
    from qa_service.runtime import get_runtime

    rt = get_runtime(settings)
    scorer = rt.scorer(rt.rubric("default-es"))
    t = _transcript(1)
    result = scorer.score(t)
    with session_scope(url) as s:
        tid = ingest_transcripts(s, _source(), [t]).ids[0]
        save_rubric(s, scorer.rubric)
        save_score(s, tid, result)
        save_score(s, tid, result)
    with session_scope(url) as s:
        scores = s.scalars(select(ScoreRow).where(ScoreRow.transcript_id == tid)).all()
        assert len(scores) == 1 and scores[0].rubric_version == scorer.rubric.version
        crit = s.scalars(select(CriterionResultRow).where(CriterionResultRow.score_id == scores[0].id)).all()
        assert {c.criterion_id for c in crit} == {c.id for c in result.criteria}
        assert scores[0].result["total"] == result.total


def test_a_changed_rubric_needs_a_new_version(url, settings):
    from qa_service.io.rubrics import load_rubric

    rubric = load_rubric("default-en", settings.rubrics_dir)
    with session_scope(url) as s:
        save_rubric(s, rubric)
    changed = rubric.model_copy(update={"name": rubric.name + " (edited)"})
    with pytest.raises(InvalidInputError, match="new version"):
        with session_scope(url) as s:
            save_rubric(s, changed)


def test_api_keys_are_hashed_verified_and_revoked(url):
    with session_scope(url) as s:
        key_id, key = create_api_key(s, "analyst", "ci")
    assert key.startswith(f"qa_{key_id}_") and len(key) > 40
    with session_scope(url) as s:
        row = verify_api_key(s, key)
        assert row is not None and row.role == "analyst" and key.split("_", 2)[2] not in row.key_hash
        assert verify_api_key(s, key[:-2] + "xx") is None
        assert verify_api_key(s, "not-a-key") is None
        revoke_api_key(s, key_id)
    with session_scope(url) as s:
        assert verify_api_key(s, key) is None
    with pytest.raises(InvalidInputError, match="unknown role"):
        with session_scope(url) as s:
            create_api_key(s, "superuser")


def test_upgrade_from_the_first_migration_keeps_data(tmp_path):
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    assert upgrade(url, "0001") == "0001"
    with session_scope(url) as s:
        ingest_transcripts(s, "old", [_transcript(1)])
    assert upgrade(url) == head_revision()
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(TranscriptRow)) == 1
        assert s.execute(text("SELECT count(*) FROM reviews")).scalar() == 0


def test_migrations_match_the_orm_tables(tmp_path):
    """Alembic head and tables.py describe the same schema (columns, indexes, constraints)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from qa_service.store import get_engine, upgrade
    from qa_service.store.tables import Base

    url = f"sqlite:///{tmp_path / 'cmp.db'}"
    upgrade(url)
    with get_engine(url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_rubrics_stored_before_on_auto_fail_existed_still_match(url, settings):
    """A rubric version stored by the previous release (its body had no ``on_auto_fail``) is the same content
    as that rubric now with the default policy; a ``keep`` rubric under the same version is a changed rubric."""
    from qa_service.io.rubrics import load_rubric
    from qa_service.store.records import content_hash
    from qa_service.store.tables import RubricRow

    rubric = load_rubric("default-es", settings.rubrics_dir).model_copy(update={"version": f"old-{_source()}"})
    old_body = {k: v for k, v in rubric.model_dump(mode="json").items() if k != "on_auto_fail"}
    with session_scope(url) as s:
        s.add(RubricRow(rubric_id=rubric.id, version=rubric.version, language=rubric.language, body=old_body,
                        content_hash=content_hash(old_body)))
    with session_scope(url) as s:
        assert save_rubric(s, rubric).version == rubric.version
    with pytest.raises(InvalidInputError, match="new version"):
        with session_scope(url) as s:
            save_rubric(s, rubric.model_copy(update={"on_auto_fail": "keep"}))

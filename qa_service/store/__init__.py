"""Storage: SQLAlchemy engine and sessions, Alembic migrations (``db.py``), ORM rows (``tables.py``), and one
module per aggregate that owns its queries: ``records`` (transcripts, comments, sentiment, topic assignments),
``scores`` (scores, rubric versions, reviews and disputes), ``corrections`` (sentiment corrections), ``jobs``,
``keys``, ``models`` (the model registry). SQLite by default, PostgreSQL via
QA_DATABASE_URL. Nothing outside this package writes SQL."""

from qa_service.store.db import (current_revision, database_exists, get_engine, head_revision, is_new, session_scope,
                                 upgrade)

__all__ = ["current_revision", "database_exists", "get_engine", "head_revision", "is_new", "session_scope", "upgrade"]

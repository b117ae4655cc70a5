"""Storing transcripts and comments (redacted first when the deployment redacts PII)."""

from __future__ import annotations

from typing import Sequence

from qa_service.runtime import Runtime
from qa_service.schemas import Comment, Transcript
from qa_service.store.records import IngestReport, ingest_comments, ingest_transcripts


def ingest(rt: Runtime, source: str, transcripts: Sequence[Transcript] = (), comments: Sequence[Comment] = ()
           ) -> IngestReport:
    """Insert new records, update changed ones, leave identical ones; (source, id) identifies a record."""
    from qa_service.store import upgrade

    from qa_service.text.pii import redact_comment, redact_transcript

    red = rt.redactor()
    if red is not None:
        lid = rt.language_id()
        # each record in its own language: English names are only found by the English model
        transcripts = [redact_transcript(t, red, None if t.language else lid.detect(
            " ".join(x.text for x in t.turns)[:2000], default="es")) for t in transcripts]
        comments = [redact_comment(c, red, lid.detect(c.text, default="es")) for c in comments]
    upgrade(rt.settings.db_url)
    with rt.session() as s:
        if transcripts:
            return ingest_transcripts(s, source, transcripts, redacted=red is not None)
        return ingest_comments(s, source, comments, redacted=red is not None)

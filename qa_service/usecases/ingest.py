"""Storing transcripts and comments (redacted first when the deployment redacts PII)."""

from __future__ import annotations

from typing import Sequence

from qa_service.errors import Deadline, check_deadline

from qa_service.runtime import Runtime
from qa_service.schemas import Comment, Transcript
from qa_service.store.records import IngestReport, ingest_comments, ingest_transcripts


def ingest(rt: Runtime, source: str, transcripts: Sequence[Transcript] = (), comments: Sequence[Comment] = ()
           ) -> IngestReport:
    """Insert new records, update changed ones, leave identical ones; (source, id) identifies a record."""
    from qa_service.store import upgrade

    red = rt.redactor()
    transcripts, comments = redact_transcripts(rt, transcripts), redact_comments(rt, comments)
    upgrade(rt.settings.db_url)
    with rt.session() as s:
        if transcripts:
            return ingest_transcripts(s, source, transcripts, redacted=red is not None)
        return ingest_comments(s, source, comments, redacted=red is not None)


def redact_comments(rt: Runtime, comments: Sequence[Comment], deadline: Deadline | None = None,
                    every: int = 64) -> list[Comment]:
    """The comments with PII redacted in each one's detected language (as given when PII is kept)."""
    from qa_service.text.pii import redact_comment

    red = rt.redactor()
    if red is None:
        return list(comments)
    out = []
    for i, c in enumerate(comments):
        if i % every == 0:
            check_deadline(deadline, "redaction")
        out.append(redact_comment(c, red, rt.record_language(c.text)))
    return out


def redact_transcripts(rt: Runtime, transcripts: Sequence[Transcript], deadline: Deadline | None = None
                       ) -> list[Transcript]:
    """The transcripts with PII redacted, each in its own (or detected) language."""
    from qa_service.text.pii import redact_transcript

    red = rt.redactor()
    if red is None:
        return list(transcripts)
    out = []
    for t in transcripts:
        check_deadline(deadline, "redaction")
        lang = None if t.language else rt.record_language(" ".join(x.text for x in t.turns)[:2000])
        out.append(redact_transcript(t, red, lang))
    return out

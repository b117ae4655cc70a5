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
                    every: int = 1024, languages: Sequence[str] | None = None) -> list[Comment]:
    """The comments with PII redacted in each one's language (``languages``, else detected); as given when PII is
    kept. Each distinct text is redacted once, ``every`` texts to a batch (the deadline is checked between
    batches): the same result as redacting them one by one."""
    red = rt.redactor()
    if red is None:
        return list(comments)
    langs = list(languages) if languages is not None else [rt.record_language(c.text) for c in comments]
    keys = list(dict.fromkeys(zip((c.text for c in comments), langs)))
    redacted: dict[tuple[str, str], str] = {}
    for i in range(0, len(keys), every):
        check_deadline(deadline, "redaction")
        chunk = keys[i:i + every]
        for key, r in zip(chunk, red.redact_many([t for t, _ in chunk], [lang for _, lang in chunk])):
            redacted[key] = r.text
    return [c.model_copy(update={"text": redacted[(c.text, lang)]}) for c, lang in zip(comments, langs)]


def comment_languages(rt: Runtime, comments: Sequence[Comment]) -> list[str]:
    """Each comment's language (es, en or other), detected in one batch from its first 1,000 characters."""
    return list(rt.language_id().detect_many([c.text[:1000] for c in comments], default="es"))


def redact_names_across(rt: Runtime, originals: Sequence[Comment], redacted: Sequence[Comment]) -> list[Comment]:
    """``redacted`` with the person names that only the whole set reveals (a member of staff thanked in many
    comments: "gracias a Yuli", "Yuli en recepción...") replaced in every comment, in any case. The evidence is read
    from ``originals`` (the same comments before redaction). Nothing changes when PII is kept."""
    from qa_service.text.names import corpus_names, replace_words
    from qa_service.text.pii import TAGS

    if rt.redactor() is None or len(originals) < 2:
        return list(redacted)
    names = corpus_names([c.text for c in originals])
    if not names:
        return list(redacted)
    return [c.model_copy(update={"text": replace_words(c.text, names, TAGS["PERSON"])}) for c in redacted]


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

"""Comment readers (CSV / JSONL / TXT): text records plus ``created_at``, ``score``, ``channel``, ``agent_id``,
``team``. A comment whose date or score cannot be read is kept (its text is still useful for topics) with that
field empty, and counted in ``ReadStats.warnings`` so the caller can say how many.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator

from qa_service.errors import InvalidInputError
from qa_service.io.records import BadRecord, ReadStats, TextRecord, parse_time, read_text_records
from qa_service.schemas import Comment


def read_comments(source: str | Path, text_column: str = "text", id_column: str = "id",
                  time_column: str = "created_at", score_column: str = "score", fmt: str | None = None,
                  stats: ReadStats | None = None, warnings: Counter | None = None,
                  max_text_chars: int | None = None) -> Iterator[Comment | BadRecord]:
    """Yield comments (and bad records) from a file; ``warnings`` counts unreadable dates and scores; a text
    longer than ``max_text_chars`` is a bad record (its line and length)."""

    warnings = warnings if warnings is not None else Counter()
    for rec in read_text_records(source, text_column, id_column, fmt, stats):
        if isinstance(rec, BadRecord):
            yield rec
            continue
        assert isinstance(rec, TextRecord)
        if max_text_chars is not None and len(rec.text) > max_text_chars:
            yield BadRecord(rec.line, f"text is {len(rec.text)} characters long (limit {max_text_chars}, "
                                      "QA_MAX_TEXT_CHARS)")
            continue
        meta = dict(rec.metadata)
        created = meta.pop(time_column, None)
        score = meta.pop(score_column, None)
        fields = {k: meta.pop(k, None) for k in ("channel", "agent_id", "team")}
        when = None
        if created not in (None, ""):
            try:
                when = parse_time(created)
            except InvalidInputError:
                warnings[f"unreadable {time_column}"] += 1
        value = None
        if score not in (None, ""):
            try:
                value = float(str(score).replace(",", "."))
                if not 0 <= value <= 10:
                    raise ValueError
            except ValueError:
                warnings[f"{score_column} not a number from 0 to 10"] += 1
                value = None
        yield Comment(id=rec.id, text=rec.text, created_at=when, score=value,
                      **{k: (str(v) if v not in (None, "") else None) for k, v in fields.items()}, metadata=meta)

"""The feedback report managers read: topic share over time (with counts, confidence bands and thin periods greyed
out), what changed (significant rises and drops), what customers dislike and like, recurring complaints with
quotes and score drivers, with filters by period, channel and team. Every chart has a one-line "how to read this";
axis titles and category labels are laid out by Plotly's automargin, so they stay visible from a phone's width to
a desktop's (tests/reports checks both in headless Chromium).

One self-contained HTML page: the data (one compact row per comment: date, channel, team, score, topic,
complaint, negative) and Plotly's JavaScript are inlined, so it opens offline from a file or from the API. The
charts are computed in the browser from that data so that the filters recompute them; the CSV outputs
(``trends.csv``) come from :mod:`qa_service.pipelines.trends` with the same statistics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Sequence

from qa_service.pipelines.trends import Freq


@dataclass
class ReportRow:
    """What the report needs of one comment (or complaining turn)."""

    source: str
    topic: int
    created_at: datetime | None = None
    channel: str | None = None
    team: str | None = None
    score: float | None = None
    complaint: int | None = None
    negative: bool = False
    positive: bool = False


@dataclass
class ReportTopic:
    id: int
    name: str
    keywords: list[str]
    quotes: list[str] = field(default_factory=list)


@dataclass
class ReportComplaint:
    id: int
    label: str
    keywords: list[str]
    quotes: list[str] = field(default_factory=list)


REPORT_HEADERS = {
    # The page inlines its data, Plotly and its own script and style; it loads nothing from anywhere.
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                               "img-src data: blob:; font-src data:; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
"""HTTP headers a served report carries."""


def inline_json(value: object) -> str:
    """``value`` as JSON safe inside an HTML ``<script>`` block: ``<``, ``>`` and ``&`` are written as ``\\u003c``,
    ``\\u003e`` and ``\\u0026`` (JSON reads them back unchanged), so no text in the data (``</script>``,
    ``<!--<script>``) can end or reopen the block."""
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """Plotly's minified JavaScript, from the installed ``plotly`` package (no CDN)."""
    import plotly

    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text(encoding="utf-8")


def _template() -> str:
    return resources.files("qa_service.reports").joinpath("templates/feedback.html").read_text(encoding="utf-8")


def _index(values: list[str | None]) -> tuple[list[str], list[int | None]]:
    names = sorted({v for v in values if v})
    pos = {v: i for i, v in enumerate(names)}
    return names, [pos[v] if v else None for v in values]


def render_feedback_report(rows: Sequence[ReportRow], topics: Sequence[ReportTopic],
                           complaints: Sequence[ReportComplaint] = (), title: str = "Informe de comentarios",
                           freq: Freq = "week", notes: Sequence[str] = (), min_period_count: int = 30) -> str:
    """The report page as an HTML string (``min_period_count``: periods with fewer comments are greyed out and
    not compared)."""
    channels, ch_idx = _index([r.channel for r in rows])
    teams, tm_idx = _index([r.team for r in rows])
    dates = [r.created_at.date().isoformat() if r.created_at else None for r in rows]
    known = sorted(d for d in dates if d)
    span = f"{known[0]} – {known[-1]}" if known else "sin fechas"
    has_scores = any(r.score is not None for r in rows)
    payload = {
        "freq": freq, "min_count": int(min_period_count),
        "subtitle": f"{len({r.source for r in rows}):,} comentarios · {span} · generado "
                    f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M')} UTC",
        "notes": list(notes),
        "channels": channels, "teams": teams, "has_scores": has_scores,
        "topics": [{"id": t.id, "name": t.name, "keywords": t.keywords, "quotes": t.quotes[:3]} for t in topics],
        "complaints": [{"id": c.id, "label": c.label, "keywords": c.keywords, "quotes": c.quotes[:3]}
                       for c in complaints],
        "docs": {
            "source": [r.source for r in rows], "topic": [int(r.topic) for r in rows], "date": dates,
            "channel": ch_idx, "team": tm_idx, "score": [r.score for r in rows],
            "complaint": [None if r.complaint is None else int(r.complaint) for r in rows],
            "negative": [1 if r.negative else 0 for r in rows],
            "positive": [1 if r.positive else 0 for r in rows],
        },
    }
    data = inline_json(payload)
    import html
    import re

    parts = {"__TITLE__": html.escape(title), "__DATA__": data,
             "<script>__PLOTLY__</script>": "<script>" + plotly_js().replace("</script", "<\\/script") + "</script>"}
    # One pass, so nothing inserted (a comment, the library) is itself searched for markers.
    return re.sub("|".join(re.escape(k) for k in parts), lambda m: parts[m.group(0)], _template())

"""Topics over time: share of each topic per day / week / month with a confidence band, change against the
previous period with a significance test, and what is rising or falling.

Pure functions over (timestamp, topic) pairs, independent of how topics were assigned, so the same code
serves survey comments, transcripts and complaint clusters.

Honesty rules: every share comes with its count and the period's total, and a 95% Wilson interval; a period with
fewer than ``min_total`` items is *thin*: its shares are kept (and drawn greyed out) but it is never tested, and
the next period is compared with the last period that was not thin. Changes are reported both ways: significant
rises (``emerging`` also counts new topics) and significant drops (``falling``).

Statistics: for each topic and each tested period, a two-sided two-proportion z-test compares the topic's share in
the period with its share in the previous tested period (Fisher's exact test when an expected count is below 5).
P-values within a period are adjusted with Benjamini-Hochberg across topics
(:func:`scipy.stats.false_discovery_control`).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Hashable, Iterable, Literal

from qa_service.errors import InvalidInputError
from qa_service.io.records import parse_time

Freq = Literal["day", "week", "month"]


def period_start(ts: datetime, freq: Freq) -> date:
    """The first day of the period containing ``ts`` (weeks start on Monday, ISO)."""
    d = ts.date()
    if freq == "day":
        return d
    if freq == "week":
        return d - timedelta(days=d.weekday())
    if freq == "month":
        return d.replace(day=1)
    raise InvalidInputError(f"unknown period {freq!r}: use day, week or month", "freq")


def _next_period(p: date, freq: Freq) -> date:
    """The period after ``p`` (never called on the calendar's last period: callers stop at the last one)."""
    if freq == "day":
        return p + timedelta(days=1)
    if freq == "week":
        return p + timedelta(days=7)
    return (p.replace(day=28) + timedelta(days=4)).replace(day=1)


def period_span(first: date, last: date, freq: Freq) -> int:
    """How many periods from the one starting ``first`` to the one starting ``last``, both included (computed,
    not enumerated, so a span of millennia costs nothing)."""
    if freq == "month":
        return (last.year - first.year) * 12 + last.month - first.month + 1
    return (last - first).days // (1 if freq == "day" else 7) + 1


def check_trend_span(timestamps: Iterable[object], freq: Freq, max_periods: int, field: str = "created_at") -> None:
    """Raise :class:`InvalidInputError` (naming ``field``) when the dates span more than ``max_periods`` periods:
    the trend table has a row per topic for every period between the first and the last date."""
    starts = [period_start(parse_time(ts), freq) for ts in timestamps if ts is not None]
    if not starts:
        return
    _check_span(min(starts), max(starts), freq, max_periods, field)


def _check_span(first: date, last: date, freq: Freq, max_periods: int, field: str) -> int:
    n = period_span(first, last, freq)
    if n > max_periods:
        raise InvalidInputError(
            f"dates from {first.isoformat()} to {last.isoformat()} span {n} {freq}s; trends cover at most "
            f"{max_periods} (QA_MAX_TREND_PERIODS): check the dates or use a longer period", field)
    return n


def _norm_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value that k1/n1 and k2/n2 come from the same proportion."""
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = (k1 + k2) / (n1 + n2)
    expected = [n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled)]
    if min(expected) < 5:
        from scipy.stats import fisher_exact

        return float(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])[1])
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = abs(k1 / n1 - k2 / n2) / se
    return min(1.0, 2 * _norm_sf(z))


def benjamini_hochberg(pvalues: list[float]) -> list[float]:
    """BH-adjusted p-values (same order as given), by :func:`scipy.stats.false_discovery_control`."""
    if not pvalues:
        return []
    from scipy.stats import false_discovery_control

    return [float(p) for p in false_discovery_control(pvalues, method="bh")]


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of the proportion k/n (95% by default); (0, 1) when ``n`` is 0."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class TopicTrend:
    """One topic in one period.

    ``previous_*`` describe the period it is compared with: the last earlier period that was not thin (``None``
    when this period is thin or has nothing to compare with)."""

    topic: Hashable
    period: date
    count: int
    total: int
    share: float
    previous_share: float | None
    change: float | None
    p_value: float | None
    significant: bool
    emerging: bool
    new: bool
    ci_low: float = 0.0
    ci_high: float = 1.0
    thin: bool = False
    falling: bool = False
    previous_period: date | None = None
    previous_count: int | None = None
    previous_total: int | None = None


def topic_trends(items: Iterable[tuple[object, Hashable]], freq: Freq = "week", alpha: float = 0.05,
                 min_count: int = 5, ignore: Iterable[Hashable] = (), max_periods: int | None = None,
                 min_total: int = 30) -> list[TopicTrend]:
    """Shares per period, their confidence bands and their changes.

    Args:
        items: (timestamp, topic) pairs; timestamps as accepted by :func:`parse_time`.
        freq: day, week or month.
        alpha: significance level after Benjamini-Hochberg adjustment within each period.
        min_count: a topic must have at least this many items in a period to be flagged emerging.
        ignore: topics left out of the flags (e.g. -1, the outliers) but kept in the denominators.
        max_periods: most periods from the first date to the last (None: no limit); more raise
            :class:`InvalidInputError` on ``created_at`` before any row is built.
        min_total: a period with fewer items is thin: shown, never tested, skipped as a comparison.

    Returns:
        One :class:`TopicTrend` per topic and period, periods in order, including empty periods in between.
        A topic is *new* in the first period it appears after the first period; it is *emerging* when it is new
        with at least ``min_count`` items in a period that is not thin, or its share rose significantly; it is
        *falling* when its share dropped significantly.
    """
    counts: dict[date, Counter] = defaultdict(Counter)
    for ts, topic in items:
        counts[period_start(parse_time(ts), freq)][topic] += 1
    if not counts:
        return []
    p, last = min(counts), max(counts)
    if max_periods is not None:
        _check_span(p, last, freq, max_periods, "created_at")
    periods = [p]
    while p < last:  # stop at the last period: the one after 9999-12-27 does not exist
        p = _next_period(p, freq)
        periods.append(p)
    topics = sorted({t for c in counts.values() for t in c}, key=str)
    skip = set(ignore)
    seen: set = set()
    out: list[TopicTrend] = []
    prev: Counter | None = None  # the last period that was not thin
    prev_period: date | None = None
    for i, per in enumerate(periods):
        cur = counts.get(per, Counter())
        n = sum(cur.values())
        thin = n < min_total
        n_prev = sum(prev.values()) if prev is not None else 0
        rows, pvals = [], []
        for t in topics:
            k = cur.get(t, 0)
            share = k / n if n else 0.0
            if prev is not None and n_prev and n and not thin:
                k0 = prev.get(t, 0)
                prev_share = k0 / n_prev
                pv = two_proportion_p(k, n, k0, n_prev)
            else:
                k0, prev_share, pv = None, None, None
            rows.append((t, k, share, k0, prev_share, pv))
            if pv is not None and t not in skip:
                pvals.append(pv)
        adjusted = iter(benjamini_hochberg(pvals)) if pvals else iter(())
        for t, k, share, k0, prev_share, pv in rows:
            adj = next(adjusted) if pv is not None and t not in skip else None  # ignored topics: not tested
            is_new = i > 0 and k > 0 and t not in seen
            significant = adj is not None and adj < alpha and t not in skip
            grew = significant and prev_share is not None and share > prev_share
            fell = significant and prev_share is not None and share < prev_share
            emerging = t not in skip and k >= min_count and (grew or (is_new and not thin))
            lo, hi = wilson_interval(k, n)
            compared = prev_share is not None
            out.append(TopicTrend(topic=t, period=per, count=k, total=n, share=round(share, 4),
                                  previous_share=None if prev_share is None else round(prev_share, 4),
                                  change=None if prev_share is None else round(share - prev_share, 4),
                                  p_value=None if adj is None else round(adj, 6), significant=significant,
                                  emerging=emerging, new=is_new, ci_low=round(lo, 4), ci_high=round(hi, 4),
                                  thin=thin, falling=fell and t not in skip,
                                  previous_period=prev_period if compared else None,
                                  previous_count=k0 if compared else None,
                                  previous_total=n_prev if compared else None))
        seen |= {t for t, k, *_ in rows if k > 0}
        if not thin:
            prev, prev_period = cur, per
    return out


def significant_changes(trends: Iterable[TopicTrend], direction: Literal["up", "down"],
                        limit: int | None = None) -> list[TopicTrend]:
    """Significant rises (``up``) or drops (``down``), the most recent period first, the largest change first
    within a period."""
    rows = [t for t in trends if t.significant and t.change is not None and
            (t.change > 0 if direction == "up" else t.change < 0)]
    rows.sort(key=lambda t: (t.period, abs(t.change or 0.0)), reverse=True)
    return rows[:limit] if limit is not None else rows

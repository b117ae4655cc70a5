"""Score drivers: which topics or complaints lower CSAT / NPS most, with effect size, confidence interval and count.

For each topic, the mean score of comments in the topic is compared with the mean of all other comments
(Welch's t interval on the difference of means, from :func:`scipy.stats.ttest_ind`, plus Cohen's d). NPS scores
(0-10) can also be read as the share of detractors (0-6): ``metric="detractor_share"``.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from dataclasses import dataclass
from typing import Hashable, Iterable, Literal

import numpy as np

Metric = Literal["mean", "detractor_share"]


@dataclass
class ScoreDriver:
    """The effect of one topic on the score: ``effect`` < 0 means comments in the topic score lower."""

    topic: Hashable
    count: int
    mean_in: float
    mean_out: float
    effect: float
    ci_low: float
    ci_high: float
    cohens_d: float
    significant: bool


def score_drivers(items: Iterable[tuple[Hashable, float]], metric: Metric = "mean", confidence: float = 0.95,
                  min_count: int = 5, ignore: Iterable[Hashable] = ()) -> list[ScoreDriver]:
    """Effect of each topic on the score, most negative first.

    Args:
        items: (topic, score) per comment; comments without a score should be left out by the caller.
        metric: ``mean`` (CSAT 1-5, NPS 0-10 as is) or ``detractor_share`` (NPS: 1 if score <= 6 else 0; the
            effect is then the change in detractor share, and a positive effect is bad).
        confidence: level of the interval on the difference of means (Welch).
        min_count: topics with fewer comments are left out (their interval would be meaningless); a topic
            needs at least 2 comments whatever ``min_count`` says (a variance needs two).
        ignore: topics to leave out (e.g. -1, the outliers); their comments still count in "all others".
    """
    from scipy.stats import ttest_ind

    rows = [(topic, (1.0 if s <= 6 else 0.0) if metric == "detractor_share" else float(s)) for topic, s in items]
    by: dict[Hashable, list[float]] = defaultdict(list)
    for topic, s in rows:
        by[topic].append(s)
    skip = set(ignore)
    total = len(rows)
    out = []
    for topic, xs in by.items():
        if topic in skip or len(xs) < max(min_count, 2) or total - len(xs) < 2:
            continue
        inside = np.asarray(xs)
        others = np.asarray([s for tp, s in rows if tp != topic])
        m1, v1 = float(inside.mean()), float(inside.var(ddof=1))
        m2, v2 = float(others.mean()), float(others.var(ddof=1))
        n1, n2 = len(inside), len(others)
        diff = m1 - m2
        if v1 / n1 + v2 / n2 > 0:
            with warnings.catch_warnings():  # one group without spread: scipy warns, the interval is still right
                warnings.simplefilter("ignore", RuntimeWarning)
                ci = ttest_ind(inside, others, equal_var=False).confidence_interval(confidence_level=confidence)
            lo, hi = float(ci.low), float(ci.high)
        else:  # every score the same: no spread, the interval is the point (scipy would give nan)
            lo = hi = diff
        pooled = math.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2))
        d = diff / pooled if pooled > 0 else 0.0
        out.append(ScoreDriver(topic=topic, count=n1, mean_in=round(m1, 4), mean_out=round(m2, 4),
                               effect=round(diff, 4), ci_low=round(lo, 4), ci_high=round(hi, 4),
                               cohens_d=round(d, 3), significant=lo > 0 or hi < 0))
    worst_first = (lambda r: -r.effect) if metric == "detractor_share" else (lambda r: r.effect)
    return sorted(out, key=worst_first)

"""The share limit on outlier reduction (no data or model needed)."""

from __future__ import annotations

import numpy as np

from qa_service.pipelines.topics.model import _within_share


def test_outliers_join_the_closest_first_up_to_the_share():
    best = np.array([0, 0, 0, 1, 1, 0])
    score = np.array([0.9, 0.5, 0.7, 0.8, 0.6, 0.95])
    ok = np.array([True, True, True, True, False, True])
    # 20 comments, limit 50% = 10; topic 0 holds 8 of the 16 clustered (50%: its own share gives 10 too): room 2,
    # the two closest; topic 1 has room; an outlier below the threshold (ok False) never joins.
    sizes = np.array([8, 8])
    assert _within_share(best, score, ok, sizes, 0.5, 20).tolist() == [True, False, False, True, False, True]
    assert not _within_share(best, score, np.zeros(6, bool), sizes, 0.5, 20).any()


def test_a_dominant_topic_grows_in_proportion_not_past_it():
    """A topic the clustering made larger than the limit (80% of the clustered comments) may grow to 80% of all,
    not beyond; a small topic of the same fit is held at the limit."""
    best = np.array([0] * 6 + [1] * 6)
    score = np.linspace(1.0, 0.5, 12)
    ok = np.ones(12, dtype=bool)
    sizes = np.array([8, 2])  # 10 clustered of 20 comments
    allowed = _within_share(best, score, ok, sizes, 0.15, 20)
    assert allowed[:6].sum() == 6 and allowed[6:].sum() == 2  # limits: 16 (80% of 20) and max(3, 4) = 4


def test_a_fit_clustered_on_a_sample_keeps_its_proportions():
    """100,000 comments clustered on a 20,000 sample: the other 80,000 arrive as outliers; a theme with 40% of the
    sample takes its share of them instead of stopping at 15%."""
    rng = np.random.default_rng(0)
    sizes = np.array([8000, 6000, 6000])
    best = rng.choice(3, size=80_000, p=[0.4, 0.3, 0.3])
    score = rng.random(80_000)
    ok = np.ones(80_000, dtype=bool)
    allowed = _within_share(best, score, ok, sizes, 0.15, 100_000)
    joined = np.bincount(best[allowed], minlength=3) + sizes
    assert joined[0] == min(40_000, 8000 + (best == 0).sum())
    assert allowed.mean() > 0.99

"""Score drivers on constructed scores with known answers."""

from __future__ import annotations

import math

import pytest

from qa_service.pipelines.drivers import score_drivers


def test_driver_effect_ci_and_order():
    items = ([("billing", s) for s in [1, 2, 1, 2, 1, 2, 1, 2, 1, 2]]        # mean 1.5
             + [("delivery", s) for s in [4, 5, 4, 5, 4, 5, 4, 5, 4, 5]]     # mean 4.5
             + [("app", s) for s in [3, 4, 3, 4, 3, 4, 3, 4, 3, 4]])          # mean 3.5
    rows = score_drivers(items)
    assert [r.topic for r in rows] == ["billing", "app", "delivery"]  # most negative first
    b = rows[0]
    assert b.count == 10 and b.mean_in == 1.5 and b.mean_out == 4.0 and b.effect == -2.5
    # Welch: v_in = 0.2778, v_out = var of 20 values (mean 4) = 0.5263; se = sqrt(.02778 + .02632) = 0.2326
    se = math.sqrt((10 * 0.25 / 9) / 10 + (20 * 0.5 / 19) / 20)
    assert (b.effect - b.ci_low) == pytest.approx(2.06 * se, rel=0.05)
    assert b.significant and b.ci_high < 0 and b.cohens_d < -2
    assert not next(r for r in rows if r.topic == "app").significant


def test_nps_detractor_share_and_filters():
    items = ([("price", 2)] * 8 + [("price", 9)] * 2 + [("speed", 9)] * 9 + [("speed", 3)] + [(-1, 0)] * 5
             + [("rare", 0)] * 2)
    rows = score_drivers(items, metric="detractor_share", ignore=[-1])
    assert [r.topic for r in rows] == ["price", "speed"]  # outliers ignored, "rare" below min_count
    assert rows[0].mean_in == 0.8 and rows[0].effect > 0


def test_constant_scores_do_not_divide_by_zero():
    rows = score_drivers([("a", 5)] * 6 + [("b", 5)] * 6)
    assert all(r.effect == 0 and not r.significant for r in rows)


# (topic, count, mean_in, mean_out, effect, ci_low, ci_high, cohens_d, significant) from the hand-written Welch
# interval that scipy.stats.ttest_ind(..., equal_var=False).confidence_interval() replaced (commit 80dfc58).
OLD_CSAT = [("billing", 20, 1.65, 2.7167, -1.0667, -1.6315, -0.5019, -0.789, True),
            ("other", 15, 2.4667, 2.4462, 0.0205, -0.8205, 0.8615, 0.014, False),
            ("app", 20, 2.6, 2.4, 0.2, -0.5914, 0.9914, 0.14, False),
            ("price", 12, 2.8333, 2.3824, 0.451, -0.4863, 1.3883, 0.317, False),
            ("delivery", 13, 3.0769, 2.3284, 0.7486, -0.2319, 1.7291, 0.533, False)]
OLD_NPS = [("b", 18, 0.6667, 0.5538, 0.1128, -0.1086, 0.3342, 0.227, False),
           ("a", 23, 0.5217, 0.6, -0.0783, -0.2874, 0.1309, -0.157, False),
           ("c", 22, 0.4545, 0.623, -0.1684, -0.3801, 0.0433, -0.341, False)]
OLD_ONE_CONSTANT = [("b", 6, 4.5, 5.0, -0.5, -1.0748, 0.0748, -1.291, False),
                    ("a", 6, 5.0, 4.5, 0.5, -0.0748, 1.0748, 1.291, False)]


def _rows(drivers):
    return [tuple(vars(r).values()) for r in drivers]


def test_welch_interval_matches_the_hand_written_version():
    import random

    rng = random.Random(11)
    csat = [(t, rng.choice([1, 1, 2, 3]) if t == "billing" else rng.randint(1, 5))
            for t in ("billing", "delivery", "app", "price", "other") for _ in range(rng.randint(6, 30))]
    assert _rows(score_drivers(csat)) == OLD_CSAT
    rng = random.Random(12)
    nps = [(t, rng.randint(0, 10)) for t in ("a", "b", "c", -1) for _ in range(rng.randint(8, 25))]
    assert _rows(score_drivers(nps, metric="detractor_share", confidence=0.9, ignore=[-1])) == OLD_NPS
    # One group without spread: still a Welch interval (from the other group's variance).
    assert _rows(score_drivers([("a", 5)] * 6 + [("b", 5)] * 3 + [("b", 4)] * 3)) == OLD_ONE_CONSTANT

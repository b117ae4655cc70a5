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

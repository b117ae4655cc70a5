"""Time bucketing and trend statistics on constructed counts with known answers."""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest

from qa_service.errors import InvalidInputError
from qa_service.pipelines.trends import (benjamini_hochberg, check_trend_span, parse_time, period_span,
                                         period_start, topic_trends, two_proportion_p)


@pytest.mark.parametrize("ts,freq,expected", [
    ("2026-11-04T10:15:00Z", "day", date(2026, 11, 4)),
    ("2026-11-04", "week", date(2026, 11, 2)),           # Wednesday -> Monday
    ("2026-11-08T23:59:59", "week", date(2026, 11, 2)),  # Sunday stays in the same ISO week
    ("2026-11-09", "week", date(2026, 11, 9)),
    ("2026-12-31", "month", date(2026, 12, 1)),
    ("04/11/2026", "month", date(2026, 11, 1)),          # dd/mm/yyyy, common in Spanish exports
])
def test_period_start(ts, freq, expected):
    assert period_start(parse_time(ts), freq) == expected


def test_bad_dates_and_periods():
    with pytest.raises(InvalidInputError, match="not a date"):
        parse_time("next tuesday")
    with pytest.raises(InvalidInputError, match="unknown period"):
        period_start(datetime(2026, 1, 1), "year")  # type: ignore[arg-type]


def test_two_proportion_z_test_matches_the_formula():
    # 60/200 vs 30/200: pooled 0.225, se = sqrt(.225*.775*(2/200)) = 0.041758..., z = 0.15/se = 3.5921...
    z = 0.15 / math.sqrt(0.225 * 0.775 * 0.01)
    assert two_proportion_p(60, 200, 30, 200) == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)
    assert two_proportion_p(60, 200, 30, 200) < 0.001
    assert two_proportion_p(20, 100, 20, 100) == pytest.approx(1.0)


def test_small_counts_use_fisher_exact():
    from scipy.stats import fisher_exact

    assert two_proportion_p(3, 10, 0, 10) == pytest.approx(fisher_exact([[3, 7], [0, 10]])[1])


def test_benjamini_hochberg_known_values():
    # p = [0.01, 0.04, 0.03, 0.20], m = 4: sorted 0.01*4/1=0.04, 0.03*4/2=0.06, 0.04*4/3=0.0533 -> 0.0533 (monotone), 0.2
    adj = benjamini_hochberg([0.01, 0.04, 0.03, 0.20])
    assert adj == pytest.approx([0.04, 0.053333, 0.053333, 0.20], rel=1e-4)


def _items(period: str, counts: dict[str, int]):
    return [(period, topic) for topic, n in counts.items() for _ in range(n)]


def test_topic_trends_flags_growth_new_topics_and_fills_gaps():
    items = (_items("2026-11-02", {"billing": 30, "delivery": 60, "app": 10})
             + _items("2026-11-09", {"billing": 60, "delivery": 30, "app": 10})
             + _items("2026-11-23", {"billing": 30, "delivery": 30, "app": 10, "refund": 30, -1: 5}))
    rows = topic_trends(items, freq="week", ignore=[-1])
    by = {(r.topic, r.period): r for r in rows}
    w1, w2, w3, w4 = date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)
    assert {r.period for r in rows} == {w1, w2, w3, w4}  # the empty week is kept
    assert by[("billing", w1)].share == 0.3 and by[("billing", w1)].p_value is None
    b2 = by[("billing", w2)]
    assert b2.share == 0.6 and b2.change == pytest.approx(0.3) and b2.significant and b2.emerging
    d2 = by[("delivery", w2)]
    assert d2.significant and not d2.emerging  # significant, but falling
    assert not by[("app", w2)].significant
    assert by[("billing", w3)].total == 0 and by[("billing", w3)].p_value is None
    r4 = by[("refund", w4)]
    assert r4.new and r4.emerging and r4.count == 30
    out4 = by[(-1, w4)]
    assert out4.new and not out4.emerging and out4.p_value is None  # outliers never flagged
    assert by[("billing", w4)].total == 105  # outliers stay in the denominator


def test_new_but_tiny_topics_are_not_emerging():
    items = _items("2026-11-01", {"a": 50}) + _items("2026-12-01", {"a": 50, "b": 2})
    rows = {(r.topic, r.period): r for r in topic_trends(items, freq="month", min_count=5)}
    b = rows[("b", date(2026, 12, 1))]
    assert b.new and not b.emerging


def test_benjamini_hochberg_matches_the_hand_written_version():
    """scipy.stats.false_discovery_control replaced a hand-written BH: same numbers (recorded from the old code,
    commit 80dfc58), ties, a zero and a one included."""
    import random

    rng = random.Random(7)
    ps = [round(rng.random() ** 3, 6) for _ in range(12)] + [0.03, 0.03, 1.0, 0.0]
    old = [0.054336, 0.007846857143, 0.2941984, 0.001216, 0.175873142857, 0.071131636364, 0.00104,
           0.160812307692, 0.000424, 0.108728, 0.001216, 0.001989333333, 0.053333333333, 0.053333333333, 1.0, 0.0]
    assert benjamini_hochberg(ps) == pytest.approx(old, rel=1e-9, abs=1e-12)
    assert benjamini_hochberg([]) == []


@pytest.mark.parametrize("freq", ["day", "week", "month"])
def test_the_calendars_last_period_does_not_overflow(freq):
    items = [("9999-12-20", 1), ("9999-12-31T23:59:59", 1), ("9999-12-31", 2)]
    rows = topic_trends(items, freq=freq)
    assert max(r.period for r in rows) == period_start(datetime(9999, 12, 31), freq)
    rows = topic_trends([("0001-01-01", 1), ("0001-01-09", 1)], freq=freq)
    assert min(r.period for r in rows) == date(1, 1, 1)


@pytest.mark.parametrize("freq,n", [("day", 3652048), ("week", 521722), ("month", 119988)])
def test_a_span_of_millennia_is_refused_before_any_row_is_built(freq, n):
    items = [("0001-01-01", 1), ("9999-12-20", 2)]
    assert period_span(period_start(parse_time("0001-01-01"), freq),
                       period_start(parse_time("9999-12-20"), freq), freq) == n
    with pytest.raises(InvalidInputError, match="QA_MAX_TREND_PERIODS") as e:
        topic_trends(items, freq=freq, max_periods=1000)
    assert e.value.field == "created_at"
    with pytest.raises(InvalidInputError, match=f"span {n} {freq}s"):
        check_trend_span([t for t, _ in items], freq, 1000)
    check_trend_span(["2026-01-01", None, "2026-03-01"], freq, 1000)  # a few months: fine


def test_span_limit_counts_periods_inclusive():
    items = [("2026-01-05", 1), ("2026-01-12", 1), ("2026-01-19", 2)]  # three Mondays: three weeks
    assert len({r.period for r in topic_trends(items, freq="week", max_periods=3)}) == 3
    with pytest.raises(InvalidInputError):
        topic_trends(items, freq="week", max_periods=2)


def test_drops_are_flagged_and_listed_with_rises():
    items = (_items("2026-01-01", {"wifi": 60, "food": 20, "pool": 20})
             + _items("2026-02-01", {"wifi": 15, "food": 60, "pool": 25}))
    rows = topic_trends(items, freq="month")
    by = {(r.topic, r.period): r for r in rows}
    feb = date(2026, 2, 1)
    wifi, food = by[("wifi", feb)], by[("food", feb)]
    assert wifi.falling and wifi.significant and not wifi.emerging and wifi.change == pytest.approx(0.15 - 0.6)
    assert food.emerging and not food.falling
    assert (wifi.previous_period, wifi.previous_count, wifi.previous_total) == (date(2026, 1, 1), 60, 100)
    from qa_service.pipelines.trends import significant_changes

    assert [r.topic for r in significant_changes(rows, "down")] == ["wifi"]
    assert [r.topic for r in significant_changes(rows, "up")] == ["food"]


def test_thin_periods_are_not_tested_and_are_skipped_as_a_comparison():
    """4-14 comments a month made shares jump to 60% and tests compare noise: a period under ``min_total`` keeps
    its counts and share (drawn greyed out) but no p-value, and the next period is compared with the last full one."""
    items = (_items("2026-01-01", {"a": 40, "b": 60}) + _items("2026-02-01", {"a": 6, "b": 2})
             + _items("2026-03-01", {"a": 70, "b": 30}))
    rows = {(r.topic, r.period): r for r in topic_trends(items, freq="month", min_total=30)}
    feb, mar = rows[("a", date(2026, 2, 1))], rows[("a", date(2026, 3, 1))]
    assert feb.thin and feb.share == 0.75 and feb.count == 6 and feb.total == 8
    assert feb.p_value is None and not feb.significant and not feb.emerging
    assert 0.4 < feb.ci_low < 0.75 < feb.ci_high  # a wide band: 6 of 8
    assert mar.previous_period == date(2026, 1, 1) and mar.previous_share == 0.4 and mar.emerging
    full = topic_trends(items, freq="month", min_total=1)
    assert {(r.topic, r.period): r for r in full}[("a", date(2026, 2, 1))].p_value is not None


def test_wilson_interval_known_values():
    from qa_service.pipelines.trends import wilson_interval

    lo, hi = wilson_interval(5, 10)  # 0.5 +- : (0.2366, 0.7634)
    assert (lo, hi) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(0, 50)
    assert lo == 0.0 and 0.05 < hi < 0.08

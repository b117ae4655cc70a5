"""The latency summary the benchmarks share."""

from __future__ import annotations

from bench._host import latency, round_order


def test_latency_reports_the_asked_percentiles_in_ms():
    xs = [i / 1000 for i in range(1, 101)]  # 1..100 ms, in seconds
    out = latency(xs, n=True, mean=True, most=True)
    assert list(out) == ["n", "p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms"]
    assert out["n"] == 100 and out["p50_ms"] == 50.5 and out["p95_ms"] == 95.05 and out["p99_ms"] == 99.01
    assert out["mean_ms"] == 50.5 and out["max_ms"] == 100.0


def test_latency_in_given_units_and_digits_and_nothing_for_no_values():
    assert latency([1.04, 2.06, 3.0], scale=1.0, digits=1, pcts=(50,)) == {"p50_ms": 2.1}
    assert latency([]) == {}


def test_rounds_alternate_their_order():
    assert round_order(["a", "b", "c"], 0) == ["a", "b", "c"] and round_order(["a", "b", "c"], 1) == ["c", "b", "a"]

"""Small helpers the benchmarks share: the machine's load, the order of interleaved timing rounds, and latency
summaries."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def loadavg() -> str:
    """``/proc/loadavg`` as it reads, or ``unknown``: recorded before and after a run, since the CPU is shared."""
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unknown"


def round_order(names: list[str], r: int) -> list[str]:
    """The order to time ``names`` in round ``r``: as given in even rounds, reversed in odd ones, so a slow spell
    of a shared CPU falls on every candidate alike."""
    return list(names) if r % 2 == 0 else list(names)[::-1]


def latency(xs: Sequence[float], *, scale: float = 1000.0, digits: int = 2, pcts: Sequence[int] = (50, 95, 99),
            n: bool = False, mean: bool = False, most: bool = False) -> dict[str, float]:
    """Latencies ``xs`` (seconds, times ``scale``: milliseconds by default) summed up as ``p50_ms``, ``p95_ms``,
    ... for ``pcts``, and on request ``n`` (the count), ``mean_ms`` and ``max_ms``; ``{}`` for no values."""
    if len(xs) == 0:
        return {}
    a = np.asarray(xs, dtype=float) * scale
    out: dict[str, float] = {"n": len(a)} if n else {}
    out.update({f"p{q}_ms": round(float(np.percentile(a, q)), digits) for q in pcts})
    if mean:
        out["mean_ms"] = round(float(a.mean()), digits)
    if most:
        out["max_ms"] = round(float(a.max()), digits)
    return out

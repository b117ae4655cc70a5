"""Small helpers the benchmarks share: the machine's load, and the order of interleaved timing rounds."""

from __future__ import annotations

from pathlib import Path


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

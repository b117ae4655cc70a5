"""Tables out: the one CSV writer for every CSV the project produces (job results over HTTP, the command line's
``.csv`` outputs, the topic/complaint/trend tables).

Every cell is neutralised against formula injection (OWASP "CSV injection"): a text cell starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return is written with a leading ``'`` so a spreadsheet shows it as text
instead of running it (``=HYPERLINK(...)`` in a comment). Numbers stay numbers: numeric values, and text that is
a plain number (``-0.5``, ``+34``), are written unchanged.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Literal

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula."""
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell that no spreadsheet runs: text starting like a formula gets a leading ``'``;
    numbers, plain-number text and everything else are returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class CsvWriter:
    """A :class:`csv.DictWriter` whose every cell (header included) goes through :func:`safe_cell`."""

    def __init__(self, fh: IO[str], columns: list[str], extrasaction: Literal["raise", "ignore"] = "raise") -> None:
        self.columns = list(columns)
        self._w = csv.DictWriter(fh, fieldnames=self.columns, extrasaction=extrasaction)

    def writeheader(self) -> None:
        self._w.writer.writerow([safe_cell(c) for c in self.columns])

    def writerow(self, row: dict[str, Any]) -> None:
        self._w.writerow({k: safe_cell(v) for k, v in row.items()})

    def writerows(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.writerow(row)


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] | None = None) -> Path:
    """Write ``rows`` to ``path`` with a header (``columns``, else the first row's keys); returns the path."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = CsvWriter(fh, columns or (list(rows[0]) if rows else ["id"]))
        w.writeheader()
        w.writerows(rows)
    return path


def iter_csv(rows: Iterable[dict[str, Any]], columns: list[str], chunk_chars: int = 1 << 16) -> Iterator[str]:
    """The CSV text of ``rows`` (header first) in chunks of about ``chunk_chars``, for streaming responses."""
    buf = io.StringIO()
    w = CsvWriter(buf, columns)
    w.writeheader()
    for row in rows:
        w.writerow(row)
        if buf.tell() > chunk_chars:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()

"""Tables out: CSV files from rows (dicts), the one writer for every CSV the project produces."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] | None = None) -> Path:
    """Write ``rows`` to ``path`` with a header (``columns``, else the first row's keys); returns the path."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns or (list(rows[0]) if rows else ["id"]))
        w.writeheader()
        w.writerows(rows)
    return path

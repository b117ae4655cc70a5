"""The summary an analyst reads after a scoring run: one row per call (id, source file, total, auto-fail, the
criteria needing review), then per-criterion counts (pass / fail / N/A, needing review) and pass rates.

Built while results stream (a few fields per call are kept, never the evidence) and written as CSV or JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qa_service.errors import InvalidInputError
from qa_service.schemas import ScoreResult

SUMMARY_SUFFIXES = (".csv", ".json")
# One CSV for both tables: `row` says which (call rows first, then criterion rows); blank cells do not apply.
SUMMARY_CSV_COLUMNS = ["row", "id", "source", "total", "auto_fail", "needs_review", "section", "pass", "fail", "na",
                       "pass_rate"]


@dataclass
class CallRow:
    id: str
    source: str
    total: float | None
    auto_fail: bool
    needs_review: list[str]  # ids of the criteria flagged for review


@dataclass
class CriterionRow:
    id: str
    section: str
    passed: int = 0
    failed: int = 0
    na: int = 0
    needs_review: int = 0

    @property
    def pass_rate(self) -> float | None:
        """Passes over decided (pass + fail) results; N/A leaves the rate alone. None when nothing was decided."""
        decided = self.passed + self.failed
        return round(self.passed / decided, 4) if decided else None


@dataclass
class ScoreSummary:
    calls: list[CallRow] = field(default_factory=list)
    criteria: dict[str, CriterionRow] = field(default_factory=dict)

    def add(self, result: ScoreResult, source: str) -> None:
        self.calls.append(CallRow(result.id, source, result.total, result.auto_fail,
                                  [c.id for c in result.criteria if c.needs_review]))
        for c in result.criteria:
            row = self.criteria.setdefault(c.id, CriterionRow(c.id, c.section))
            if c.result == "pass":
                row.passed += 1
            elif c.result == "fail":
                row.failed += 1
            else:
                row.na += 1
            row.needs_review += c.needs_review

    @property
    def mean_total(self) -> float | None:
        totals = [c.total for c in self.calls if c.total is not None]
        return round(sum(totals) / len(totals), 2) if totals else None

    def to_dict(self) -> dict[str, Any]:
        return {"calls": [asdict(c) for c in self.calls],
                "criteria": [{"id": r.id, "section": r.section, "pass": r.passed, "fail": r.failed, "na": r.na,
                              "needs_review": r.needs_review, "pass_rate": r.pass_rate}
                             for r in self.criteria.values()],
                "totals": {"calls": len(self.calls), "mean_total": self.mean_total,
                           "auto_fails": sum(c.auto_fail for c in self.calls),
                           "calls_needing_review": sum(bool(c.needs_review) for c in self.calls)}}

    def write(self, path: str | Path) -> None:
        """Write to ``path``: ``.json`` (calls, criteria, totals) or ``.csv`` (call rows, then criterion rows)."""
        from qa_service.io.tables import CsvWriter

        check_summary_path(path)
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8", newline="") as fh:
                if path.suffix.lower() == ".json":
                    json.dump(self.to_dict(), fh, ensure_ascii=False, indent=2)
                    return
                w = CsvWriter(fh, SUMMARY_CSV_COLUMNS)
                w.writeheader()
                for c in self.calls:
                    w.writerow({"row": "call", "id": c.id, "source": c.source,
                                "total": "" if c.total is None else c.total, "auto_fail": "yes" if c.auto_fail else "no",
                                "needs_review": ";".join(c.needs_review)})
                for r in self.criteria.values():
                    w.writerow({"row": "criterion", "id": r.id, "section": r.section, "pass": r.passed,
                                "fail": r.failed, "na": r.na, "needs_review": r.needs_review,
                                "pass_rate": "" if r.pass_rate is None else r.pass_rate})
        except OSError as exc:
            raise InvalidInputError(f"cannot write {path}: {exc.strerror or exc}", "summary") from exc


def check_summary_path(path: str | Path) -> None:
    """A summary file must end in .csv or .json (checked before any scoring)."""
    if Path(path).suffix.lower() not in SUMMARY_SUFFIXES:
        raise InvalidInputError(f"summary file {path}: use a .csv or .json name", "summary")

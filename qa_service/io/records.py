"""Streaming readers and writers for text records (comments, messages) in CSV, JSONL and plain text.

Readers yield :class:`TextRecord` or :class:`BadRecord` one at a time, so a file of any size is read
in flat memory. Bytes that are not UTF-8 are decoded as Windows-1252/Latin-1 (the usual legacy
encoding of Spanish files) and counted, so the caller can warn; a line that decodes in neither is a
bad record with its line number.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import chain
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Literal

from qa_service.errors import InvalidInputError
from qa_service.io.tables import CsvWriter
from qa_service.text.normalize import is_blank, scrub

InputFormat = Literal["csv", "jsonl", "txt"]
FORMATS: tuple[str, ...] = ("csv", "jsonl", "txt")

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass
class TextRecord:
    """One input text with its id, source line and any extra columns (kept as metadata)."""

    id: str
    text: str
    line: int
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class BadRecord:
    """A record that could not be used, with where and why."""

    line: int
    reason: str


@dataclass
class ReadStats:
    """What a reader saw: rows read, rows skipped by reason, lines decoded as Latin-1."""

    read: int = 0
    skipped: Counter = field(default_factory=Counter)
    latin1_lines: int = 0

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


class LineDecoder:
    """Decode byte lines as UTF-8, falling back to cp1252/latin-1; counts fallbacks."""

    def __init__(self, stats: ReadStats) -> None:
        self.stats = stats
        self.first = True

    def __call__(self, raw: bytes) -> str | None:
        if self.first:
            self.first = False
            if raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        for enc in ("cp1252", "latin-1"):
            try:
                text = raw.decode(enc)
            except UnicodeDecodeError:
                continue
            # C0/C1 control characters (other than whitespace) mean this is not text in any 8-bit encoding.
            if any((ord(c) < 32 and c not in "\t\r\n") or 0x80 <= ord(c) <= 0x9F for c in text):
                return None
            self.stats.latin1_lines += 1
            return text
        return None


def detect_format(path: str | Path, declared: str | None = None, first_line: str | None = None) -> InputFormat:
    """The input format from ``declared``, else the file suffix, else (stdin) the first line."""
    if declared:
        if declared not in FORMATS:
            raise InvalidInputError(f"unknown input format {declared!r}: use one of {', '.join(FORMATS)}", "format")
        return declared  # type: ignore[return-value]
    if str(path) != "-":
        suffix = Path(path).suffix.lower().lstrip(".")
        if suffix in ("jsonl", "ndjson", "json"):
            return "jsonl"
        if suffix in ("csv", "tsv"):
            return "csv"
        if suffix in ("txt", "text", ""):
            return "txt"
        raise InvalidInputError(f"cannot tell the format of {path}: use a .csv, .jsonl or .txt file or --format",
                                "input")
    if first_line is not None and first_line.lstrip().startswith("{"):
        return "jsonl"
    return "txt"


def read_text_records(source: str | Path, text_column: str = "text", id_column: str = "id",
                      fmt: str | None = None, stats: ReadStats | None = None,
                      stream: IO[bytes] | None = None) -> Iterator[TextRecord | BadRecord]:
    """Yield records from ``source`` (a path, or ``-`` for ``stream``/stdin).

    CSV needs a header with ``text_column``; ``id_column`` is optional (row number otherwise).
    JSONL lines are objects with ``text_column``; plain text is one record per line.
    """
    stats = stats if stats is not None else ReadStats()
    if str(source) == "-":
        fh = stream if stream is not None else sys.stdin.buffer
        close = False
    else:
        p = Path(source)
        if not p.exists():
            raise InvalidInputError(f"input file not found: {p}", "input")
        if p.is_dir():
            raise InvalidInputError(f"input is a directory, not a file: {p}", "input")
        fh = p.open("rb")
        close = True
    try:
        lines: Iterator[bytes] = iter(fh)
        first: bytes | None = None
        if fmt is None and str(source) == "-":
            for first in lines:
                if first.strip():
                    break
        peek = first.decode("utf-8", "replace") if first is not None else None
        kind = detect_format(source, fmt, peek)
        if first is not None:
            lines = chain([first], lines)
        decode = LineDecoder(stats)
        reader = {"csv": _read_csv, "jsonl": _read_jsonl, "txt": _read_txt}[kind]
        for rec in reader(lines, decode, text_column, id_column):
            if isinstance(rec, BadRecord):
                stats.skipped[rec.reason.split(":")[0]] += 1
            else:
                stats.read += 1
            yield rec
    finally:
        if close:
            fh.close()


def _check_text(text: Any, line: int, field_name: str) -> BadRecord | None:
    if text is None:
        return BadRecord(line, f"missing field: no '{field_name}'")
    if not isinstance(text, str):
        return BadRecord(line, f"invalid field: '{field_name}' is not a string")
    if is_blank(text):
        return BadRecord(line, "empty text")
    return None


def _read_txt(lines: Iterable[bytes], decode: LineDecoder, text_column: str, id_column: str
              ) -> Iterator[TextRecord | BadRecord]:
    n = 0
    for n, raw in enumerate(lines, start=1):
        text = decode(raw)
        if text is None:
            yield BadRecord(n, "undecodable bytes: not UTF-8 nor Latin-1 text")
            continue
        text = text.rstrip("\r\n")
        bad = _check_text(text, n, text_column)
        yield bad if bad else TextRecord(str(n), text, n)


def _read_jsonl(lines: Iterable[bytes], decode: LineDecoder, text_column: str, id_column: str
                ) -> Iterator[TextRecord | BadRecord]:
    for n, raw in enumerate(lines, start=1):
        text = decode(raw)
        if text is None:
            yield BadRecord(n, "undecodable bytes: not UTF-8 nor Latin-1 text")
            continue
        if not text.strip():
            continue  # blank separator lines in JSONL carry no record
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield BadRecord(n, f"broken JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(obj, dict):
            yield BadRecord(n, "broken JSON: line is not an object")
            continue
        bad = _check_text(obj.get(text_column), n, text_column)
        if bad:
            yield bad
            continue
        rid = obj.get(id_column)
        meta = {k: v for k, v in obj.items() if k not in (text_column, id_column)}
        # JSON escapes may carry lone surrogates, which no UTF-8 output can hold.
        yield TextRecord(scrub(str(rid)) if rid not in (None, "") else str(n), scrub(obj[text_column]), n, meta)


def _read_csv(lines: Iterable[bytes], decode: LineDecoder, text_column: str, id_column: str
              ) -> Iterator[TextRecord | BadRecord]:
    bad_lines: list[BadRecord] = []
    counter = {"line": 0}

    def text_lines() -> Iterator[str]:
        for raw in lines:
            counter["line"] += 1
            t = decode(raw)
            if t is None:
                bad_lines.append(BadRecord(counter["line"], "undecodable bytes: not UTF-8 nor Latin-1 text"))
                continue
            yield t

    gen = text_lines()
    try:
        header_line = next(gen)
    except StopIteration:
        return
    dialect = "excel-tab" if header_line.count("\t") > header_line.count(",") else "excel"
    reader = csv.reader(chain([header_line], gen), dialect=dialect)
    header = [h.strip() for h in next(reader)]
    if text_column not in header:
        raise InvalidInputError(
            f"CSV has no '{text_column}' column (columns: {', '.join(header)}); use --text-column", "text_column")
    i_text = header.index(text_column)
    i_id = header.index(id_column) if id_column in header else None
    row_no = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield BadRecord(counter["line"], f"broken CSV: {exc}")
            continue
        while bad_lines:
            yield bad_lines.pop(0)
        if not row or all(not c.strip() for c in row):
            continue
        row_no += 1
        line = counter["line"]
        if len(row) != len(header):
            yield BadRecord(line, f"broken CSV: {len(row)} fields, header has {len(header)}")
            continue
        bad = _check_text(row[i_text], line, text_column)
        if bad:
            yield bad
            continue
        rid = row[i_id].strip() if i_id is not None else ""
        meta = {h: v for j, (h, v) in enumerate(zip(header, row)) if j not in (i_text, i_id)}
        yield TextRecord(rid or str(row_no), row[i_text], line, meta)
    while bad_lines:
        yield bad_lines.pop(0)


class RecordWriter:
    """Writes result dicts as JSONL (default) or CSV (``.csv`` suffix, through the one CSV writer,
    :class:`~qa_service.io.tables.CsvWriter`, which neutralises formula cells) to a path or stdout, streaming."""

    def __init__(self, out: str | Path | None, csv_columns: list[str] | None = None) -> None:
        self.is_csv = out not in (None, "-") and Path(str(out)).suffix.lower() == ".csv"
        if out in (None, "-"):
            self._fh: IO[str] = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="",
                                                 line_buffering=False, write_through=True)
            self._close = False
        else:
            try:
                Path(str(out)).parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(out, "w", encoding="utf-8", newline="")
            except OSError as exc:
                raise InvalidInputError(f"cannot write {out}: {exc.strerror or exc}", "output") from exc
            self._close = True
        self._csv = None
        self._columns = csv_columns

    def write(self, row: dict[str, Any]) -> None:
        if self.is_csv:
            flat = _flatten(row)
            if self._csv is None:
                self._csv = CsvWriter(self._fh, self._columns or list(flat), extrasaction="ignore")
                self._csv.writeheader()
            self._csv.writerow(flat)
        else:
            self._fh.write(json.dumps(row, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self._fh.flush()
        if self._close:
            self._fh.close()
        else:
            self._fh.detach()

    def __enter__(self) -> "RecordWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "_"))
        else:
            out[key] = v
    return out


def parse_time(value: object) -> datetime:
    """An ISO date or datetime (``2026-11-02``, ``2026-11-02T10:15:00Z``) or a datetime/date object."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"not a date: {value!r}", "created_at")
    v = value.strip().replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(v)
    except ValueError:
        pass
    for fmt in ("%d/%m/%Y", "%Y/%m/%d", "%d-%m-%Y", "%Y/%m/%d %H:%M:%S", "%d/%m/%Y %H:%M"):
        try:
            return datetime.strptime(v, fmt)
        except ValueError:
            continue
    raise InvalidInputError(f"not a date: {value!r} (use ISO 8601, e.g. 2026-11-02 or 2026-11-02T10:15:00Z)",
                            "created_at")

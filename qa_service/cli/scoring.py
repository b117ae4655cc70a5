"""``qa-service score``: transcripts from files, glob patterns and directories, scored against a rubric; one
result line per transcript (with its source file) and the analyst's summary."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Iterator, Optional

import typer

from qa_service.cli._common import handle_errors, note_skipped, progress_bar, runtime, warn_latin1
from qa_service.errors import InvalidInputError

# The terminal table lists at most this many calls; --summary FILE holds them all.
MAX_TABLE_CALLS = 100


@handle_errors
def score(
    inputs: Annotated[list[str], typer.Argument(metavar="INPUT", help="Transcript files (.json, .jsonl, .txt, .vtt, .srt, .csv with one row per turn), glob patterns ('calls/*.txt', expanded here too) or directories (their transcript files, sorted).")],
    rubric: Annotated[str, typer.Option(help="Rubric name (default-es, default-en) or a YAML path.")] = "default-es",
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="Results: .jsonl (stdout if omitted) or .csv, one line per transcript with its source file.")] = None,
    summary: Annotated[Optional[str], typer.Option(help="Also write the summary (one row per call, then per-criterion pass rates) to a .csv or .json file.")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="Transcript format when the suffix does not say.")] = None,
    speaker: Annotated[Optional[list[str]], typer.Option(help="Map a speaker label to a role: 'Laura=agent', 'Pedro=customer', 'Supervisor=system' (repeatable). An unmapped label is an error, never a guess.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Transcripts per model call.")] = 16,
) -> None:
    """Score each transcript against a rubric: per-criterion result, evidence, confidence, N/A and auto-fail.

    Summary on stderr: one row per call (id, source, total, auto-fail, criteria needing review), then per-criterion pass / fail / N/A and needs-review counts; every skipped file or record is reported with its reason.
    """
    from qa_service.io.records import ReadStats, RecordWriter
    from qa_service.io.rubrics import rubric_ref
    from qa_service.io.transcripts import SpeakerMap, expand_inputs, parse_speaker_map
    from qa_service.usecases.score_summary import ScoreSummary, check_summary_path
    from qa_service.usecases.scoring import score_batches

    speakers = SpeakerMap(parse_speaker_map(speaker or []))
    if summary:
        check_summary_path(summary)
    found = expand_inputs(inputs, exclude=[output, summary])
    rt = runtime()
    ref = rubric_ref(rubric, rt.settings.rubrics_dir)  # a shipped rubric's name, else a YAML path
    rt.scorer(rt.rubric(ref))  # a bad rubric or model stops here, before the input is read
    skips = _Skips()
    for source, reason in found.problems:
        skips.file(source, reason)
    for d, n in found.ignored.items():
        typer.echo(f"note: {d}: {n} file(s) that are not transcripts left aside", err=True)
    stats = ReadStats()
    result = ScoreSummary()
    current: list[tuple[str, object]] = []

    def transcript_batches() -> Iterator[list]:
        for pairs in _batches(_records(found.files, fmt, speakers, stats, skips), batch_size):
            current[:] = pairs  # score_batches scores one batch per step: the sources of the batch it yields
            yield [t for _, t in pairs]

    with RecordWriter(output) as writer, progress_bar("score", " transcripts") as bar:
        for out in score_batches(rt, ref, transcript_batches()):
            for (source, _), r in zip(current, out):
                row = r.model_dump(mode="json")
                writer.write({"id": row.pop("id"), "source": source, **row})
                result.add(r, source)
            bar.update(len(out))
    warn_latin1(stats)
    scored_files = len({c.source for c in result.calls})
    typer.echo(f"scored {len(result.calls)} transcript(s) from {scored_files} file(s); {skips.line()}", err=True)
    note_skipped(skips.total)
    if not result.calls:
        raise InvalidInputError(f"no transcript scored ({skips.line()})", "input")
    _print_summary(result)
    if summary:
        result.write(summary)
        typer.echo(f"summary written to {summary}", err=True)


class _Skips:
    """Skipped files and records: one stderr line each as they happen, counted by reason."""

    def __init__(self) -> None:
        self.reasons: Counter = Counter()
        self.files: set[str] = set()

    @property
    def total(self) -> int:
        return sum(self.reasons.values())

    def file(self, source: str, reason: str) -> None:
        typer.echo(f"skipped {source}: {reason}", err=True)
        self.reasons[reason.split(":")[0]] += 1
        self.files.add(source)

    def record(self, source: str, line: int, reason: str) -> None:
        typer.echo(f"skipped {source} line {line}: {reason}", err=True)
        self.reasons[reason.split(":")[0]] += 1
        self.files.add(source)

    def line(self) -> str:
        if not self.total:
            return "0 skipped"
        why = ", ".join(f"{n} {r}" for r, n in self.reasons.most_common())
        return f"{self.total} skipped ({why}) in {len(self.files)} file(s)"


def _records(files, fmt, speakers, stats, skips: _Skips) -> Iterator[tuple[str, object]]:
    """(source, transcript) of every file in turn; bad records and unreadable files reported and skipped."""
    from qa_service.io.records import BadRecord
    from qa_service.io.transcripts import read_transcripts

    for path in files:
        source = str(path)
        try:
            for rec in read_transcripts(path, fmt, speakers, stats):
                if isinstance(rec, BadRecord):
                    skips.record(source, rec.line, rec.reason)
                else:
                    yield source, rec
        except InvalidInputError as exc:  # an unknown format, a CSV without its columns...
            skips.file(source, str(exc))
        except OSError as exc:
            skips.file(source, f"cannot read: {exc.strerror or exc}")


def _batches(items: Iterator, size: int) -> Iterator[list]:
    buf: list = []
    for item in items:
        buf.append(item)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def _print_summary(s) -> None:
    """The summary on stderr: calls (at most MAX_TABLE_CALLS rows), then criteria, then totals."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    calls = Table(title=f"{len(s.calls)} call(s) scored")
    for col, just in (("id", "left"), ("source", "left"), ("total", "right"), ("auto-fail", "left"),
                      ("needs review", "left")):
        calls.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]  # ids and paths uncut
    for c in s.calls[:MAX_TABLE_CALLS]:
        calls.add_row(c.id, c.source, "-" if c.total is None else f"{c.total:.1f}", "yes" if c.auto_fail else "no",
                      ", ".join(c.needs_review) or "-")
    console.print(calls)
    if len(s.calls) > MAX_TABLE_CALLS:
        console.print(f"... and {len(s.calls) - MAX_TABLE_CALLS} more call(s): write them all with --summary FILE")
    crit = Table(title="per criterion")
    crit.add_column("criterion")
    crit.add_column("pass rate", justify="right")
    crit.add_column("pass / fail / N/A", justify="right")
    crit.add_column("needs review", justify="right")
    for r in s.criteria.values():
        crit.add_row(r.id, "-" if r.pass_rate is None else f"{100 * r.pass_rate:.0f}%",
                     f"{r.passed} / {r.failed} / {r.na}", str(r.needs_review))
    console.print(crit)
    t = s.to_dict()["totals"]
    console.print("mean total -" if t["mean_total"] is None else f"mean total {t['mean_total']:.1f}",
                  f"| auto-fails {t['auto_fails']}", f"| calls needing review {t['calls_needing_review']}")


"""What every command shares: domain errors -> one line and an exit code, the runtime, input checks, progress
bars on stderr, and reading whole files of comments or transcripts with skipped rows reported."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import typer

from qa_service.errors import InvalidInputError, ModelLoadError, QAServiceError

F = TypeVar("F", bound=Callable[..., Any])

# Exit codes, the same for every command (README "Command line"; `qa-service --help`).
EXIT_UNEXPECTED, EXIT_BAD_INPUT, EXIT_PARTIAL, EXIT_MODEL, EXIT_INTERRUPTED = 1, 2, 3, 4, 130
EXIT_CODES_HELP = ("Exit codes: 0 every record processed; 1 unexpected error; 2 bad input or usage, or no record "
                   "usable; 3 partial: some records or files skipped (each reported on stderr with its reason), "
                   "the rest processed; 4 a model could not be loaded; 130 interrupted.")

# Records the running command skipped (commands that read records add to it; reset for every command).
_skipped = [0]


def note_skipped(n: int) -> None:
    """Count skipped records: a command that returns normally after skipping any exits 3 (partial)."""
    _skipped[0] += n

# Comment columns, shared by `topics` and `complaints`.
TextColumn = typer.Option(help="Comments: column holding the text.")
IdColumn = typer.Option(help="Comments: column holding the id (row number if absent).")
TimeColumn = typer.Option(help="Comments: column holding the date (ISO 8601).")
ScoreColumn = typer.Option(help="Comments: column holding CSAT (1-5) or NPS (0-10).")
Period = typer.Option("--period", help="Trend period: day, week or month.")


def fail(code: int, message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Run a command turning domain errors into one-line messages and exit codes (never a traceback):
    2 bad input, 4 a model could not be loaded, 1 anything else, 130 interrupted; a command that returns
    normally exits 3 when it skipped records (:func:`note_skipped`), else 0."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _skipped[0] = 0
        try:
            out = fn(*args, **kwargs)
        except InvalidInputError as exc:
            fail(EXIT_BAD_INPUT, str(exc))
        except ModelLoadError as exc:
            fail(EXIT_MODEL, str(exc))
        except QAServiceError as exc:
            fail(EXIT_UNEXPECTED, str(exc))
        except KeyboardInterrupt:
            fail(EXIT_INTERRUPTED, "interrupted")
        except BrokenPipeError:
            sys.stderr.close()
            raise typer.Exit(0)
        except (typer.Exit, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - one line, never a traceback, unless debugging
            if runtime().settings.debug:
                raise
            fail(EXIT_UNEXPECTED, f"unexpected {type(exc).__name__}: {exc} (set QA_DEBUG=1 for a traceback)")
        if _skipped[0]:
            raise typer.Exit(EXIT_PARTIAL)
        return out

    return wrapper  # type: ignore[return-value]


def runtime():
    """The process's runtime (models, storage) for the process settings."""
    from qa_service.runtime import get_runtime

    return get_runtime()


def check_input(path: str, allow_stdin: bool = True) -> None:
    if (path != "-" or not allow_stdin) and not Path(path).exists():
        raise InvalidInputError(f"input file not found: {path}", "input")


def progress_bar(desc: str, unit: str):
    """A tqdm bar on stderr (silent when stderr is not a terminal)."""
    from tqdm import tqdm

    return tqdm(desc=desc, unit=unit, file=sys.stderr, disable=None, mininterval=0.5)


def stage_progress() -> Callable[[str, int, int], None]:
    """A callback showing each stage's progress on stderr (tqdm; silent when stderr is not a terminal)."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(desc=stage, total=total, file=sys.stderr, disable=None, unit=" items",
                                     mininterval=0.5, leave=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


def report_skip(where: str) -> Callable[[Any], None]:
    """``on_bad`` callback: one stderr line per skipped record, with its line and reason."""
    return lambda rec: typer.echo(f"skipped {where} {rec.line}: {rec.reason}", err=True)


def skipped_summary(stats) -> str:
    reasons = ", ".join(f"{n} {r}" for r, n in stats.skipped.most_common())
    return f"{stats.skipped_total} skipped" + (f" ({reasons})" if reasons else "")


def no_records_is_an_error(done: int, stats, input: str) -> None:
    """After a command's records are read: none usable is bad input (exit 2); some skipped is partial (3)."""
    note_skipped(stats.skipped_total)
    if done == 0:
        raise InvalidInputError(f"no usable record in {input} ({skipped_summary(stats)})", "input")


def warn_latin1(stats) -> None:
    if stats.latin1_lines:
        typer.echo(f"warning: {stats.latin1_lines} line(s) were not UTF-8 and were read as Windows-1252/Latin-1",
                   err=True)


def read_comment_file(input: str, text_column: str, id_column: str, time_column: str, score_column: str,
                      fmt: Optional[str]) -> list:
    """Every usable comment of a file (skipped rows reported on stderr); an error when none is usable."""
    from collections import Counter

    from qa_service.io.comments import read_comments
    from qa_service.io.records import BadRecord, ReadStats

    check_input(input)
    stats, warnings, comments = ReadStats(), Counter(), []
    for rec in read_comments(input, text_column, id_column, time_column, score_column, fmt, stats, warnings):
        if isinstance(rec, BadRecord):
            typer.echo(f"skipped line {rec.line}: {rec.reason}", err=True)
        else:
            comments.append(rec)
    warn_latin1(stats)
    for reason, n in warnings.most_common():
        typer.echo(f"warning: {n} comment(s) kept with {reason} (left out of trends / drivers)", err=True)
    typer.echo(f"read {len(comments)} comment(s), {skipped_summary(stats)}", err=True)
    note_skipped(stats.skipped_total)
    if not comments:
        raise InvalidInputError(f"no usable comments in {input} (text column {text_column!r})", "input")
    return comments


def read_transcript_file(input: str, speaker: list[str]) -> list:
    """Every usable transcript of a file (skipped records reported on stderr); an error when none is usable."""
    from qa_service.io.records import BadRecord, ReadStats
    from qa_service.io.transcripts import SpeakerMap, parse_speaker_map, read_transcripts

    stats = ReadStats()
    out = []
    for rec in read_transcripts(input, None, SpeakerMap(parse_speaker_map(speaker)), stats):
        if isinstance(rec, BadRecord):
            typer.echo(f"skipped record at line {rec.line}: {rec.reason}", err=True)
        else:
            out.append(rec)
    typer.echo(f"read {len(out)} transcript(s), {skipped_summary(stats)}", err=True)
    note_skipped(stats.skipped_total)
    if not out:
        raise InvalidInputError(f"no usable transcripts in {input}", "input")
    return out


def min_size(value: str, option: str = "--min-topic-size"):
    if value == "auto":
        return "auto"
    if value.isdigit() and int(value) >= 2:
        return int(value)
    raise InvalidInputError(f"{option} {value!r}: use 'auto' or an integer >= 2", option.lstrip("-").replace("-", "_"))

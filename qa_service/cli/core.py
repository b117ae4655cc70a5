"""``qa-service sentiment``, ``serve`` and ``version`` (``score`` is in :mod:`qa_service.cli.scoring`)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from qa_service.cli._common import (check_input, handle_errors, no_records_is_an_error, progress_bar, report_skip,
                                    runtime, skipped_summary, warn_latin1)

APP_FACTORY = "qa_service.api.app:create_app"
SENTIMENT_COLUMNS = ["id", "label", "score", "probabilities_negative", "probabilities_neutral",
                     "probabilities_positive", "language", "model_version"]


@handle_errors
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
    from qa_service.io.records import ReadStats, RecordWriter, read_text_records
    from qa_service.usecases.sentiment import batched, label_batches

    check_input(input)
    rt = runtime()
    rt.sentiment(model)  # a broken bundle stops here, before the input is read
    stats = ReadStats()
    records = read_text_records(input, text_column, id_column, fmt, stats)
    written = 0
    with RecordWriter(output, csv_columns=SENTIMENT_COLUMNS) as writer, progress_bar("sentiment", " rows") as bar:
        for results in label_batches(rt, batched(records, batch_size, report_skip("line")), model):
            for res in results:
                writer.write(res.model_dump())
            written += len(results)
            bar.update(len(results))
    warn_latin1(stats)
    typer.echo(f"done: {written} row(s) labelled, {skipped_summary(stats)}", err=True)
    no_records_is_an_error(written, stats, input)


@handle_errors
def serve(
    host: Annotated[Optional[str], typer.Option(help="Bind address (default 127.0.0.1, QA_HOST).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default 8000, QA_PORT).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (each loads the models).")] = 1,
) -> None:
    """Run the HTTP API (docs at /docs)."""
    import uvicorn

    rt = runtime()
    s = rt.settings
    kw = dict(host=host or s.host, port=port or s.port, log_level=s.log_level, access_log=s.debug)
    if workers == 1:
        from qa_service.usecases.admin import prepare_database

        prepare_database(rt)  # a database behind the code stops here with one line
        if s.auth_disabled:
            typer.echo("warning: QA_AUTH_DISABLED is set: anyone who can reach the port can use the API", err=True)
        typer.echo("loading models...", err=True)
        rt.sentiment()  # a broken bundle stops here with one line naming the file
    # The app factory builds its app on this process's runtime (same settings -> the same runtime), so the
    # models loaded above are the ones it serves; several workers each build their own.
    uvicorn.run(APP_FACTORY, factory=True, workers=workers, **kw)


def version() -> None:
    """Print the package version."""
    from qa_service import __version__

    typer.echo(__version__)

"""``qa-service topics ...`` and ``qa-service complaints``: feedback analysis from the command line.

``qa-service topics INPUT --out DIR`` is short for ``qa-service topics fit INPUT --out DIR``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from qa_service.cli._common import (IdColumn, Period, ScoreColumn, TextColumn, TimeColumn, check_input, handle_errors,
                                    min_size, no_records_is_an_error, progress_bar, read_comment_file,
                                    read_transcript_file, report_skip, runtime, skipped_summary, stage_progress)
from qa_service.errors import InvalidInputError


class FitByDefault(TyperGroup):
    """A group whose first argument, when it is not a subcommand, is the INPUT of ``fit``."""

    def parse_args(self, ctx, args):  # type: ignore[override]
        if args and args[0] not in self.commands and not args[0].startswith("-") or args[:1] == ["-"]:
            args = ["fit", *args]
        return super().parse_args(ctx, args)


topics_app = typer.Typer(cls=FitByDefault, no_args_is_help=True,
                         help="Find topics in comments (INPUT --out DIR), tag with a saved model, merge, relabel.")

Out = Annotated[Path, typer.Option("--out", help="Output directory.")]


def _parse_merge(groups: list[str]) -> list[list[int]]:
    out = []
    for g in groups:
        try:
            ids = [int(x) for x in g.replace("+", ",").split(",") if x.strip()]
        except ValueError:
            raise InvalidInputError(f"--merge {g!r}: give topic ids separated by commas, e.g. 3,5", "merge") from None
        if len(ids) < 2:
            raise InvalidInputError(f"--merge {g!r}: needs two or more topic ids", "merge")
        out.append(ids)
    return out


def _words(items: list[str], width: int) -> str:
    """Items joined with "; " up to ``width`` characters, never cutting one (a "…" says more were left out)."""
    out = ""
    for w in items:
        nxt = f"{out}; {w}" if out else w
        if len(nxt) > width:
            return (out + " …") if out else w[:width]
        out = nxt
    return out


def _parse_topics(value: str | None):
    """--topics: 'auto' (8-25 for a few thousand comments), 'all' (as clustered, no merging) or a number >= 1."""
    if value is None or value == "auto":
        return "auto"
    if value == "all":
        return None
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise InvalidInputError(f"--topics {value!r}: use 'auto', 'all' or a number >= 1", "topics")


def _topics_table(fit, out: Path, show: int = 25) -> None:
    from rich.console import Console
    from rich.table import Table

    analysis = fit.analysis
    console = Console(stderr=True)
    rows = [r for r in analysis.topic_rows() if r["topic"] != -1]
    outliers = next(r for r in analysis.topic_rows() if r["topic"] == -1)
    shown = rows[:show]
    title = f"{len(rows)} topic(s) in {len(analysis.comments)} comment(s)"
    if len(shown) < len(rows):
        title += f" (the {len(shown)} largest shown; all in topics.csv)"
    table = Table(title=title)
    for col, just in (("topic", "right"), ("label", "left"), ("size", "right"), ("share", "right"),
                      ("neg", "right"), ("keywords", "left")):
        table.add_column(col, justify=just, overflow="fold")
    for r in shown:
        table.add_row(str(r["topic"]), r["label"], str(r["size"]), f"{100 * r['share']:.1f}%",
                      f"{100 * r['negative_share']:.0f}%", _words(r["keywords"].split("; "), 60))
    table.add_row("-1", outliers["label"], str(outliers["size"]), f"{100 * outliers['share']:.1f}%", "", "")
    console.print(table)
    s = analysis.summary()
    change = lambda c: f"{c['label']} {100 * c['previous_share']:.1f}% -> {100 * c['share']:.1f}% ({c['period']})"  # noqa: E731
    console.print(f"significant rises: {'; '.join(change(c) for c in s['rises'][:3]) or 'none'} | "
                  f"drops: {'; '.join(change(c) for c in s['drops'][:3]) or 'none'} | "
                  f"recurring complaints: {s['recurring_complaints']} | report: {out / 'report.html'}")
    if analysis.refit:
        r = analysis.refit
        console.print(f"refit: kept {len(r.kept)}, new {r.new}, merged {r.merged}, split {r.split}, gone {r.gone}")


@topics_app.command("fit")
@handle_errors
def topics_fit(
    input: Annotated[str, typer.Argument(help="Comments: .csv, .jsonl or .txt, or - for stdin.")],
    out: Out,
    text_column: Annotated[str, TextColumn] = "text",
    id_column: Annotated[str, IdColumn] = "id",
    time_column: Annotated[str, TimeColumn] = "created_at",
    score_column: Annotated[str, ScoreColumn] = "score",
    fmt: Annotated[Optional[str], typer.Option("--format", help="csv, jsonl or txt when the suffix does not say.")] = None,
    period: Annotated[str, Period] = "week",
    min_topic_size: Annotated[str, typer.Option(help="Smallest topic: 'auto' (max(10, 0.2% of comments)) or a number.")] = "auto",
    nr_topics: Annotated[Optional[str], typer.Option("--topics", "--nr-topics", help="How many topics: 'auto' (8-25 for a few thousand comments), 'all' (as clustered) or a number.")] = "auto",
    min_period_count: Annotated[int, typer.Option(min=1, help="Periods with fewer dated comments are greyed out and not compared.")] = 30,
    reduce_outliers: Annotated[bool, typer.Option("--reduce-outliers/--keep-outliers", help="Give outliers close to a topic that topic.")] = True,
    merge: Annotated[Optional[list[str]], typer.Option(help="Merge topics, e.g. --merge 3,5 (repeatable; ids as this fit numbers them, or as --refit's model does).")] = None,
    refit: Annotated[Optional[str], typer.Option(help="A saved topic model to refit: its ids and custom labels carry over.")] = None,
    model_out: Annotated[Optional[Path], typer.Option(help="Where to save the fitted model (default DIR/model).")] = None,
    version: Annotated[Optional[str], typer.Option(help="Model version name (default: date and time).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same input + settings + seed = same topics).")] = 42,
) -> None:
    """Fit topics on comments; write DIR/documents.csv, topics.csv, trends.csv, complaints.csv, drivers.csv,
    summary.json, report.html and the model (DIR/model)."""
    from datetime import datetime, timezone

    from qa_service.usecases.feedback import check_period, fit_topics

    check_period(period, "--period")
    nr = _parse_topics(nr_topics)
    groups = _parse_merge(merge or [])
    size = min_size(min_topic_size)
    comments = read_comment_file(input, text_column, id_column, time_column, score_column, fmt)
    v = version or datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    dest = model_out or (out / "model")
    fit = fit_topics(runtime(), comments, out, dest, v, source_name=Path(input).name if input != "-" else "stdin",
                     period=period, min_topic_size=size, nr_topics=nr, reduce_outliers=reduce_outliers, merge=groups,
                     refit=refit, seed=seed, progress=stage_progress(), min_period_count=min_period_count)
    _topics_table(fit, out)
    typer.echo(f"wrote {', '.join(p.name for p in fit.files.values())} to {out}; model {dest}", err=True)


@topics_app.command("tag")
@handle_errors
def topics_tag(
    input: Annotated[str, typer.Argument(help="Comments: .csv, .jsonl or .txt, or - for stdin.")],
    model: Annotated[str, typer.Option(help="A saved topic model (directory) or a version under models/topics.")],
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="Output .csv or .jsonl (stdout JSONL if omitted).")] = None,
    text_column: Annotated[str, typer.Option(help="Column holding the comment.")] = "text",
    id_column: Annotated[str, typer.Option(help="Column holding the id.")] = "id",
    fmt: Annotated[Optional[str], typer.Option("--format", help="csv, jsonl or txt when the suffix does not say.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Comments per encoder call.")] = 512,
) -> None:
    """Tag comments with a saved topic model, without refitting: id, topic, topic_label, similarity."""
    from qa_service.io.records import ReadStats, RecordWriter, read_text_records
    from qa_service.usecases.feedback import tag_comments
    from qa_service.usecases.sentiment import batched

    check_input(input)
    tm = runtime().topic_model(model)
    stats = ReadStats()
    n = 0
    records = read_text_records(input, text_column, id_column, fmt, stats)
    with RecordWriter(output, csv_columns=["id", "topic", "topic_label", "similarity"]) as writer, \
            progress_bar("tag", " rows") as bar:
        for batch in batched(records, batch_size, report_skip("line")):
            for r, (t, label, sim) in zip(batch, tag_comments(tm, [r.text for r in batch])):
                writer.write({"id": r.id, "topic": t, "topic_label": label, "similarity": sim})
            n += len(batch)
            bar.update(len(batch))
    typer.echo(f"done: {n} row(s) tagged, {skipped_summary(stats)}", err=True)
    no_records_is_an_error(n, stats, input)


@topics_app.command("show")
@handle_errors
def topics_show(model: Annotated[str, typer.Argument(help="A saved topic model (directory) or version.")]) -> None:
    """List a saved model's topics: id, label, size, keywords."""
    from qa_service.usecases.feedback import show_topic_model

    for t in show_topic_model(runtime(), model):
        typer.echo(f"{t.id}\t{t.name}\t{t.size}\t{', '.join(t.keywords[:8])}")


@topics_app.command("label")
@handle_errors
def topics_label(
    model: Annotated[str, typer.Argument(help="A saved topic model (directory) or version.")],
    topic: Annotated[int, typer.Argument(help="Topic id.")],
    label: Annotated[str, typer.Argument(help="The new label ('' to go back to the automatic one).")],
) -> None:
    """Give a topic a custom label (kept when the model is refitted and the topic persists)."""
    from qa_service.usecases.feedback import edit_topic_model

    edit_topic_model(runtime(), model, lambda tm: tm.set_label(topic, label))
    typer.echo(f"topic {topic}: {label or '(automatic label)'}", err=True)


@topics_app.command("merge")
@handle_errors
def topics_merge(
    model: Annotated[str, typer.Argument(help="A saved topic model (directory) or version.")],
    topics: Annotated[list[int], typer.Argument(help="Two or more topic ids.")],
    label: Annotated[Optional[str], typer.Option(help="Custom label of the merged topic.")] = None,
) -> None:
    """Merge topics of a saved model (no refit): the smallest id survives."""
    from qa_service.usecases.feedback import edit_topic_model

    kept = edit_topic_model(runtime(), model, lambda tm: tm.merge(topics, label))
    typer.echo(f"merged {topics} into topic {kept}", err=True)


@handle_errors
def complaints(
    input: Annotated[str, typer.Argument(help="Comments (.csv/.jsonl/.txt) or transcripts (.jsonl/.json/.txt/.vtt/.srt/.csv).")],
    out: Out,
    kind: Annotated[str, typer.Option(help="auto (transcripts if records have 'turns' or the file is .vtt/.srt), comments or transcripts.")] = "auto",
    text_column: Annotated[str, TextColumn] = "text",
    id_column: Annotated[str, IdColumn] = "id",
    time_column: Annotated[str, TimeColumn] = "created_at",
    score_column: Annotated[str, ScoreColumn] = "score",
    speaker: Annotated[Optional[list[str]], typer.Option(help="Transcripts: map a speaker label to a role, 'Laura=agent'.")] = None,
    period: Annotated[str, Period] = "week",
    min_topic_size: Annotated[str, typer.Option(help="Smallest recurring complaint: 'auto' or a number.")] = "auto",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
) -> None:
    """Find recurring complaints in negative comments or in customers' turns; write DIR/complaints.csv,
    documents.csv, trends.csv, drivers.csv, summary.json and report.html."""
    from rich.console import Console
    from rich.table import Table

    from qa_service.io.transcripts import looks_like_transcripts
    from qa_service.usecases.feedback import check_period, find_complaints

    check_period(period, "--period")
    if kind not in ("auto", "comments", "transcripts"):
        raise InvalidInputError(f"--kind {kind!r}: use auto, comments or transcripts", "kind")
    check_input(input, allow_stdin=False)
    rt = runtime()
    rt.topic_sentiment()  # a broken bundle stops here
    if kind == "transcripts" or (kind == "auto" and looks_like_transcripts(input)):
        transcripts = read_transcript_file(input, speaker or [])
        items, clusters, files = find_complaints(rt, out, transcripts=transcripts, period=period,
                                                 min_topic_size=min_size(min_topic_size), seed=seed)
        typer.echo(f"{len(items)} complaining customer turn(s) in {len(transcripts)} transcript(s)", err=True)
    else:
        comments = read_comment_file(input, text_column, id_column, time_column, score_column, None)
        items, clusters, files = find_complaints(rt, out, comments=comments, period=period,
                                                 min_topic_size=min_size(min_topic_size), seed=seed)
        typer.echo(f"{len(items)} negative comment(s) of {len(comments)}", err=True)
    table = Table(title=f"{len(clusters.complaints_)} recurring complaint(s) in {len(items)} complaint(s)")
    for col in ("id", "complaint", "cases", "example"):
        table.add_column(col)
    for c in list(clusters.complaints_.values())[:15]:
        table.add_row(str(c.id), c.label, str(c.sources), (c.quotes[0] if c.quotes else "")[:70])
    Console(stderr=True).print(table)
    typer.echo(f"wrote {', '.join(p.name for p in files.values())} to {out}", err=True)

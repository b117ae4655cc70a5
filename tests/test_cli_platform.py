"""``qa-service db upgrade``, ``keys create|init|list|revoke`` and ``ingest`` from the shell."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from qa_service.cli import app
from qa_service.config import REPO_ROOT, Settings
from qa_service.store import session_scope
from qa_service.store.keys import verify_api_key

runner = CliRunner()


def _settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=None)


def test_db_upgrade_and_current(tmp_path, monkeypatch):
    from qa_service.config import get_settings

    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        res = runner.invoke(app, ["db", "upgrade"])
        assert res.exit_code == 0, res.output
        from qa_service.store import head_revision

        assert f"at revision {head_revision()}" in res.stderr
        res = runner.invoke(app, ["db", "current"])
        assert res.stdout.startswith(head_revision())
        assert (tmp_path / "qa_service.db").exists()
    finally:
        get_settings.cache_clear()


def test_keys_create_list_revoke(tmp_path, monkeypatch):
    from qa_service.config import get_settings

    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        res = runner.invoke(app, ["keys", "create", "--role", "analyst", "--name", "equipo QA"])
        assert res.exit_code == 0, res.output
        key = res.stdout.strip().splitlines()[-1]
        with session_scope(_settings(tmp_path).db_url) as s:
            assert verify_api_key(s, key).role == "analyst"
        listed = runner.invoke(app, ["keys", "list"]).stdout
        key_id = key.split("_")[1]
        assert key_id in listed and "equipo QA" in listed and "active" in listed and key not in listed
        assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 0
        with session_scope(_settings(tmp_path).db_url) as s:
            assert verify_api_key(s, key) is None
        bad = runner.invoke(app, ["keys", "create", "--role", "root"])
        assert bad.exit_code == 2 and "unknown role" in bad.stderr
        bad = runner.invoke(app, ["keys", "revoke", "nope"])
        assert bad.exit_code == 2 and "no API key" in bad.stderr
        # init creates an admin key only when there is no active key.
        first = runner.invoke(app, ["keys", "init"])
        assert first.exit_code == 0 and first.stdout.strip().startswith("qa_")
        again = runner.invoke(app, ["keys", "init"])
        assert again.exit_code == 0 and again.stdout.strip() == "" and "active API key(s) exist" in again.stderr
    finally:
        get_settings.cache_clear()


def test_ingest_is_idempotent(tmp_path, monkeypatch):
    from qa_service.config import get_settings

    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        src = REPO_ROOT / "eval" / "transcripts" / "labelled.jsonl"
        n = sum(1 for line in src.read_text(encoding="utf-8").splitlines() if line.strip())
        res = runner.invoke(app, ["ingest", str(src)])
        assert res.exit_code == 0, res.output
        assert f"{n} new, 0 updated, 0 unchanged" in res.stderr
        res = runner.invoke(app, ["ingest", str(src)])
        assert f"0 new, 0 updated, {n} unchanged" in res.stderr
        comments = tmp_path / "c.jsonl"
        comments.write_text("\n".join(json.dumps({"id": str(i), "text": f"texto {i}"}) for i in range(3)) + "\n",
                            encoding="utf-8")
        res = runner.invoke(app, ["ingest", str(comments), "--source", "encuesta"])
        assert "comments from 'encuesta': 3 new" in res.stderr
    finally:
        get_settings.cache_clear()

"""Sensitive identifiers read back by an agent never leave the service in clear: the command line's JSONL, the
API's response, a batch job's stored transcript, stored score and streamed results (JSONL and CSV)."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from qa_service.api.app import create_app
from qa_service.cli import app
from qa_service.config import Settings
from qa_service.store import session_scope
from qa_service.store.tables import CriterionResultRow, ScoreRow, TranscriptRow
from tests.conftest import auth

CARD = ("cuarenta y cinco treinta y nueve, catorce ochenta y ocho, cero tres cuarenta y tres, sesenta y cuatro "
        "sesenta y siete")
CALL = {"id": "leak-1", "channel": "call", "language": "es", "turns": [
    {"speaker": "agent", "text": "Buenos días, le atiende Laura, ¿en qué puedo ayudarle?"},
    {"speaker": "customer", "text": f"Quiero anular un cargo de la tarjeta {CARD}."},
    {"speaker": "agent", "text": f"Le repito la tarjeta: {CARD}. Y dígame los tres números de atrás."},
    {"speaker": "customer", "text": "Vale."}]}
SAID_IN_CLEAR = ("cuarenta", "treinta y nueve", "catorce", "ochenta y ocho")


def _clear(text: str) -> list[str]:
    return [w for w in SAID_IN_CLEAR if w in text]


def _check_result(result: dict) -> None:
    crit = next(c for c in result["criteria"] if c["id"] == "sin_datos_sensibles")
    assert crit["result"] == "fail" and result["auto_fail"] is True
    assert {e["label"] for e in crit["evidence"]} == {"card_number", "cvv"}
    assert _clear(json.dumps(result, ensure_ascii=False)) == []


def test_command_line_output(tmp_path):
    f = tmp_path / "calls.jsonl"
    f.write_text(json.dumps(CALL, ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "scores.jsonl"
    res = CliRunner().invoke(app, ["score", str(f), "--rubric", "default-es", "-o", str(out)])
    assert res.exit_code == 0, res.output
    _check_result(json.loads(out.read_text(encoding="utf-8").splitlines()[0]))


@pytest.fixture(scope="module")
def client(sentiment, tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("sensitive"))
    with TestClient(create_app(settings), headers=auth(settings, "analyst")) as c:
        c.settings = settings
        yield c


def test_api_response(client):
    r = client.post("/v1/score", json={"transcript": CALL, "rubric": "default-es"})
    assert r.status_code == 200, r.text
    _check_result(r.json())


def test_batch_job_storage_and_results(client):
    r = client.post("/v1/jobs/score", json={"rubric": "default-es", "transcripts": [CALL], "source": "leak"})
    assert r.status_code == 202, r.text
    job = r.json()
    deadline = time.time() + 120
    while client.get(f"/v1/jobs/{job['job_id']}").json()["status"] not in ("done", "failed"):
        assert time.time() < deadline, "job not finished"
        time.sleep(0.2)
    for fmt in ("", "?format=csv"):
        assert _clear(client.get(job["results_url"] + fmt).text) == []
    result = json.loads(client.get(job["results_url"]).text.splitlines()[0])["result"]
    crit = next(c for c in result["criteria"] if c["id"] == "sin_datos_sensibles")
    assert crit["result"] == "fail"  # caught on the stored, redacted text
    with session_scope(client.settings.db_url) as s:
        stored = s.scalars(select(TranscriptRow).where(TranscriptRow.source == "leak")).one()
        score = s.scalars(select(ScoreRow).where(ScoreRow.transcript_id == stored.id)).one()
        rows = s.scalars(select(CriterionResultRow).where(CriterionResultRow.score_id == score.id)).all()
        stored_text = json.dumps([stored.turns, score.result, [r.evidence for r in rows]], ensure_ascii=False)
    assert _clear(stored_text) == []
    assert "<TARJETA>" in stored.turns[2]["text"]  # the redactor reads numbers said in groups too

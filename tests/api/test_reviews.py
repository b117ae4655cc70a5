"""Analysts find stored scores, read them with their transcript, correct criteria; corrections export as
calibration data."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qa_service.api.app import create_app
from qa_service.config import Settings
from tests.conftest import auth
from tests.pipelines.rubric.test_scorer import BAD_EN, GOOD_ES


@pytest.fixture(scope="module")
def client(sentiment, tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("reviews"))
    with TestClient(create_app(settings), headers=auth(settings, "analyst")) as c:
        c.settings = settings
        good = {**GOOD_ES, "id": "rev-good"}
        r = c.post("/v1/jobs/score", json={"rubric": "default-es", "transcripts": [good], "source": "rev"})
        job = r.json()["job_id"]
        r2 = c.post("/v1/jobs/score", json={"rubric": "default-en", "transcripts": [{**BAD_EN, "id": "rev-bad"}],
                                            "source": "rev"})
        for j in (job, r2.json()["job_id"]):
            deadline = time.time() + 120
            while c.get(f"/v1/jobs/{j}").json()["status"] != "done":
                assert time.time() < deadline
                time.sleep(0.2)
        yield c


def test_list_read_review_and_export(client, tmp_path, monkeypatch):
    scores = client.get("/v1/scores", params={"source": "rev"}).json()
    assert {s["transcript_id"] for s in scores} == {"rev-good", "rev-bad"}
    assert not any(s["reviewed"] for s in scores)
    sid = next(s["score_id"] for s in scores if s["transcript_id"] == "rev-good")
    one = client.get(f"/v1/scores/{sid}").json()
    assert one["transcript"]["id"] == "rev-good" and one["result"]["rubric"]["id"] == "default-es"
    before = one["labels"]
    flipped = "fail" if before["empatia"] == "pass" else "pass"
    r = client.post(f"/v1/scores/{sid}/reviews", json={"corrections": [
        {"criterion": "empatia", "result": flipped, "note": "fórmula vacía"}]})
    assert r.status_code == 201, r.text
    assert r.json()["labels"] == {**before, "empatia": flipped}
    after = client.get(f"/v1/scores/{sid}").json()
    assert after["labels"]["empatia"] == flipped
    assert [(x["criterion"], x["original_result"], x["note"]) for x in after["reviews"]] == \
        [("empatia", before["empatia"], "fórmula vacía")]
    reviewed = client.get("/v1/scores", params={"source": "rev", "reviewed": True}).json()
    assert [s["score_id"] for s in reviewed] == [sid]

    from qa_service.cli import app
    from qa_service.config import get_settings

    out = tmp_path / "reviewed.jsonl"
    monkeypatch.setenv("QA_DATA_DIR", str(client.settings.data_dir))
    get_settings.cache_clear()
    try:
        res = CliRunner().invoke(app, ["reviews", "export", "-o", str(out), "--source", "rev"])
    finally:
        get_settings.cache_clear()
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 1 and rows[0]["labels"]["empatia"] == flipped and rows[0]["rubric"] == "default-es"
    assert rows[0]["split"] in ("tune", "report")
    from qa_service.schemas import Transcript

    Transcript.model_validate({k: v for k, v in rows[0].items() if k not in ("rubric", "split", "labels")})


@pytest.mark.parametrize("body,status,field", [
    ({"corrections": [{"criterion": "no_such", "result": "pass"}]}, 422, "corrections"),
    ({"corrections": [{"criterion": "empatia", "result": "maybe"}]}, 422, "corrections[0].result"),
    ({"corrections": [{"criterion": "empatia", "result": "pass"}, {"criterion": "empatia", "result": "fail"}]},
     422, "corrections[1].criterion"),
])
def test_bad_reviews(client, body, status, field):
    sid = client.get("/v1/scores", params={"source": "rev"}).json()[0]["score_id"]
    r = client.post(f"/v1/scores/{sid}/reviews", json=body)
    assert r.status_code == status, r.text
    assert r.json()["detail"][0]["field"] == field


def test_roles_and_404(client):
    s = client.settings
    assert client.post("/v1/scores/999999/reviews", json={}).status_code == 404
    assert client.get("/v1/scores/999999").status_code == 404
    sid = client.get("/v1/scores").json()[0]["score_id"]
    assert client.get(f"/v1/scores/{sid}", headers=auth(s, "manager")).status_code == 200
    assert client.post(f"/v1/scores/{sid}/reviews", json={}, headers=auth(s, "manager")).status_code == 403
    assert client.get("/v1/scores", headers=auth(s, "helpdesk")).status_code == 403

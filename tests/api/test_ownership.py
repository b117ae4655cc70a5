"""Ownership (issue 10, finding 6): jobs, their results and the scores they produced belong to the submitting key;
another analyst gets 404 (never 403), a team-scoped key sees its team's, admins see all; managers are read-only;
job ids reach the log only at debug level."""

from __future__ import annotations

import logging
import time

import pytest
from fastapi.testclient import TestClient

from qa_service.api.app import create_app
from qa_service.config import Settings
from qa_service.runtime import get_runtime
from qa_service.usecases.admin import create_key
from tests.conftest import auth
from tests.pipelines.rubric.test_scorer import GOOD_ES


def _key(settings, role, team=None) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_key(get_runtime(settings), role, 'tests', team)[1]}"}


@pytest.fixture(scope="module")
def world(sentiment, tmp_path_factory):
    """One score job by analyst A (team norte), with its stored score; keys for everyone else."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("owners"))
    with TestClient(create_app(settings)) as c:
        keys = {"a": _key(settings, "analyst", "norte"), "b": _key(settings, "analyst"),
                "a_team": _key(settings, "analyst", "norte"), "other_team": _key(settings, "analyst", "sur"),
                "admin": auth(settings, "admin"), "manager": auth(settings, "manager"),
                "manager_sur": _key(settings, "manager", "sur")}
        r = c.post("/v1/jobs/score", headers=keys["a"],
                   json={"rubric": "default-es", "transcripts": [{**GOOD_ES, "id": "own-1"}], "source": "own"})
        assert r.status_code == 202, r.text
        job = r.json()["job_id"]
        deadline = time.time() + 120
        while c.get(f"/v1/jobs/{job}", headers=keys["a"]).json()["status"] != "done":
            assert time.time() < deadline
            time.sleep(0.2)
        sid = c.get("/v1/scores", headers=keys["a"], params={"source": "own"}).json()[0]["score_id"]
        yield c, keys, job, sid


def test_owner_reads_their_job_results_and_score(world):
    c, keys, job, sid = world
    assert c.get(f"/v1/jobs/{job}", headers=keys["a"]).status_code == 200
    assert "own-1" in c.get(f"/v1/jobs/{job}/results", headers=keys["a"]).text
    assert c.get(f"/v1/scores/{sid}", headers=keys["a"]).json()["transcript"]["id"] == "own-1"


@pytest.mark.parametrize("who", ["b", "other_team"])
def test_another_analyst_gets_404_for_the_job_its_results_and_its_score(world, who):
    c, keys, job, sid = world
    h = keys[who]
    unknown = c.get("/v1/jobs/" + "0" * 32, headers=h)
    for r in (c.get(f"/v1/jobs/{job}", headers=h), c.get(f"/v1/jobs/{job}/results", headers=h),
              c.get(f"/v1/jobs/{job}/results?format=csv", headers=h)):
        assert r.status_code == 404 and r.json()["error"] == unknown.json()["error"]
    assert sid not in [s["score_id"] for s in c.get("/v1/scores", headers=h).json()]
    assert c.get(f"/v1/scores/{sid}", headers=h).status_code == 404
    r = c.post(f"/v1/scores/{sid}/reviews", headers=h, json={"corrections": [{"criterion": "empatia",
                                                                              "result": "fail"}]})
    assert r.status_code == 404
    assert not c.get(f"/v1/scores/{sid}", headers=keys["a"]).json()["reviews"]  # nothing was overwritten


def test_team_scope_and_admin_see_it(world):
    c, keys, job, sid = world
    for who in ("a_team", "admin"):
        assert c.get(f"/v1/jobs/{job}", headers=keys[who]).status_code == 200, who
        assert c.get(f"/v1/scores/{sid}", headers=keys[who]).status_code == 200, who
        assert sid in [s["score_id"] for s in c.get("/v1/scores", headers=keys[who]).json()]
    r = c.post(f"/v1/scores/{sid}/reviews", headers=keys["a_team"], json={"corrections": []})
    assert r.status_code == 201, r.text


def test_managers_read_scores_but_change_nothing(world):
    c, keys, job, sid = world
    m = keys["manager"]
    assert c.get(f"/v1/scores/{sid}", headers=m).status_code == 200  # a manager without a team reads all
    assert c.get(f"/v1/scores/{sid}", headers=keys["manager_sur"]).status_code == 404  # team-scoped manager
    assert c.post(f"/v1/scores/{sid}/reviews", headers=m, json={}).status_code == 403
    assert c.get(f"/v1/jobs/{job}", headers=m).status_code == 403
    comments = [{"id": f"c{i}", "text": f"Me cobraron dos veces la factura {i}"} for i in range(4)]
    assert c.post("/v1/topics/fit", headers=m, json={"comments": comments}).status_code == 403
    assert c.post("/v1/complaints", headers=m, json={"comments": comments}).status_code == 403
    for path in ("/v1/topics", "/v1/rubrics", "/v1/scores"):
        assert c.get(path, headers=m).status_code == 200, path


def test_job_ids_reach_the_log_only_at_debug(world, caplog):
    c, keys, _, _ = world
    with caplog.at_level(logging.DEBUG):
        r = c.post("/v1/jobs/sentiment", headers=keys["a"],
                   json={"comments": [{"id": "l1", "text": "Todo bien, gracias"}]})
        job = r.json()["job_id"]
        deadline = time.time() + 60
        while c.get(f"/v1/jobs/{job}", headers=keys["a"]).json()["status"] != "done":
            assert time.time() < deadline
            time.sleep(0.2)
        time.sleep(0.3)
    # The test client's own request log (logger httpx*) is the client's, not the server's.
    above_debug = [rec for rec in caplog.records if rec.levelno > logging.DEBUG and not rec.name.startswith("httpx")]
    assert above_debug and not [rec for rec in above_debug if job in rec.getMessage() or job in str(vars(rec))]
    assert any(job in rec.getMessage() for rec in caplog.records if rec.levelno == logging.DEBUG)


def test_keys_create_with_a_team_from_the_command_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from qa_service.cli import app
    from qa_service.config import get_settings

    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        res = runner.invoke(app, ["keys", "create", "--role", "analyst", "--team", "norte"])
        assert res.exit_code == 0, res.output
        key_id = res.stdout.strip().splitlines()[-1].split("_")[1]
        line = next(x for x in runner.invoke(app, ["keys", "list"]).stdout.splitlines() if x.startswith(key_id))
        assert line.split("\t")[-1] == "norte"
    finally:
        get_settings.cache_clear()

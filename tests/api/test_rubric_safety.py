"""Rubrics in requests cannot freeze the server or read files: patterns run on RE2 with per-rubric limits, and a
rubric string is only ever a shipped rubric's name."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient

from qa_service.api.app import create_app
from qa_service.config import REPO_ROOT, Settings
from tests.conftest import auth
from tests.pipelines.rubric.test_scorer import GOOD_ES

README_LINE = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()[0]


def _rubric(patterns: list[str]) -> dict:
    return {"id": "p", "version": "1", "language": "en", "sections": [{"id": "s", "name": "S", "weight": 1, "criteria": [
        {"id": "c", "question": "q?", "weight": 1, "detectors": [{"type": "pattern", "patterns": patterns}]}]}]}


@pytest.fixture(scope="module")
def client(sentiment, tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("rubric-safety"))
    with TestClient(create_app(settings), headers=auth(settings, "analyst")) as c:
        yield c


def test_backtracking_pattern_does_not_freeze_the_server():
    """(a+)+$ on 35 characters froze the whole process under Python's re (even /healthz); the server runs in a
    subprocess so that a regression fails this test instead of hanging the run."""
    code = f"""
import json, threading, time
from fastapi.testclient import TestClient
from qa_service.api.app import create_app
from qa_service.config import Settings
from tests.conftest import auth
s = Settings()
body = {{"transcript": {{"id": "t", "turns": [{{"speaker": "agent", "text": "a" * 35 + "!"}}]}},
        "rubric": {_rubric(["(a+)+$"])!r}}}
with TestClient(create_app(s), headers=auth(s, "analyst")) as c:
    out = {{}}
    def score():
        t0 = time.perf_counter(); r = c.post("/v1/score", json=body)
        out["score"] = (r.status_code, time.perf_counter() - t0)
    th = threading.Thread(target=score); th.start()
    health = []
    while th.is_alive() or not health:
        t0 = time.perf_counter(); r = c.get("/healthz"); health.append((r.status_code, time.perf_counter() - t0))
    th.join()
    print(json.dumps({{"score": out["score"], "health": health}}))
"""
    try:
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail("POST /v1/score with (a+)+$ froze the server")
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    status, seconds = out["score"]
    # The request loads the scorer and the sentiment model on first use; a backtracking regex on this input
    # would run for minutes. The freeze check proper is the health probes below.
    assert status in (200, 422) and seconds < 30.0, out
    assert all(code == 200 and s < 1.0 for code, s in out["health"]), out


def test_sixty_thousand_patterns_are_a_quick_422_naming_the_pattern(client):
    body = {"transcript": GOOD_ES, "rubric": _rubric([f"(p{i})+x" for i in range(60_000)])}
    t0 = time.perf_counter()
    r = client.post("/v1/score", json=body)
    assert r.status_code == 422, r.text
    assert time.perf_counter() - t0 < 5
    assert "sections[0].criteria[0].detectors[0].patterns[500]: more than 500 patterns" in r.text
    r = client.post("/v1/jobs/score", json={"transcripts": [GOOD_ES], "rubric": body["rubric"]})
    assert r.status_code == 422 and "QA_MAX_RUBRIC_PATTERNS" in r.text


def test_long_and_unsupported_patterns_are_422_naming_the_pattern(client):
    r = client.post("/v1/score", json={"transcript": GOOD_ES, "rubric": _rubric(["ok", "a" * 501])})
    assert r.status_code == 422 and "patterns[1]: longer than 500 characters" in r.text
    r = client.post("/v1/score", json={"transcript": GOOD_ES, "rubric": _rubric(["ok", "(?=a)b"])})
    assert r.status_code == 422 and "patterns[1]: not a valid regular expression" in r.text


@pytest.mark.parametrize("name", ["README.md", "readme.md", "pyproject.toml", "models", "qa_service",
                                  "default-es.yaml", "models/rubrics/default-es.yaml", "default-es.calibration"])
def test_rubric_names_never_open_files(client, name):
    r = client.post("/v1/score", json={"transcript": GOOD_ES, "rubric": name})
    assert r.status_code == 422, r.text
    body = r.json()["detail"][0]
    assert body["field"] == "rubric" and "available: default-en, default-es" in body["message"]
    assert README_LINE not in r.text and "unknown field" not in r.text and "YAML" not in r.text
    r = client.post("/v1/jobs/score", json={"transcripts": [GOOD_ES], "rubric": name})
    assert r.status_code == 422 and "available: default-en, default-es" in r.text, r.text
    upload = json.dumps(GOOD_ES, ensure_ascii=False).encode()
    r = client.post("/v1/jobs/score", files={"file": ("calls.jsonl", upload, "application/json")},
                    data={"rubric": name})
    assert r.status_code == 422 and "available: default-en, default-es" in r.text, r.text

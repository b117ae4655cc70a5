"""Scoring and rubric endpoints through the real app."""

from __future__ import annotations

import pytest
import yaml
from fastapi.testclient import TestClient

from qa_service.api.app import create_app
from qa_service.config import Settings
from tests.conftest import auth
from tests.pipelines.rubric.test_scorer import BAD_EN, GOOD_ES


@pytest.fixture(scope="module")
def client(sentiment):
    with TestClient(create_app(Settings()), headers=auth(Settings(), "analyst")) as c:
        yield c


def test_score_by_name(client):
    r = client.post("/v1/score", json={"transcript": GOOD_ES, "rubric": "default-es"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rubric"] == {"id": "default-es", "version": "1.3.0"}
    assert body["total"] >= 85 and body["auto_fail"] is False
    crit = {c["id"]: c for c in body["criteria"]}
    assert crit["empatia"]["result"] == "pass"
    ev = crit["empatia"]["evidence"][0]
    assert GOOD_ES["turns"][ev["turn"]]["text"][ev["start_char"]:ev["end_char"]] == ev["text"]


def test_score_with_inline_rubric_and_auto_fail(client, settings):
    rubric = yaml.safe_load((settings.rubrics_dir / "default-en.yaml").read_text(encoding="utf-8"))
    r = client.post("/v1/score", json={"transcript": BAD_EN, "rubric": rubric})
    assert r.status_code == 200, r.text
    assert r.json()["auto_fail"] is True
    assert r.json()["auto_fail_reasons"][0].startswith("no_sensitive_data")


@pytest.mark.parametrize("body,field", [
    ({"transcript": {"id": "x", "turns": []}}, "transcript.turns"),
    ({"transcript": {"id": "x", "turns": [{"speaker": "boss", "text": "hi"}]}}, "transcript.turns[0].speaker"),
    ({"transcript": GOOD_ES, "rubric": "nope"}, "rubric"),
    ({"transcript": GOOD_ES, "rubric": "../../etc/passwd"}, "rubric"),
    ({"transcript": GOOD_ES, "rubric": {"id": "x"}}, "rubric"),
])
def test_bad_score_requests_name_the_field(client, body, field):
    r = client.post("/v1/score", json=body)
    assert r.status_code == 422, r.text
    assert field in [d["field"] for d in r.json()["detail"]]


def test_rubric_catalogue(client):
    r = client.get("/v1/rubrics")
    assert r.status_code == 200
    assert {x["id"] for x in r.json()} == {"default-es", "default-en"}
    one = client.get("/v1/rubrics/default-es").json()
    assert one["sections"][0]["criteria"][0]["examples"]["pass"]
    assert client.get("/v1/rubrics/nope").status_code == 404


def test_inline_rubric_auto_fail_policy_and_its_validation(client, settings):
    rubric = yaml.safe_load((settings.rubrics_dir / "default-en.yaml").read_text(encoding="utf-8"))
    # a call with a proper greeting that reads a card number back: the greeting passes, the call auto-fails
    greeted = {**BAD_EN, "turns": [{"speaker": "agent", "text": "Good morning, thank you for calling Acme, my name "
                                    "is Laura. How can I help you today?"}] + BAD_EN["turns"][1:]}
    zero = client.post("/v1/score", json={"transcript": greeted, "rubric": rubric}).json()
    keep = client.post("/v1/score", json={"transcript": greeted, "rubric": {**rubric, "on_auto_fail": "keep"}}).json()
    assert zero["auto_fail"] is True and keep["auto_fail"] is True
    assert zero["total"] == 0.0 and keep["total"] > 0.0
    r = client.post("/v1/score", json={"transcript": BAD_EN, "rubric": {**rubric, "on_auto_fail": "halve"}})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert [d["field"] for d in detail] == ["rubric"] and "on_auto_fail: must be 'zero' or 'keep'" in r.text

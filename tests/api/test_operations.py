"""Operations: body size limit, timeouts, structured logs without customer text, Prometheus metrics."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from qa_service.api.app import create_app
from qa_service.api.middleware import JsonFormatter
from qa_service.config import Settings
from tests.conftest import auth


@pytest.fixture(scope="module")
def client(sentiment):
    settings = Settings(max_body_mb=1, max_texts=100_000, max_text_chars=10_000_000)
    with TestClient(create_app(settings), headers=auth(settings)) as c:
        yield c


def test_body_over_the_limit_is_413(client):
    r = client.post("/v1/sentiment", json={"texts": ["hola " * 100] * 3000})
    assert r.status_code == 413 and r.json()["detail"][0]["field"] == "body"


def test_streamed_body_over_the_limit_is_413(client):
    def chunks():
        for _ in range(30):
            yield b"x" * 65536

    r = client.post("/v1/sentiment", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_metrics(client):
    client.post("/v1/sentiment", json={"text": "Gracias por todo"})
    text = client.get("/metrics").text
    assert 'qa_requests_total{method="POST",route="/v1/sentiment",status="200"}' in text
    assert "qa_request_seconds_bucket" in text and "qa_job_queue_depth" in text
    assert 'qa_model_info{task="sentiment"' in text


def test_access_log_is_json_without_customer_text(client, caplog):
    secret = "Mi tarjeta es 4539 1488 0343 6467 y estoy harto"
    with caplog.at_level(logging.INFO, logger="qa_service.access"):
        r = client.post("/v1/sentiment", json={"text": secret}, headers={"x-request-id": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    records = [rec for rec in caplog.records if rec.name == "qa_service.access"]
    assert records
    line = JsonFormatter().format(records[-1])
    entry = json.loads(line)
    assert entry["route"] == "/v1/sentiment" and entry["status"] == 200 and entry["request_id"] == "abc123"
    assert entry["key_id"] and "ms" in entry
    assert "4539" not in line and "harto" not in line


def test_timeout_is_504(sentiment):
    settings = Settings(request_timeout=0.001)
    with TestClient(create_app(settings), headers=auth(settings)) as c:
        r = c.post("/v1/sentiment", json={"texts": ["Muy buena atención, gracias"] * 200})
    assert r.status_code == 504 and r.json()["error"] == "timeout"

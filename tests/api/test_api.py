"""The API through the real app and the shipped models."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from qa_service.api.app import create_app
from qa_service.config import Settings
from qa_service.errors import ModelLoadError
from tests.conftest import auth


@pytest.fixture(scope="module")
def client():
    settings = Settings(max_texts=5, max_text_chars=200)
    with TestClient(create_app(settings), headers=auth(settings, "helpdesk")) as c:
        yield c


def test_health_and_ready(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["status"] == "ready" and r.json()["models"]["sentiment"]


def test_not_ready_without_models():
    with TestClient(create_app(Settings(), load_models=False), headers=auth(Settings())) as c:
        assert c.get("/readyz").status_code == 503
        assert c.get("/healthz").status_code == 200
        r = c.post("/v1/sentiment", json={"text": "hola"})
        assert r.status_code == 503


def test_single_text(client):
    r = client.post("/v1/sentiment", json={"text": "Pésimo servicio, nadie me ayuda y me cobraron dos veces."})
    assert r.status_code == 200
    body = r.json()
    assert body["label"] == "negative" and body["language"] == "es"
    assert set(body["probabilities"]) == {"negative", "neutral", "positive"}


def test_batch(client):
    r = client.post("/v1/sentiment", json={"texts": ["Great service, thank you!", "Terrible, still waiting."]})
    assert r.status_code == 200
    res = r.json()["results"]
    assert [x["label"] for x in res] == ["positive", "negative"]
    assert [x["language"] for x in res] == ["en", "en"]


@pytest.mark.parametrize("body,status,field", [
    ({"text": ""}, 422, "text"),
    ({"text": "   \n"}, 422, "text"),
    ({"texts": ["ok", " "]}, 422, "texts[1]"),
    ({"texts": []}, 422, "texts"),
    ({}, 422, "text"),
    ({"text": "a", "texts": ["b"]}, 422, "text"),
    ({"text": 5}, 422, "text"),
    ({"texts": "not a list"}, 422, "texts"),
    ({"texts": ["ok", 3]}, 422, "texts[1]"),
    ({"text": "hola", "lang": "es"}, 422, "lang"),
    ({"text": "\u200b\u200b"}, 422, "text"),
    ({"texts": ["ok", "\u0000\t"]}, 422, "texts[1]"),
    ({"texts": ["x"] * 6}, 413, "texts"),
    ({"text": "x" * 201}, 413, "text"),
    ({"texts": ["ok", "x" * 201]}, 413, "texts[1]"),
])
def test_bad_bodies_name_the_field(client, body, status, field):
    r = client.post("/v1/sentiment", json=body)
    assert r.status_code == status, r.text
    fields = [d["field"] for d in r.json()["detail"]]
    assert field in fields, fields
    if status == 413:
        assert "limit" in r.json()["detail"][0]["message"]


def test_invalid_json_and_wrong_content(client):
    r = client.post("/v1/sentiment", content=b"{bad json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.post("/v1/sentiment", content=b"\xff\xfe", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.post("/v1/sentiment", content=b"text=hola", headers={"content-type": "text/plain"})
    assert r.status_code == 422
    assert client.get("/v1/sentiment").status_code == 405
    assert client.get("/nope").status_code == 404


def test_openapi_docs(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/v1/sentiment" in spec["paths"]


def test_corrupted_model_fails_start_up_naming_the_file(bundle_copy):
    from qa_service.bundles import current_version

    v = current_version(bundle_copy, "sentiment")
    (bundle_copy / "sentiment" / v / "head.npz").write_bytes(b"corrupted")
    app = create_app(Settings(models_dir=bundle_copy))
    with pytest.raises(ModelLoadError, match="head.npz"):
        with TestClient(app):
            pass


def test_preloaded_model_is_served(sentiment):
    with TestClient(create_app(Settings()), headers=auth(Settings())) as c:
        assert c.get("/readyz").status_code == 200
        assert c.post("/v1/sentiment", json={"text": "Gracias, todo perfecto"}).json()["label"] == "positive"


@pytest.mark.parametrize("raw", [b'{"text": "hola \\ud800 mundo"}', b'{"texts": ["\\ud83d mal", "bien"]}',
                                 b'{"text": "\\u0000 hola"}', '{"text": "🙂🙂"}'.encode()])
def test_odd_but_valid_unicode_is_labelled_not_a_500(client, raw):
    r = client.post("/v1/sentiment", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text

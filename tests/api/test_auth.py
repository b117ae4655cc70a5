"""Access control through the real app: 401 without a valid key, 403 for the wrong role."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from qa_service.api import auth as auth_module
from qa_service.api.app import create_app
from qa_service.config import Settings
from qa_service.store import session_scope
from qa_service.store.keys import revoke_api_key
from tests.conftest import api_key


@pytest.fixture(scope="module")
def app(sentiment):
    return create_app(Settings())


def _post_sentiment(client, key=None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post("/v1/sentiment", json={"text": "Todo perfecto, gracias"}, headers=headers)


def test_missing_and_invalid_keys_are_401(app):
    with TestClient(app) as c:
        r = _post_sentiment(c)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json()["detail"][0]["field"] == "Authorization"
        assert _post_sentiment(c, "qa_0000_nope").status_code == 401
        assert c.post("/v1/sentiment", json={"text": "hola"}, headers={"Authorization": "Basic abc"}).status_code == 401
        # Health and readiness stay open for probes.
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200


@pytest.mark.parametrize("role,path,body,status", [
    ("helpdesk", "/v1/sentiment", {"text": "hola"}, 200),
    ("helpdesk", "/v1/score", {"transcript": {"id": "x", "turns": [{"speaker": "agent", "text": "Hola"}]}}, 403),
    ("helpdesk", "/v1/topics", None, 403),
    ("manager", "/v1/sentiment", {"text": "hola"}, 403),
    ("manager", "/v1/score", {"transcript": {"id": "x", "turns": [{"speaker": "agent", "text": "Hola"}]}}, 403),
    ("manager", "/v1/topics", None, 200),
    ("manager", "/v1/rubrics", None, 200),
    ("analyst", "/v1/score", {"transcript": {"id": "x", "turns": [{"speaker": "agent", "text": "Hola"}]}}, 200),
    ("analyst", "/v1/sentiment", {"text": "hola"}, 200),
    ("admin", "/v1/topics", None, 200),
])
def test_roles(app, role, path, body, status):
    key = api_key(Settings(), role)
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as c:
        r = c.post(path, json=body) if body is not None else c.get(path)
    assert r.status_code == status, r.text
    if status == 403:
        assert role in r.json()["detail"][0]["message"]


def test_revoked_key_stops_working(app, monkeypatch):
    monkeypatch.setattr(auth_module, "CACHE_SECONDS", 0.0)
    key = api_key(Settings(), "helpdesk")
    with TestClient(app) as c:
        assert _post_sentiment(c, key).status_code == 200
        with session_scope(Settings().db_url) as s:
            revoke_api_key(s, key.split("_")[1])
        assert _post_sentiment(c, key).status_code == 401


def test_auth_can_be_disabled_for_local_use(sentiment, caplog):
    with TestClient(create_app(Settings(auth_disabled=True))) as c:
        assert _post_sentiment(c).status_code == 200
    assert "QA_AUTH_DISABLED" in caplog.text

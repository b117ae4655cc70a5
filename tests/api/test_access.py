"""Who may call what, checked before any body is read: the key middleware (401 without reading a byte), the
streamed body cap, docs/metrics behind keys, request ids, record-id lengths (issue 10, findings 1b and 10)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from fastapi.testclient import TestClient

from qa_service.api.app import create_app
from qa_service.config import Settings
from qa_service.runtime import get_runtime
from qa_service.usecases.admin import prepare_database
from tests.conftest import auth


def _app(**overrides):
    settings = Settings(embedded_worker=False, **overrides)
    prepare_database(get_runtime(settings))
    return settings, create_app(settings, load_models=False)


def _call(app, method: str, path: str, headers: dict[str, str], chunks) -> tuple[int, dict, int]:
    """Send a request straight to the ASGI app; returns (status, response headers, body messages received)."""
    received = 0
    chunks = list(chunks)
    out: dict = {}

    async def receive():
        nonlocal received
        if received < len(chunks):
            received += 1
            return {"type": "http.request", "body": chunks[received - 1], "more_body": received < len(chunks)}
        await asyncio.sleep(3600)  # the client would wait; the app must not need more

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode().lower(): v.decode() for k, v in message["headers"]}

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "", "scheme": "http",
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 30))
    return out["status"], out["headers"], received


BIG = b'{"texts": [' + b"[], " * (5 << 20) + b"[]]}"  # ~20 MB of the abusive body from the probe


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer qa_0123456789ab_" + "x" * 43},
                                     {"Authorization": "Basic Zm9vOmJhcg=="}])
def test_unauthenticated_20mb_body_is_401_without_reading_it(headers):
    _, app = _app()
    status, resp, received = _call(app, "POST", "/v1/sentiment",
                                   {"content-type": "application/json", "content-length": str(len(BIG)), **headers},
                                   [BIG[i:i + (1 << 16)] for i in range(0, len(BIG), 1 << 16)])
    assert status == 401 and resp["www-authenticate"] == "Bearer"
    assert received == 0  # not one body message was read


def test_unauthenticated_chunked_upload_is_401_without_reading_it():
    _, app = _app()
    status, _, received = _call(app, "POST", "/v1/jobs/score",
                                {"content-type": "multipart/form-data; boundary=x", "transfer-encoding": "chunked"},
                                [b"x" * (1 << 20)] * 50)
    assert (status, received) == (401, 0)


def test_chunked_body_is_counted_as_it_arrives_and_reading_stops_at_the_cap():
    settings, app = _app(max_upload_mb=1)  # uploads may carry max_upload_mb + 1 MB of form overhead
    boundary = "qaboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jsonl\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    chunks = [head] + [b"x" * (1 << 18)] * 200  # 50 MB offered, chunked, no Content-Length
    status, _, received = _call(app, "POST", "/v1/jobs/score",
                                {**auth(settings, "analyst"), "transfer-encoding": "chunked",
                                 "content-type": f"multipart/form-data; boundary={boundary}"}, chunks)
    assert status == 413
    assert received <= 2 + (2 << 20) // (1 << 18)  # stopped just past the 2 MB cap, not after 50 MB


def test_chunked_json_over_the_cap_is_413():
    settings, app = _app(max_body_mb=1)
    status, _, received = _call(app, "POST", "/v1/sentiment",
                                {**auth(settings, "helpdesk"), "content-type": "application/json",
                                 "transfer-encoding": "chunked"}, [b" " * (1 << 18)] * 40)
    assert status == 413 and received <= 6


def test_key_lookups_run_off_the_event_loop_and_are_cached(monkeypatch):
    from qa_service.usecases import admin

    settings, app = _app()
    headers = auth(settings, "helpdesk")
    threads = []
    real = admin.authenticate

    def spy(rt, key):
        try:
            asyncio.get_running_loop()
            threads.append("event loop")
        except RuntimeError:  # no loop running in this thread: a worker thread
            threads.append(threading.current_thread().name)
        return real(rt, key)

    monkeypatch.setattr(admin, "authenticate", spy)
    with TestClient(app) as c:
        for _ in range(3):
            assert c.get("/v1/topics", headers=headers).status_code == 403
    assert len(threads) == 1 and threads[0] != "event loop", threads


def test_docs_and_schema_need_a_key_unless_public():
    settings, app = _app()
    with TestClient(app) as c:
        for path in ("/docs", "/openapi.json", "/redoc"):
            assert c.get(path).status_code == 401, path
        assert c.get("/openapi.json", headers=auth(settings, "helpdesk")).status_code == 200
        assert c.get("/docs", headers=auth(settings, "manager")).status_code == 200
    _, public = _app(public_docs=True)
    with TestClient(public) as c:
        assert c.get("/openapi.json").status_code == 200 and c.get("/docs").status_code == 200
        assert c.get("/v1/rubrics").status_code == 401  # only the docs are public


def test_metrics_need_an_admin_key_unless_public():
    settings, app = _app()
    with TestClient(app) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers=auth(settings, "analyst")).status_code == 403
        assert c.get("/metrics", headers=auth(settings, "admin")).status_code == 200
    _, public = _app(public_metrics=True)
    with TestClient(public) as c:
        assert c.get("/metrics").status_code == 200
        assert c.get("/openapi.json").status_code == 401


def test_unknown_paths_are_closed_too():
    _, app = _app()
    with TestClient(app) as c:
        assert c.get("/v1/nothing-here").status_code == 401
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 503


@pytest.mark.parametrize("given,echoed", [("abc-123_X.y", True), ("a" * 64, True), ("a" * 65, False),
                                          ("x" * 10_000, False), ("bad id;<script>", False), ("", False)])
def test_request_id_is_echoed_only_when_short_and_plain(given, echoed):
    _, app = _app()
    with TestClient(app) as c:
        r = c.get("/healthz", headers={"X-Request-ID": given})
        r401 = c.get("/v1/rubrics", headers={"X-Request-ID": given})
    for resp in (r, r401):
        rid = resp.headers["x-request-id"]
        assert (rid == given) is echoed and len(rid) <= 64


@pytest.mark.parametrize("path,body,field", [
    ("/v1/score", {"transcript": {"id": "t" * 300, "turns": [{"speaker": "agent", "text": "Hola"}]}},
     "transcript.id"),
    ("/v1/score", {"transcript": {"id": "t", "agent": {"id": "a" * 201},
                                  "turns": [{"speaker": "agent", "text": "Hola"}]}}, "transcript.agent.id"),
    ("/v1/jobs/score", {"transcripts": [{"id": "t" * 300, "turns": [{"speaker": "agent", "text": "Hola"}]}]},
     "transcripts[0].id"),
    ("/v1/jobs/sentiment", {"comments": [{"id": "c" * 201, "text": "hola"}]}, "comments[0].id"),
    ("/v1/jobs/sentiment", {"comments": [{"id": "c", "text": "hola", "team": "t" * 201}]}, "comments[0].team"),
    ("/v1/jobs/sentiment", {"comments": [{"id": "c", "text": "hola"}], "source": "s" * 201}, "source"),
    ("/v1/topics/fit", {"comments": [{"id": "c" * 300, "text": "hola"}]}, "comments[0].id"),
])
def test_record_ids_longer_than_their_columns_are_422(path, body, field):
    settings, app = _app()
    app.state.sentiment = object()  # past the readiness check: validation answers first
    with TestClient(app, headers=auth(settings, "admin")) as c:
        r = c.post(path, json=body)
    assert r.status_code == 422, r.text
    assert field in [d["field"] for d in r.json()["detail"]], r.json()


def test_uploaded_job_source_longer_than_its_column_is_422():
    settings, app = _app()
    with TestClient(app, headers=auth(settings, "analyst")) as c:
        r = c.post("/v1/jobs/sentiment", files={"file": ("c.jsonl", b'{"id": "1", "text": "hola"}\n')},
                   data={"source": "s" * 201})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "source", r.text

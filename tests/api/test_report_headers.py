"""Served report pages carry a Content-Security-Policy (nothing external; inline script and style only) and
``X-Content-Type-Options: nosniff``."""

from __future__ import annotations

from fastapi.testclient import TestClient

from qa_service.api.app import create_app
from qa_service.config import Settings
from tests.conftest import auth


def test_report_is_served_with_csp_and_nosniff(tmp_path):
    settings = Settings(data_dir=tmp_path)
    d = tmp_path / "reports" / "r-1"
    d.mkdir(parents=True)
    (d / "report.html").write_text("<!doctype html><html><head></head><body>ok</body></html>", encoding="utf-8")
    with TestClient(create_app(settings), headers=auth(settings, "analyst")) as c:
        r = c.get("/v1/reports/r-1")
    assert r.status_code == 200 and "ok" in r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = {p.split()[0]: p.split()[1:] for p in r.headers["content-security-policy"].split("; ")}
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'unsafe-inline'"] and csp["style-src"] == ["'unsafe-inline'"]
    assert not any(src.startswith(("http", "*")) or src == "'unsafe-eval'" for v in csp.values() for src in v)

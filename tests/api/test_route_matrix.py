"""Role-by-route matrix, generated from the OpenAPI schema: every route (method + path) in ``app.openapi()`` is
called with no key and with a key of each role, and the status is asserted. ``ACCESS`` below is the access table
(ARCHITECTURE.md, "Access"); a route that is not in it fails the test, so every new route must be classified.

A probe request fills path parameters with ids that do not exist and sends ``{}`` as the JSON body: an admitted
role gets the route's own answer (``OK`` below: 200, or 404 for an unknown id, or 422 for the empty body), a
role that is not admitted 403, no key 401.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from qa_service.api.app import create_app
from qa_service.config import Settings
from tests.conftest import auth

ROLES = ("none", "helpdesk", "analyst", "manager", "admin")
ALL = ("helpdesk", "analyst", "manager", "admin")
PUBLIC = ("none",) + ALL

# (method, path) -> (roles admitted, status an admitted role gets for the probe request)
ACCESS: dict[tuple[str, str], tuple[tuple[str, ...], int]] = {
    ("GET", "/healthz"): (PUBLIC, 200),
    ("GET", "/readyz"): (PUBLIC, 200),
    # live sentiment: the helpdesk's one route
    ("POST", "/v1/sentiment"): (("helpdesk", "analyst", "admin"), 422),
    # scoring and the rubric catalogue (managers read rubrics)
    ("POST", "/v1/score"): (("analyst", "admin"), 422),
    ("GET", "/v1/rubrics"): (("analyst", "manager", "admin"), 200),
    ("GET", "/v1/rubrics/{rubric_id}"): (("analyst", "manager", "admin"), 404),
    # feedback analysis: fitting and complaint finding write models, reports and topic assignments (analysts);
    # reading them, and tagging texts with a fitted model (writes nothing), is open to managers too
    ("POST", "/v1/topics/fit"): (("analyst", "admin"), 422),
    ("GET", "/v1/topics"): (("analyst", "manager", "admin"), 200),
    ("GET", "/v1/topics/{model_id}"): (("analyst", "manager", "admin"), 404),
    ("POST", "/v1/topics/{model_id}/tag"): (("analyst", "manager", "admin"), 422),
    ("GET", "/v1/reports/{report_id}"): (("analyst", "manager", "admin"), 404),
    ("POST", "/v1/complaints"): (("analyst", "admin"), 422),
    # batch jobs: analysts' own (another analyst's job is a 404: tests/api/test_ownership.py)
    ("POST", "/v1/jobs/score"): (("analyst", "admin"), 422),
    ("POST", "/v1/jobs/sentiment"): (("analyst", "admin"), 422),
    ("POST", "/v1/jobs/topics"): (("analyst", "admin"), 422),
    ("GET", "/v1/jobs/{job_id}"): (("analyst", "admin"), 404),
    ("GET", "/v1/jobs/{job_id}/results"): (("analyst", "admin"), 404),
    # stored scores: read by analysts (their own) and managers; reviewed by analysts only
    ("GET", "/v1/scores"): (("analyst", "manager", "admin"), 200),
    ("GET", "/v1/scores/{score_id}"): (("analyst", "manager", "admin"), 404),
    ("POST", "/v1/scores/{score_id}/reviews"): (("analyst", "admin"), 404),
    ("POST", "/v1/scores/{score_id}/disputes"): (("analyst", "admin"), 422),
    # corrections: the helpdesk and analysts correct sentiment results
    ("POST", "/v1/sentiment/feedback"): (("helpdesk", "analyst", "admin"), 422),
    # the model loop: snapshots, training, the registry (admins only)
    ("POST", "/v1/data/snapshots"): (("admin",), 422),
    ("GET", "/v1/data/snapshots"): (("admin",), 200),
    ("POST", "/v1/jobs/train"): (("admin",), 422),
    ("GET", "/v1/models"): (("admin",), 200),
    ("POST", "/v1/models/{task}/compare"): (("admin",), 422),
    ("POST", "/v1/models/{task}/promote"): (("admin",), 422),
    ("POST", "/v1/models/{task}/rollback"): (("admin",), 422),
}
# Routes outside the schema, each behind a setting (QA_PUBLIC_DOCS, QA_PUBLIC_METRICS; both off by default).
HIDDEN: dict[tuple[str, str], tuple[tuple[str, ...], int]] = {
    ("GET", "/docs"): (ALL, 200),
    ("GET", "/redoc"): (ALL, 200),
    ("GET", "/openapi.json"): (ALL, 200),
    ("GET", "/metrics"): (("admin",), 200),
}

_settings = Settings(embedded_worker=False)
_app = create_app(_settings, load_models=False)
ROUTES = sorted((m.upper(), p) for p, ops in _app.openapi()["paths"].items() for m in ops)


@pytest.fixture(scope="module")
def client(sentiment):
    from qa_service.runtime import get_runtime
    from qa_service.usecases.admin import prepare_database

    prepare_database(get_runtime(_settings))
    with TestClient(_app) as c:
        _app.state.sentiment = sentiment
        _app.state.model_versions = {"sentiment": "test"}
        c.keys = {"none": {}, **{role: auth(_settings, role) for role in ALL}}
        yield c


def _probe(client, method: str, path: str, role: str) -> int:
    url = re.sub(r"\{score_id\}", "987654321", path)
    url = re.sub(r"\{[^}]+\}", "doesnotexist0", url)
    kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    return client.request(method, url, headers=client.keys[role], **kwargs).status_code


def expected(table, method: str, path: str, role: str) -> int:
    admitted, ok = table[(method, path)]
    if role in admitted:
        return ok
    return 401 if role == "none" else 403


def test_every_route_in_the_schema_is_classified():
    assert [r for r in ROUTES if r not in ACCESS] == [], "classify new routes in ACCESS"
    assert [r for r in ACCESS if r not in ROUTES] == [], "ACCESS names routes the app no longer has"


@pytest.mark.parametrize("method,path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_route_by_role(client, method, path):
    if (method, path) not in ACCESS:
        pytest.fail(f"{method} {path} is not in the access table")
    got = {role: _probe(client, method, path, role) for role in ROLES}
    want = {role: expected(ACCESS, method, path, role) for role in ROLES}
    assert got == want


@pytest.mark.parametrize("method,path", sorted(HIDDEN), ids=[f"{m} {p}" for m, p in sorted(HIDDEN)])
def test_routes_outside_the_schema_by_role(client, method, path):
    got = {role: _probe(client, method, path, role) for role in ROLES}
    assert got == {role: expected(HIDDEN, method, path, role) for role in ROLES}

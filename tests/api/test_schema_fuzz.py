"""Schemathesis: cases generated from the OpenAPI schema against the real app; no response may be a 5xx."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings as hsettings  # noqa: E402

from qa_service.api.app import create_app  # noqa: E402
from qa_service.config import Settings  # noqa: E402
from tests.conftest import api_key  # noqa: E402

_settings = Settings(embedded_worker=False, max_topic_texts=200)
_app = create_app(_settings, load_models=False)
_HEADERS = {"Authorization": f"Bearer {api_key(_settings)}"}
schema = schemathesis.openapi.from_asgi("/openapi.json", _app)
CASES: list[int] = []
MIN_CASES = 500


@pytest.fixture(scope="module", autouse=True)
def _models(sentiment):
    # The lifespan is not run by the ASGI transport: load what it would.
    from qa_service.runtime import get_runtime
    from qa_service.usecases.admin import prepare_database

    prepare_database(get_runtime(_settings))
    _app.state.sentiment = sentiment
    _app.state.model_versions = {"sentiment": "test"}


@schema.parametrize()
@hsettings(max_examples=45, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case):
    response = case.call(headers=_HEADERS)
    CASES.append(response.status_code)
    assert response.status_code < 500, f"{case.method} {case.path} -> {response.status_code}: {response.text[:300]}"


def test_enough_cases_were_generated():
    """Runs after the generated tests (same module, defined last)."""
    from collections import Counter

    print(f"\nschemathesis: {len(CASES)} cases, status codes {sorted(Counter(CASES).items())}")
    assert len(CASES) >= MIN_CASES

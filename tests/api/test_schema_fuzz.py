"""Schemathesis: cases generated from the OpenAPI schema against the real app, each sent with no key and with a key
of every role; no response may be a 5xx. The seed is random (printed; set QA_FUZZ_SEED to replay one). Time is
bounded per operation: after ``OP_BUDGET_S`` seconds on one operation its remaining examples are not sent (so a
slow route, a topic fit, cannot eat the others' share; the file stays under ~2 minutes on 2 cores)."""

from __future__ import annotations

import os
import random
import time

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, seed, settings as hsettings  # noqa: E402

from qa_service.api.app import create_app  # noqa: E402
from qa_service.config import Settings  # noqa: E402
from tests.conftest import auth  # noqa: E402

_settings = Settings(embedded_worker=False, max_topic_texts=200)
_app = create_app(_settings, load_models=False)
ROLES = ("none", "helpdesk", "analyst", "manager", "admin")
_HEADERS = {"none": {}, **{role: auth(_settings, role) for role in ROLES[1:]}}
schema = schemathesis.openapi.from_asgi("/openapi.json", _app, headers=_HEADERS["admin"])  # the schema needs a key
SEED = int(os.environ.get("QA_FUZZ_SEED") or random.randrange(2**32))
OP_BUDGET_S = float(os.environ.get("QA_FUZZ_OP_BUDGET_S", "5"))
STARTED: dict[str, float] = {}
CASES: list[tuple[str, str, int]] = []
MIN_CASES = 400


@pytest.fixture(scope="module", autouse=True)
def _models(sentiment):
    # The lifespan is not run by the ASGI transport: load what it would.
    from qa_service.runtime import get_runtime
    from qa_service.usecases.admin import prepare_database

    prepare_database(get_runtime(_settings))
    _app.state.sentiment = sentiment
    _app.state.model_versions = {"sentiment": "test"}


@schema.parametrize()
@seed(SEED)
@hsettings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    started = STARTED.setdefault(f"{case.method} {case.operation.path}", time.monotonic())
    if time.monotonic() - started > OP_BUDGET_S:
        return
    for role in ROLES:
        response = case.call(headers=_HEADERS[role])
        CASES.append((role, case.path, response.status_code))
        assert response.status_code < 500, (f"seed {SEED}, role {role}: {case.method} {case.path} -> "
                                            f"{response.status_code}: {response.text[:300]}")


def test_enough_cases_were_generated():
    """Runs after the generated tests (same module, defined last)."""
    from collections import Counter

    print(f"\nschemathesis (seed {SEED}): {len(CASES)} calls, (role, status) "
          f"{sorted(Counter((role, status) for role, _, status in CASES).items())}")
    assert len(CASES) >= MIN_CASES
    assert {role for role, _, _ in CASES} == set(ROLES)
    # Without a key nothing under /v1 answers anything but 401; every role with a key got past authentication.
    assert {status for role, path, status in CASES if role == "none" and path.startswith("/v1")} == {401}
    assert {role for role, path, status in CASES if path.startswith("/v1") and status not in (401, 403)} == \
        set(ROLES) - {"none"}

"""Shared fixtures: the real shipped sentiment bundle, loaded once per test session."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Nothing a test does may touch the user's data directory or database.
os.environ["QA_DATA_DIR"] = tempfile.mkdtemp(prefix="qa-test-data-")
if os.environ.get("QA_TEST_DATABASE_URL"):  # CI's PostgreSQL run
    os.environ["QA_DATABASE_URL"] = os.environ["QA_TEST_DATABASE_URL"]
else:
    os.environ.pop("QA_DATABASE_URL", None)

from qa_service.config import REPO_ROOT, Settings

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

# The test process is its own composition root: UMAP's numba code is cached where the service caches it (pipelines
# do not touch the environment). Set before UMAP is first imported.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Settings().numba_cache_dir))


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def sentiment(settings):
    from qa_service.runtime import get_runtime

    return get_runtime(settings).sentiment()


@pytest.fixture()
def bundle_copy(tmp_path: Path, settings: Settings) -> Path:
    """A writable copy of models/ (for corrupting artefacts or promoting versions)."""
    dst = tmp_path / "models"
    shutil.copytree(settings.models_dir, dst)
    return dst


def api_key(settings: Settings, role: str = "admin") -> str:
    """A new API key of ``role`` in the settings' database (migrated first if new)."""
    from qa_service.runtime import get_runtime
    from qa_service.usecases.admin import create_key

    return create_key(get_runtime(settings), role, name="tests")[1]


def auth(settings: Settings, role: str = "admin") -> dict[str, str]:
    """Request headers carrying a new key of ``role``."""
    return {"Authorization": f"Bearer {api_key(settings, role)}"}


def needs_shared_data() -> pytest.MarkDecorator:
    return pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data is not beside the checkout")


_MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}


def hotel_comments(n: int = 400, seed: int = 3) -> list[dict]:
    """Real Spanish hotel reviews (shared/data/cuba_hotels) as survey comments: text, month as ``created_at``,
    the 1-5 rating as ``score``. Channel and team are assigned round-robin (the source has none) so the
    report's filters have something to filter."""
    import random

    import openpyxl

    wb = openpyxl.load_workbook(SHARED_DATA / "cuba_hotels" / "cuba_hotels_sentiment.xlsx", read_only=True)
    rows = []
    for i, (title, text, cls, when) in enumerate(wb.active.iter_rows(min_row=2, values_only=True)):
        parts = str(when or "").split()
        if len(parts) == 2 and parts[0] in _MONTHS and parts[1] in ("2018", "2019") and text and cls:
            rows.append({"id": f"h{i}", "text": " ".join(str(text).split()),
                         "created_at": f"{parts[1]}-{_MONTHS[parts[0]]:02d}-01", "score": int(cls)})
    rows = random.Random(seed).sample(rows, min(n, len(rows)))
    for k, r in enumerate(rows):
        r["channel"] = ("web", "app", "email")[k % 3]
        r["team"] = ("recepcion", "reservas")[k % 2]
    return rows


def write_csv(path: Path, rows: list[dict]) -> Path:
    import csv

    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path

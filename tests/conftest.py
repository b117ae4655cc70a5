"""Shared fixtures: the real shipped sentiment bundle, loaded once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa_service.config import REPO_ROOT, Settings

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def sentiment(settings):
    from qa_service.services import load_sentiment_model

    return load_sentiment_model(settings)


@pytest.fixture()
def bundle_copy(tmp_path: Path, settings: Settings) -> Path:
    """A writable copy of models/ (for corrupting artefacts or promoting versions)."""
    dst = tmp_path / "models"
    shutil.copytree(settings.models_dir, dst)
    return dst


def needs_shared_data() -> pytest.MarkDecorator:
    return pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data is not beside the checkout")

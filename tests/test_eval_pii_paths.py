"""eval/pii_paths.py on a tiny subset: a planted card number and an English name must not survive in what the
sentiment job and ingest store; with redaction off the same measurement must see them (it can fail)."""

from __future__ import annotations

import random

import pytest

from eval import pii_paths
from eval.pii_set import build

CARD = "4539 1488 0343 6467"  # Luhn-valid, synthetic
NAME = "Jennifer Hawkins"


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    planted = [
        {"text": f"My card number is {CARD}, expiring in May.", "language": "en",
         "spans": [[18, 18 + len(CARD), "CREDIT_CARD"]]},
        {"text": f"Hi, this is {NAME} calling about my bill.", "language": "en",
         "spans": [[12, 12 + len(NAME), "PERSON"]]},
    ]
    return planted + random.Random(3).sample(build(2026, per_template=1), 18)


def _planted(res: dict) -> dict[str, int]:
    return {r["entity"]: r["leaks"] for r in res["per_entity"]
            if r["language"] == "en" and r["entity"] in ("CREDIT_CARD", "PERSON")}


def test_planted_card_and_english_name_do_not_survive_storage(rows, tmp_path):
    res = pii_paths.evaluate(rows, 2026, paths=("sentiment_job", "ingest_comments"), root=tmp_path)
    for path in ("sentiment_job", "ingest_comments"):
        assert _planted(res[path]) == {"CREDIT_CARD": 0, "PERSON": 0}, path
        assert res[path]["overall"]["all"]["anywhere"] == res[path]["overall"]["all"]["leaks"]
    for path in ("sentiment_job", "ingest_comments"):  # not in any row of any table, nor any file
        from qa_service.config import Settings
        from qa_service.runtime import Runtime

        everything = pii_paths.everything_stored(Runtime(Settings(data_dir=tmp_path / path / "data")))
        assert "pii-0000" in everything  # the records are there...
        assert CARD not in everything and CARD.replace(" ", "") not in everything
        assert NAME not in everything  # ...their card and name are not


def test_measurement_sees_leaks_when_nothing_is_redacted(rows, tmp_path):
    res = pii_paths.evaluate(rows[:2], 2026, paths=("sentiment_job",), settings_kw={"pii_mode": "keep"},
                             root=tmp_path)["sentiment_job"]
    assert _planted(res) == {"CREDIT_CARD": 1, "PERSON": 1}
    assert res["overall"]["all"]["recall"] == 0.0

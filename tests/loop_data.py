"""Labelled sets for the model-loop tests: customer-service messages (es and en, three classes; eval/customer_messages),
a sample of real Amazon reviews (es) as a base training set, and the blind evaluation transcripts of eval/transcripts
as the rubric base (tune split) and gate (report split) sets; written as a catalogue (QA_DATASETS_DIR)."""

from __future__ import annotations

import random

from eval.customer_messages import messages

__all__ = ["amazon_sample", "messages", "write_datasets"]


def amazon_sample(n: int = 80, seed: int = 5) -> list[dict]:
    """``n`` real Amazon reviews (es) from ../shared/data, stars mapped to labels."""
    import json

    from tests.conftest import SHARED_DATA

    rows = [json.loads(line) for line in open(SHARED_DATA / "amazon_reviews_multi_es" / "dataset_es_dev.json",
                                              encoding="utf-8") if line.strip()]
    rows = random.Random(seed).sample(rows, n)
    lab = lambda s: "negative" if s <= 2 else ("neutral" if s == 3 else "positive")  # noqa: E731
    return [{"text": " ".join(r["review_body"].split()), "label": lab(int(r["stars"])), "language": "es"}
            for r in rows]


def write_datasets(root, gate_messages: int = 160, amazon: int = 80) -> list[dict]:
    """Write base and gate sets and their catalogue into ``root``; returns the gate messages."""
    from pathlib import Path

    from qa_service.io.labelled import write_catalog, write_jsonl

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    gate = messages(gate_messages, seed=2, numbers=range(100, 400))
    write_jsonl(root / "gate-es.jsonl", [m for m in gate if m["language"] == "es"])
    write_jsonl(root / "gate-en.jsonl", [m for m in gate if m["language"] == "en"])
    write_jsonl(root / "amazon.jsonl", amazon_sample(amazon))
    from training.export_sets import rubric_sets

    (tune_entry, tune), (report_entry, report) = rubric_sets()
    write_jsonl(root / "transcripts-tune.jsonl", tune)
    write_jsonl(root / "transcripts-report.jsonl", report)
    write_catalog(root, [
        {"name": "messages/gate-es", "task": "sentiment", "role": "gate", "language": "es", "file": "gate-es.jsonl",
         "source": "customer messages written for the tests", "licence": "project's own"},
        {"name": "messages/gate-en", "task": "sentiment", "role": "gate", "language": "en", "file": "gate-en.jsonl",
         "source": "customer messages written for the tests", "licence": "project's own"},
        {"name": "amazon_es/sample", "task": "sentiment", "role": "base", "language": "es", "file": "amazon.jsonl",
         "source": "amazon_reviews_multi (es)", "licence": "Amazon: academic research only"},
        {**tune_entry, "file": "transcripts-tune.jsonl"},
        {**report_entry, "file": "transcripts-report.jsonl"},
    ])
    return gate

"""Finding 7: a request's deadline stops long use cases between batches and stages (not only the 504)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from qa_service.config import Settings
from qa_service.errors import Deadline, DeadlineExceededError
from qa_service.schemas import Comment
from qa_service.usecases.feedback import fit_topics
from qa_service.usecases.sentiment import label_texts


class ExpiresAfter(Deadline):
    """A deadline that passes after ``n`` checks (a tiny timeout, made deterministic)."""

    def __init__(self, n: int) -> None:
        super().__init__(60)
        self.left, self.stages = n, []

    def check(self, stage: str = "") -> None:
        self.stages.append(stage)
        self.left -= 1
        if self.left < 0:
            self.at = 0.0
        super().check(stage)


def test_a_passed_deadline_raises():
    with pytest.raises(DeadlineExceededError, match="0.001 s"):
        d = Deadline(0.001)
        while True:
            d.check("x")


def test_batch_sentiment_stops_within_one_batch():
    calls = []
    pipe = SimpleNamespace(predict=lambda texts: calls.append(len(texts)) or [None] * len(texts))
    rt = SimpleNamespace(settings=Settings(max_texts=1000), sentiment=lambda: pipe)
    with pytest.raises(DeadlineExceededError, match="sentiment"):
        label_texts(rt, [f"texto {i}" for i in range(640)], ExpiresAfter(2), batch_size=64)
    assert calls == [64, 64]  # two batches ran, the other eight never started


def test_topic_fit_stops_before_embedding_and_writes_nothing(tmp_path):
    langs = SimpleNamespace(detect_many=lambda texts, default=None: ["es"] * len(texts))
    rt = SimpleNamespace(settings=Settings(), redactor=lambda: None, topic_model=None, language_id=lambda: langs,
                         new_topic_model=lambda **kw: SimpleNamespace(embed=pytest.fail), sentiment=lambda: None,
                         topic_sentiment=lambda: None)
    comments = [Comment(id=str(i), text=f"comentario {i}") for i in range(10)]
    with pytest.raises(DeadlineExceededError, match="embeddings"):
        fit_topics(rt, comments, tmp_path / "out", tmp_path / "model", "v1", source_name="t",
                   deadline=ExpiresAfter(0))
    assert not (tmp_path / "out").exists() and not (tmp_path / "model").exists()

"""Topic and complaint fits score sentiment with QA_TOPIC_SENTIMENT_MODEL (default 1.0.0, the head on the topic
encoder, which reads the embeddings the fit cached); the served model stays QA_SENTIMENT_MODEL's."""

from __future__ import annotations

from datetime import datetime

from qa_service.config import Settings
from qa_service.runtime import Runtime
from qa_service.schemas import Comment
from tests.conftest import hotel_comments, needs_shared_data


def test_topic_fits_read_the_head_on_the_topic_encoder_while_the_served_model_stays(settings):
    rt = Runtime(settings)
    pipe = rt.topic_sentiment()
    from qa_service.bundles import current_version

    assert pipe.version == "1.0.0" and rt.sentiment().version == current_version(settings.models_dir, "sentiment")
    assert rt.sentiment() is not pipe
    # the very encoder (and embedding cache) the topic model embeds with: its embeddings are read, not recomputed
    assert pipe.encoder_model() is rt.encoder(settings.topic_encoder)
    assert rt.topic_sentiment() is pipe  # loaded once


def test_current_follows_the_served_model(tmp_path):
    rt = Runtime(Settings(topic_sentiment_model="current", data_dir=tmp_path))
    assert rt.topic_sentiment() is rt.sentiment()


@needs_shared_data()
def test_a_topic_fit_scores_with_the_topic_sentiment_model_never_the_served_one(tmp_path, settings):
    from qa_service.usecases.feedback import fit_topics

    rt = Runtime(settings)
    served, used = rt.sentiment(), rt.topic_sentiment()
    calls = {"served": 0}
    original = served.predict
    served.predict = lambda *a, **k: (calls.__setitem__("served", calls["served"] + 1), original(*a, **k))[1]
    comments = [Comment(**{**r, "created_at": datetime.fromisoformat(r["created_at"])}) for r in hotel_comments(150)]
    fit = fit_topics(rt, comments, tmp_path / "out", tmp_path / "model", "t", source_name="test", period="month")
    assert calls["served"] == 0  # the transformer never ran
    assert {r.model_version for r in fit.analysis.sentiment} == {used.version}

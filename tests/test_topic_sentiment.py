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


@needs_shared_data()
def test_languages_given_change_only_the_language_field_of_a_model_that_does_not_read_them(settings):
    pipe = Runtime(settings).topic_sentiment()
    assert pipe.reads_language is False  # one temperature, the most probable label
    texts = [r["text"] for r in hotel_comments(40)] + ["The room was dirty and nobody answered the phone.",
                                                        "Great stay, lovely staff!"]
    given, detected = pipe.predict(texts, languages=["other"] * len(texts)), pipe.predict(texts)
    assert [(r.label, r.probabilities) for r in given] == [(r.label, r.probabilities) for r in detected]
    assert {r.language for r in detected} == {"es", "en"} and {r.language for r in given} == {"other"}
    pipe.decision_ = {"method": "negative-threshold", "thresholds": {"en": 0.2}}  # now the language moves labels
    try:
        assert pipe.reads_language is True
    finally:
        pipe.decision_ = None


@needs_shared_data()
def test_a_fit_passes_each_comments_language_only_to_a_model_that_does_not_read_it(tmp_path, settings):
    """The comments' languages are detected once (before redaction); the default topic sentiment model takes them
    instead of detecting them again, a model whose labels depend on the language detects them on what it reads."""
    from qa_service.usecases.feedback import fit_topics

    rt = Runtime(settings)
    pipe = rt.topic_sentiment()
    comments = [Comment(**{**r, "created_at": datetime.fromisoformat(r["created_at"])}) for r in hotel_comments(120)]
    seen: list[bool] = []
    original = pipe.predict
    pipe.predict = lambda texts, *a, **k: (seen.append(k.get("languages") is not None), original(texts, *a, **k))[1]
    try:
        fit = fit_topics(rt, comments, tmp_path / "a", tmp_path / "ma", "t", source_name="test", period="month")
        assert seen[0] is True  # the comments' batch (complaint quotes, sentences, come later and detect theirs)
        assert {r.language for r in fit.analysis.sentiment} <= {"es", "en", "other"}
        seen.clear()
        pipe.decision_ = {"method": "negative-threshold", "thresholds": {"en": 0.2}}
        fit_topics(rt, comments, tmp_path / "b", tmp_path / "mb", "t", source_name="test", period="month")
        assert seen[0] is False
    finally:
        pipe.decision_ = None
        del pipe.predict

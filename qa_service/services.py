"""Loading the models a process serves, once, from Settings (shared by the CLI and the API lifespan)."""

from __future__ import annotations

from pathlib import Path

from qa_service.config import Settings
from qa_service.models import resolve_bundle


def load_sentiment_model(settings: Settings, ref: str | None = None):
    """The sentiment pipeline named by ``ref`` or ``settings.sentiment_model`` (verified on load)."""
    from qa_service.pipelines.sentiment import load_sentiment

    bundle: Path = resolve_bundle(settings.models_dir, "sentiment", ref or settings.sentiment_model)
    pipe = load_sentiment(bundle)
    # Build the language identifier now rather than on the first request.
    from qa_service.text.language import get_language_identifier

    get_language_identifier()
    return pipe


def build_scorer(settings: Settings, rubric_ref: str, sentiment=None):
    """A :class:`RubricScorer` for a rubric name or path, with the configured encoder and sentiment model."""
    from qa_service.rubrics import load_rubric

    rubric = load_rubric(rubric_ref, settings.rubrics_dir)
    return make_scorer(settings, rubric, sentiment if sentiment is not None else load_sentiment_model(settings))


def make_scorer(settings: Settings, rubric, sentiment):
    """A :class:`RubricScorer` for a validated rubric, with its calibration (if any) and the configured encoder."""
    from qa_service.encoders import load_encoder
    from qa_service.pipelines.rubric import RubricScorer

    cal = load_calibration(settings, rubric)
    return RubricScorer(rubric, encoder=load_encoder(settings.encoder, settings), sentiment=sentiment,
                        thresholds=cal.get("thresholds"), kappa=cal.get("kappa"), min_kappa=settings.min_kappa)


def load_calibration(settings: Settings, rubric) -> dict:
    """Thresholds and per-criterion kappa fitted by ``python -m eval.scoring`` for this rubric version, if any."""
    import json
    import logging

    f = settings.rubrics_dir / f"{rubric.id}.calibration.json"
    if not f.exists():
        return {}
    try:
        cal = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        logging.getLogger("qa_service").warning("ignoring unreadable calibration %s", f)
        return {}
    if cal.get("rubric", {}).get("version") != rubric.version:
        logging.getLogger("qa_service").warning("ignoring %s: it is for version %s, the rubric is %s", f,
                                                cal.get("rubric", {}).get("version"), rubric.version)
        return {}
    return cal


def build_topic_model(settings: Settings, **params):
    """An unfitted :class:`TopicModel` on the configured topic encoder (numba cache in the cache directory)."""
    from qa_service.encoders import load_encoder
    from qa_service.pipelines.topics import TopicModel

    return TopicModel(encoder=load_encoder(settings.topic_encoder, settings), **params)


def load_topic_model(settings: Settings, ref: str):
    """A fitted topic model from a bundle path or a version under ``models/topics``, with the encoder it was
    fitted on (verified by fingerprint)."""
    from qa_service.encoders import load_encoder
    from qa_service.models import read_manifest
    from qa_service.pipelines.topics import TopicModel

    bundle = resolve_bundle(settings.models_dir, "topics", ref)
    manifest = read_manifest(bundle, "topics")
    encoder = load_encoder(manifest.get("base_encoder", {}).get("name") or settings.topic_encoder, settings)
    model = TopicModel.load(bundle, encoder=encoder, manifest=manifest)
    model.cache_dir = settings.numba_cache_dir
    return model

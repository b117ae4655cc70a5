"""The composition root: one :class:`Runtime` per configuration, built from Settings, shared by the API, the
command line and the job worker.

It is the one place that builds models: encoders (one per name), the sentiment pipeline, rubric scorers and
fitted topic models (one LRU for both), the PII redactor and the language identifier. Everything is built on
first use and reused, so ``qa-service --help`` stays instant and a server or worker loads each model once.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Callable

from qa_service.config import Settings, get_settings

# Scorers and fitted topic models kept per process (inline rubrics and many topic models could grow it).
CACHE_ENTRIES = 32


class ModelCache:
    """A thread-safe LRU of built models keyed by what they were built from."""

    def __init__(self, size: int = CACHE_ENTRIES) -> None:
        self.size = size
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_build(self, key: tuple, build: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = build()  # outside the lock: a slow build must not block the other entries
        with self._lock:
            value = self._items.setdefault(key, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class Runtime:
    """Everything a process serves, built once from ``settings``.

    Use :func:`get_runtime` rather than the constructor, so the API, the CLI and the worker in one process
    share one runtime (and its models) per configuration.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._encoders: dict[str, Any] = {}
        self._sentiment: dict[str, Any] = {}
        self._language_id: Any = None
        self._redactor: Any = None
        self._classifiers: dict[str, Any] | None = None
        self.models = ModelCache()
        # UMAP's numba-compiled code is cached on disk so only the first topic fit on a machine pays for it;
        # numba reads this when it is first imported, so the process sets it before any topic work.
        settings.numba_cache_dir.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("NUMBA_CACHE_DIR", str(settings.numba_cache_dir))

    # ------------------------------------------------------------------ storage
    def session(self) -> AbstractContextManager:
        """A database session that commits on success (``with rt.session() as s: ...``)."""
        from qa_service.store import session_scope

        return session_scope(self.settings.db_url)

    # ------------------------------------------------------------------ text
    def language_id(self):
        """The language identifier (lingua; ~2 s to build)."""
        with self._lock:
            if self._language_id is None:
                from qa_service.text.language import LanguageIdentifier

                self._language_id = LanguageIdentifier()
            return self._language_id

    def redactor(self):
        """The PII redactor (Presidio + spaCy), or ``None`` when the deployment keeps text as sent."""
        if self.settings.pii_mode != "redact":
            return None
        with self._lock:
            if self._redactor is None:
                from qa_service.text.pii import PIIRedactor

                self._redactor = PIIRedactor(self.settings.spacy_es)
            return self._redactor

    def record_language(self, text: str, given: str | None = None) -> str:
        """A record's language for redaction: as given by the record, else detected (English names are only
        found by the English model, so a fixed default would leave them in)."""
        return given or self.language_id().detect(text, default="es")

    # ------------------------------------------------------------------ models
    def encoder(self, name: str | None = None):
        """The encoder called ``name`` (default ``QA_ENCODER``), one per name."""
        name = name or self.settings.encoder
        with self._lock:
            if name not in self._encoders:
                from qa_service.encoders import load_encoder

                self._encoders[name] = load_encoder(name, self.settings)
            return self._encoders[name]

    def sentiment(self, ref: str | None = None):
        """The sentiment pipeline named by ``ref`` (default ``QA_SENTIMENT_MODEL``), verified on load."""
        default = self._sentiment.get("") if ref is None else None
        if default is not None:  # the live path: no file system look-up per request
            return default
        from qa_service.bundles import resolve_bundle

        bundle = resolve_bundle(self.settings.models_dir, "sentiment", ref or self.settings.sentiment_model)
        key = str(bundle.resolve())
        with self._lock:
            if ref is None and key in self._sentiment:
                self._sentiment[""] = self._sentiment[key]
            if key not in self._sentiment:
                from qa_service.pipelines.sentiment import load_sentiment

                pipe = load_sentiment(bundle, encoder_factory=self.encoder, threads=self.settings.threads)
                pipe.language_id_ = self.language_id()
                self._sentiment[key] = pipe
                if ref is None:
                    self._sentiment[""] = pipe
            return self._sentiment[key]

    def rubric(self, ref: str | Path | dict[str, Any]):
        """A validated rubric: a shipped rubric's name (str, looked up in the registry, never opened as a path),
        a rubric object (dict), or a YAML file the command line was given explicitly (Path). The pattern limits
        (QA_MAX_RUBRIC_PATTERNS, QA_MAX_PATTERN_CHARS) apply to all three."""
        from qa_service.io.rubrics import load_rubric, parse_rubric

        limits = {"max_patterns": self.settings.max_rubric_patterns,
                  "max_pattern_chars": self.settings.max_pattern_chars}
        if isinstance(ref, dict):
            return parse_rubric(ref, "rubric", **limits)
        return load_rubric(ref, self.settings.rubrics_dir, **limits)

    def scorer(self, rubric):
        """A :class:`RubricScorer` for a validated rubric (one per rubric content, so its patterns are compiled
        once), with its calibration. Call it off the event loop: building compiles the rubric's patterns."""
        key = ("scorer", hashlib.sha256(rubric.model_dump_json().encode()).hexdigest())
        return self.models.get_or_build(key, lambda: self._build_scorer(rubric))

    def _build_scorer(self, rubric):
        from qa_service.io.rubrics import load_calibration
        from qa_service.pipelines.rubric import RubricScorer

        cal = load_calibration(self.settings.rubrics_dir, rubric)
        return RubricScorer(rubric, encoder=self.encoder(), sentiment=self.sentiment(),
                            thresholds=cal.get("thresholds"), kappa=cal.get("kappa"), min_kappa=self.settings.min_kappa,
                            review_below=cal.get("review_below"), classifiers=self.rubric_classifiers())

    def rubric_classifiers(self) -> dict[str, Any]:
        """The trained criterion classifiers that rubrics' ``learned`` detectors name (``<rubrics_dir>/classifiers``,
        written by ``python -m eval.scoring`` or ``python -m training.rubric_classifier``), verified against the
        encoder; empty when none are shipped (``learned`` detectors then leave the decision to the others)."""
        with self._lock:
            if self._classifiers is None:
                from qa_service.pipelines.rubric.learned import load_classifiers

                bundle = self.settings.rubrics_dir / "classifiers"
                self._classifiers = load_classifiers(bundle, self.encoder()) if (bundle / "manifest.json").exists() \
                    else {}
            return self._classifiers

    def new_topic_model(self, **params):
        """An unfitted :class:`TopicModel` on the topic encoder (``QA_TOPIC_ENCODER``)."""
        from qa_service.pipelines.topics import TopicModel

        return TopicModel(encoder=self.encoder(self.settings.topic_encoder), **params)

    def topic_model(self, ref: str | Path):
        """A fitted topic model: a bundle path or a version under ``models/topics``, with the encoder it was
        fitted on (verified by fingerprint). Reloaded when the bundle changes (labels, merges)."""
        from qa_service.bundles import MANIFEST, resolve_bundle

        bundle = resolve_bundle(self.settings.models_dir, "topics", str(ref))
        stamp = (bundle / MANIFEST).stat().st_mtime_ns
        return self.models.get_or_build(("topics", str(bundle.resolve()), stamp),
                                        lambda: self._load_topic_model(bundle))

    def _load_topic_model(self, bundle: Path):
        from qa_service.bundles import read_manifest
        from qa_service.pipelines.topics import TopicModel

        manifest = read_manifest(bundle, "topics")
        encoder = self.encoder(manifest.get("base_encoder", {}).get("name") or self.settings.topic_encoder)
        return TopicModel.load(bundle, encoder=encoder, manifest=manifest)


_RUNTIMES: dict[str, Runtime] = {}
_RUNTIMES_LOCK = threading.Lock()


def get_runtime(settings: Settings | None = None) -> Runtime:
    """The process's runtime for ``settings`` (default: the process settings); one per configuration."""
    settings = settings or get_settings()
    key = settings.model_dump_json()
    with _RUNTIMES_LOCK:
        rt = _RUNTIMES.get(key)
        if rt is None:
            rt = _RUNTIMES[key] = Runtime(settings)
        return rt

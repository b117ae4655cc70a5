"""The composition root: one :class:`Runtime` per configuration, built from Settings, shared by the API, the
command line and the job worker.

It is the one place that builds models: encoders (one per name), the sentiment pipeline, rubric scorers and
fitted topic models (one LRU for both), the PII redactor and the language identifier. Everything is built on
first use and reused, so ``qa-service --help`` stays instant and a server or worker loads each model once.

Which sentiment model and which rubric calibrations are served follows the model registry's ``current`` alias
(``qa_service.store.models``; with ``QA_SENTIMENT_MODEL`` = a version or a path, the sentiment model is pinned).
Servers and workers call :meth:`Runtime.watch_registry`: a background thread re-reads the aliases every
``QA_MODEL_POLL_SECONDS``, loads a newly promoted (or rolled back) model off the request path and then swaps one
reference; requests already running keep the model object they started with, so none fails.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Callable

from qa_service.config import Settings, get_settings

# Scorers and fitted topic models kept per process (inline rubrics and many topic models could grow it).
CACHE_ENTRIES = 32
# Sentiment bundles kept loaded (the served one, the one before it for an instant rollback, candidates compared).
SENTIMENT_ENTRIES = 4

log = logging.getLogger("qa_service.runtime")


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
        self._sentiment = ModelCache(SENTIMENT_ENTRIES)
        self._language_id: Any = None
        self._redactor: Any = None
        self._classifiers: dict[str, dict[str, Any]] = {}
        self.models = ModelCache()
        # task -> (version, model) served by default: "sentiment" -> pipeline, "rubric:<id>" -> calibration dict.
        # Replaced whole (one reference) on a swap; readers take the tuple once and use it to the end.
        self._live: dict[str, tuple[str | None, Any]] = {}
        self._recent_rubrics: OrderedDict[str, Any] = OrderedDict()
        self._watcher: threading.Thread | None = None
        self._watch_stop = threading.Event()
        self._failed_swaps: set[tuple[str, str]] = set()
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

                enc = load_encoder(name, self.settings)
                if self.settings.embedding_cache:
                    from qa_service.encoders.cache import CachedEncoder

                    enc = CachedEncoder(enc, self.settings.embedding_cache_dir, self.settings.embedding_cache_mb)
                self._encoders[name] = enc
            return self._encoders[name]

    def follows_registry(self) -> bool:
        """Whether the default sentiment model follows the registry (``QA_SENTIMENT_MODEL`` latest/current)."""
        return self.settings.sentiment_model in ("latest", "current")

    def sentiment(self, ref: str | None = None):
        """The sentiment pipeline named by ``ref``: by default the one served (the registry's current version,
        or ``QA_SENTIMENT_MODEL`` when that pins one); else a version (shipped or trained) or a bundle path.
        Verified on load."""
        if ref is None:
            live = self._live.get("sentiment")
            if live is not None:  # the live path: no file system or database look-up per request
                return live[1]
            with self._lock:
                live = self._live.get("sentiment")
                if live is None:
                    version, bundle = self._default_sentiment_bundle()
                    pipe = self._load_sentiment(bundle)
                    live = self._live["sentiment"] = (version or pipe.version, pipe)
                return live[1]
        if ref in ("latest", "current") and self.follows_registry():
            return self.sentiment()
        return self._load_sentiment(self.sentiment_bundle(ref))

    def scoring_sentiment(self):
        """The sentiment model rubric scoring uses on every turn (``QA_SCORING_SENTIMENT_MODEL``: a version or a
        bundle, or ``served`` for the one :meth:`sentiment` serves)."""
        ref = self.settings.scoring_sentiment_model
        return self.sentiment() if ref == "served" else self.sentiment(ref)

    def topic_sentiment(self):
        """The sentiment model of topic and complaint fits (``QA_TOPIC_SENTIMENT_MODEL``): by default the head on
        the topic encoder, which reads the embeddings the fit has cached; ``current``/``latest``: the served one."""
        return self.sentiment(self.settings.topic_sentiment_model)

    def sentiment_bundle(self, ref: str) -> Path:
        """A sentiment bundle from a path, ``latest`` (the shipped default), or a version shipped or trained."""
        from qa_service.bundles import locate_version, resolve_bundle
        from qa_service.errors import ModelLoadError

        try:
            return resolve_bundle(self.settings.models_dir, "sentiment", ref)
        except ModelLoadError:
            if Path(ref).expanduser().exists() or ref in ("latest", "current"):
                raise
            return locate_version(self.settings.models_dir, self.settings.candidates_dir, "sentiment", ref)

    def _default_sentiment_bundle(self) -> tuple[str | None, Path]:
        """(registry version or None, bundle) of the sentiment model to serve."""
        if self.follows_registry():
            version = (self.registry_aliases() or {}).get("sentiment")
            if version:
                return version, self.sentiment_bundle(version)
        return None, self.sentiment_bundle(self.settings.sentiment_model)

    def _load_sentiment(self, bundle: Path):
        def build():
            from qa_service.pipelines.sentiment import load_sentiment

            pipe = load_sentiment(bundle, encoder_factory=self.encoder, threads=self.settings.threads,
                                  base_dir=self.settings.e5_converted_dir, cache_dir=self.settings.cache_dir,
                                  decision=self.settings.sentiment_decision)
            pipe.language_id_ = self.language_id()
            return pipe

        return self._sentiment.get_or_build((str(Path(bundle).resolve()),), build)

    # ------------------------------------------------------------------ registry and hot swap
    def registry_aliases(self) -> dict[str, str] | None:
        """task -> current version from the registry; ``None`` when there is none to read (no database yet, or
        one without the registry's tables). Never creates a database."""
        from qa_service.store import database_exists
        from qa_service.store import models as registry

        if not database_exists(self.settings.db_url):
            return None
        try:
            with self.session() as s:
                return registry.current_aliases(s)
        except Exception as exc:  # noqa: BLE001 - no registry (not migrated) or database unreachable: shipped defaults
            log.debug("model registry not readable: %s", type(exc).__name__)
            return None

    def served_versions(self) -> dict[str, str]:
        """task -> version of the models served now (the ones loaded so far)."""
        return {task: str(v) for task, (v, _) in list(self._live.items()) if v is not None}

    def refresh_models(self) -> dict[str, str]:
        """Read the registry's current aliases; load each changed model (off the request path) and swap it in.
        Returns ``{task: version}`` of what was swapped. A version that cannot be loaded is logged (once) and the
        model served now stays."""
        aliases = self.registry_aliases()
        if not aliases:
            return {}
        swapped: dict[str, str] = {}
        for task, version in aliases.items():
            live = self._live.get(task)
            if live is None or live[0] == version or (task, version) in self._failed_swaps:
                continue  # not in use yet (its first use loads the current one), or unchanged
            if task == "sentiment" and not self.follows_registry():
                continue
            try:
                if task == "sentiment":
                    model: Any = self._load_sentiment(self.sentiment_bundle(version))
                elif task.startswith("rubric:"):
                    model = self.load_calibration(task, version)
                else:
                    continue
            except Exception as exc:  # noqa: BLE001 - keep serving what works; say why once
                self._failed_swaps.add((task, version))
                log.error("cannot load %s version %s, still serving %s: %s", task, version, live[0], exc)
                continue
            self._live[task] = (version, model)  # the swap: one reference
            swapped[task] = version
            log.info("now serving %s version %s (was %s)", task, version, live[0])
        if swapped:
            self._prewarm_scorers()
        return swapped

    def watch_registry(self, interval: float | None = None) -> None:
        """Follow the registry in a background thread (once per runtime): every ``interval`` seconds (default
        ``QA_MODEL_POLL_SECONDS``) :meth:`refresh_models`."""
        with self._lock:
            if self._watcher is not None and self._watcher.is_alive():
                return
            self._watch_stop.clear()
            period = interval or self.settings.model_poll_seconds

            def loop() -> None:
                while not self._watch_stop.wait(period):
                    try:
                        self.refresh_models()
                    except Exception as exc:  # noqa: BLE001 - the next round tries again
                        log.warning("model registry check failed: %s", type(exc).__name__)

            self._watcher = threading.Thread(target=loop, daemon=True, name="model-registry-watch")
            self._watcher.start()

    def stop_watching(self) -> None:
        self._watch_stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None

    # ------------------------------------------------------------------ rubric calibrations
    def calibration(self, rubric) -> tuple[str | None, dict[str, Any]]:
        """(version, calibration) served for ``rubric``: the registry's current version of ``rubric:<id>``, else
        the shipped calibration file; empty when none is for this rubric version."""
        task = f"rubric:{rubric.id}"
        live = self._live.get(task)
        if live is None:
            version = (self.registry_aliases() or {}).get(task)
            try:
                cal = self.load_calibration(task, version) if version else self._shipped_calibration(rubric.id)
            except Exception as exc:  # noqa: BLE001 - a broken candidate must not stop scoring: shipped calibration
                log.error("cannot load %s version %s, using the shipped calibration: %s", task, version, exc)
                cal = self._shipped_calibration(rubric.id)
            live = self._live.setdefault(task, (cal.get("version"), cal))
        version, cal = live
        if cal.get("rubric", {}).get("version") != rubric.version:
            return None, {}
        return version, cal

    def _shipped_calibration(self, rubric_id: str) -> dict[str, Any]:
        from qa_service.io.rubrics import read_calibration

        cal = read_calibration(self.settings.rubrics_dir / f"{rubric_id}.calibration.json")
        if cal:
            cal["version"] = str(cal.get("rubric", {}).get("version"))
        return cal

    def load_calibration(self, task: str, version: str) -> dict[str, Any]:
        """Version ``version`` of a rubric calibration (``task`` = ``rubric:<id>``), shipped or trained, verified."""
        import json

        from qa_service.bundles import locate_version, read_manifest
        from qa_service.errors import ModelLoadError

        where = locate_version(self.settings.models_dir, self.settings.candidates_dir, task, version)
        if where.is_file():  # the shipped calibration: the seed version named by its rubric version
            cal = self._shipped_calibration(task.split(":", 1)[1])
            if cal.get("version") != version:
                raise ModelLoadError(f"{task} version {version!r} not found", str(where))
            return cal
        read_manifest(where, task=task)
        cal = json.loads((where / "calibration.json").read_text(encoding="utf-8"))
        cal["version"] = version
        if (where / "classifiers" / "manifest.json").exists():  # criterion classifiers trained with it
            cal["classifiers_path"] = str(where / "classifiers")
        return cal

    def _prewarm_scorers(self) -> None:
        for rubric in list(self._recent_rubrics.values()):
            try:
                self.scorer(rubric)
            except Exception:  # noqa: BLE001 - built again on its next use
                pass

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

    def scorer(self, rubric, calibration: tuple[str | None, dict[str, Any]] | None = None):
        """A :class:`RubricScorer` for a validated rubric (one per rubric content, calibration and sentiment model,
        so its patterns are compiled once), with the calibration served now (or ``calibration``: (version, dict),
        e.g. a candidate's). Call it off the event loop: building compiles the rubric's patterns."""
        digest = hashlib.sha256(rubric.model_dump_json().encode()).hexdigest()
        if calibration is None:
            calibration = self.calibration(rubric)
            self._recent_rubrics[digest] = rubric
            self._recent_rubrics.move_to_end(digest)
            while len(self._recent_rubrics) > 8:
                self._recent_rubrics.popitem(last=False)
        version, cal = calibration
        sentiment = self.scoring_sentiment()
        key = ("scorer", digest, version, id(cal), sentiment.version, id(sentiment))
        return self.models.get_or_build(key, lambda: self._build_scorer(rubric, version, cal, sentiment))

    def _build_scorer(self, rubric, version: str | None, cal: dict[str, Any], sentiment):
        from qa_service.pipelines.rubric import RubricScorer

        return RubricScorer(rubric, encoder=self.encoder(), sentiment=sentiment, thresholds=cal.get("thresholds"),
                            kappa=cal.get("kappa"), min_kappa=self.settings.min_kappa,
                            review_below=cal.get("review_below"),
                            classifiers=self.rubric_classifiers(cal.get("classifiers_path")),
                            versions={f"rubric:{rubric.id}": version} if version else None)

    def rubric_classifiers(self, bundle: str | Path | None = None) -> dict[str, Any]:
        """The trained criterion classifiers that rubrics' ``learned`` detectors name: those of a trained
        calibration (``bundle``, its ``classifiers/`` folder) or the shipped ones (``<rubrics_dir>/classifiers``,
        written by ``python -m eval.scoring``), verified against the encoder; empty when none are shipped
        (``learned`` detectors then leave the decision to the others)."""
        path = Path(bundle) if bundle else self.settings.rubrics_dir / "classifiers"
        key = str(path.resolve())
        with self._lock:
            if key not in self._classifiers:
                from qa_service.pipelines.rubric.learned import load_classifiers

                self._classifiers[key] = load_classifiers(path, self.encoder()) \
                    if (path / "manifest.json").exists() else {}
            return self._classifiers[key]

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

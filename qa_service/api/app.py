"""The FastAPI application factory. Models load once, in the lifespan, before the first request."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from qa_service import __version__
from qa_service.api.errors import install_error_handlers
from qa_service.api.routes import health, jobs, reviews
from qa_service.api.routes import scoring
from qa_service.api.routes import sentiment as sentiment_routes
from qa_service.api.routes import topics
from qa_service.config import Settings, get_settings
from qa_service.errors import ModelLoadError

log = logging.getLogger("qa_service.api")


def prepare_database(settings: Settings) -> None:
    """Apply the migrations to a new database; refuse to serve one that is behind (``qa-service db upgrade``)."""
    from qa_service.errors import QAServiceError
    from qa_service.store import current_revision, head_revision, is_new, upgrade

    if is_new(settings.db_url):
        log.info("new database: applying migrations")
        upgrade(settings.db_url)
        return
    current, head = current_revision(settings.db_url), head_revision()
    if current != head:
        raise QAServiceError(f"the database is at migration {current}, this version needs {head}: "
                             "run `qa-service db upgrade` first")


def _register_models(settings: Settings, manifests: dict) -> None:
    """Remember which model versions served (table model_versions)."""
    from qa_service.store import session_scope
    from qa_service.store.repository import register_model

    with session_scope(settings.db_url) as session:
        for task, manifest in manifests.items():
            if manifest:
                register_model(session, task, str(manifest.get("version", "unknown")), manifest)


def create_app(settings: Settings | None = None, load_models: bool = True, sentiment: Any = None) -> FastAPI:
    """Build the app.

    Args:
        settings: defaults to the process settings.
        load_models: load the bundles in the lifespan; ``False`` leaves the app unready.
        sentiment: an already loaded sentiment pipeline (``qa-service serve`` loads it before binding the port,
            so a broken bundle is a one-line error, not a server that never gets ready).
    """
    settings = settings or get_settings()
    from qa_service.api.middleware import configure_logging, install_operations

    configure_logging(settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        prepare_database(settings)
        if settings.auth_disabled:
            log.warning("QA_AUTH_DISABLED is set: the API serves anyone who can reach it. Use this only locally.")
        if sentiment is not None:
            pipe = sentiment
        elif load_models:
            from qa_service.services import load_sentiment_model

            try:
                pipe = load_sentiment_model(settings)
            except ModelLoadError as exc:
                # Fail start-up with one clear line naming the file rather than serving a broken model.
                log.error("cannot load models: %s", exc)
                app.state.load_error = str(exc)
                raise
        if sentiment is not None or load_models:
            app.state.sentiment = pipe
            manifest = getattr(pipe, "manifest_", {})
            app.state.model_versions = {"sentiment": str(manifest.get("version", "unknown"))}
            log.info("models loaded: %s", app.state.model_versions)
            _register_models(settings, {"sentiment": manifest})
        consumer = None
        if settings.embedded_worker:
            from qa_service.jobs import start_embedded_consumer

            consumer = start_embedded_consumer(settings, sentiment=app.state.sentiment)
        try:
            yield
        finally:
            if consumer is not None:
                consumer.stop(graceful=True)

    app = FastAPI(title="qa_service", version=__version__, lifespan=lifespan,
                  description="AI-assisted QA and feedback analysis for customer service (Spanish and English).")
    app.state.settings = settings
    app.state.sentiment = None
    app.state.load_error = None
    app.state.model_versions = {}
    install_error_handlers(app)
    install_operations(app, settings)
    app.include_router(health.router)
    app.include_router(sentiment_routes.router)
    app.include_router(scoring.router)
    app.include_router(topics.router)
    app.include_router(jobs.router)
    app.include_router(reviews.router)
    return app

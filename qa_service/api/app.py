"""The FastAPI application factory. Models load once, in the lifespan, before the first request."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from fastapi import FastAPI

from qa_service import __version__
from qa_service.api.errors import install_error_handlers
from qa_service.api.routes import data, health, jobs, reviews
from qa_service.api.routes import models as model_routes
from qa_service.api.routes import scoring
from qa_service.api.routes import sentiment as sentiment_routes
from qa_service.api.routes import topics
from qa_service.config import Settings, get_settings
from qa_service.errors import ModelLoadError
from qa_service.runtime import Runtime, get_runtime

log = logging.getLogger("qa_service.api")


def create_app(settings: Settings | None = None, load_models: bool = True, runtime: Runtime | None = None
               ) -> FastAPI:
    """Build the app.

    Args:
        settings: defaults to the process settings.
        load_models: load the bundles in the lifespan; ``False`` leaves the app unready.
        runtime: the composition root whose models the app serves (default: the process's runtime for
            ``settings``, shared with the CLI and the embedded job worker; ``qa-service serve`` loads the models
            before binding the port, so a broken bundle is a one-line error, not a server that never gets ready).
    """
    settings = settings or (runtime.settings if runtime else get_settings())
    rt = runtime or get_runtime(settings)
    from qa_service.api.middleware import configure_logging, install_operations

    configure_logging(settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from qa_service.usecases.admin import prepare_database

        if prepare_database(rt):
            log.info("new database: migrations applied")
        if settings.auth_disabled:
            log.warning("QA_AUTH_DISABLED is set: the API serves anyone who can reach it. Use this only locally.")
        if load_models:
            try:
                pipe = rt.sentiment()
                rt.language_id()
            except ModelLoadError as exc:
                # Fail start-up with one clear line naming the file rather than serving a broken model.
                log.error("cannot load models: %s", exc)
                app.state.load_error = str(exc)
                raise
            app.state.sentiment = pipe
            log.info("models loaded: %s", rt.served_versions())
            # Promotions and rollbacks in the registry reach this server within QA_MODEL_POLL_SECONDS.
            rt.watch_registry()
        consumer = None
        if settings.embedded_worker:
            from qa_service.usecases.jobs import start_embedded_consumer

            consumer = start_embedded_consumer(rt)
        try:
            yield
        finally:
            if consumer is not None:
                consumer.stop(graceful=True)

    app = FastAPI(title="qa_service", version=__version__, lifespan=lifespan,
                  description="AI-assisted QA and feedback analysis for customer service (Spanish and English).")
    app.state.settings = settings
    app.state.runtime = rt
    app.state.sentiment = None
    app.state.load_error = None
    install_error_handlers(app)
    install_operations(app, settings)
    app.include_router(health.router)
    app.include_router(sentiment_routes.router)
    app.include_router(scoring.router)
    app.include_router(topics.router)
    app.include_router(jobs.router)
    app.include_router(reviews.router)
    app.include_router(model_routes.router)
    app.include_router(data.router)
    return app

"""Dependencies injected into routes: settings and the runtime (models, storage)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from qa_service.config import Settings
from qa_service.errors import ModelNotReadyError
from qa_service.runtime import Runtime


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_app_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def get_ready_runtime(request: Request) -> Runtime:
    """The runtime, once the lifespan has loaded the models (503 before that, or when loading failed)."""
    if getattr(request.app.state, "sentiment", None) is None:
        raise ModelNotReadyError(request.app.state.load_error or "sentiment model is not loaded yet")
    return request.app.state.runtime


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
RuntimeDep = Annotated[Runtime, Depends(get_app_runtime)]
ModelsDep = Annotated[Runtime, Depends(get_ready_runtime)]

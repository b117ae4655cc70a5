"""Dependencies injected into routes: settings and loaded models."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from qa_service.config import Settings
from qa_service.errors import ModelNotReadyError


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_sentiment(request: Request) -> Any:
    pipe = getattr(request.app.state, "sentiment", None)
    if pipe is None:
        raise ModelNotReadyError(request.app.state.load_error or "sentiment model is not loaded yet")
    return pipe


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SentimentDep = Annotated[Any, Depends(get_sentiment)]

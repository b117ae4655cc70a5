"""Domain exceptions. The API maps them to HTTP status codes in ``api/errors.py``."""

from __future__ import annotations


class QAServiceError(Exception):
    """Base class for errors a user can act on."""


class InvalidInputError(QAServiceError):
    """Input that cannot be processed (empty text, unreadable file...)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class LimitExceededError(QAServiceError):
    """A request exceeds a configured limit (too many or too long texts)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ModelLoadError(QAServiceError):
    """A model bundle or asset is missing, corrupted or incompatible."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class NotFoundError(QAServiceError):
    """A named thing (job, score, topic model, report, rubric) does not exist (HTTP 404)."""


class ModelNotReadyError(QAServiceError):
    """Models are not loaded yet."""


class AuthenticationError(QAServiceError):
    """No API key, or one that is unknown or revoked (HTTP 401)."""


class PermissionDeniedError(QAServiceError):
    """A valid key whose role may not do this (HTTP 403)."""

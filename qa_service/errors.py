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


class GateRefusedError(QAServiceError):
    """A promotion the gate refuses: the candidate is worse than the current version beyond the tolerance on a gate
    metric (HTTP 409). ``gate`` holds the decision with every failing metric."""

    def __init__(self, message: str, gate: dict | None = None) -> None:
        super().__init__(message)
        self.gate = gate or {}
        self.field = "version"


class DeadlineExceededError(QAServiceError):
    """Work stopped because its caller's deadline passed (the API's QA_REQUEST_TIMEOUT; HTTP 504)."""


class Deadline:
    """A point in time after which long use cases stop, checked cooperatively between batches and stages.

    The API builds one per request from ``QA_REQUEST_TIMEOUT`` and passes it down; :meth:`check` raises
    :class:`DeadlineExceededError` once it has passed, so a request answered 504 stops using CPU at the next
    check (a model call already running, e.g. one batch's embedding or a clustering step, finishes first).
    """

    def __init__(self, seconds: float) -> None:
        import time

        self.seconds = seconds
        self._clock = time.monotonic
        self.at = self._clock() + seconds

    def remaining(self) -> float:
        return self.at - self._clock()

    def check(self, stage: str = "") -> None:
        """Raise :class:`DeadlineExceededError` when the deadline has passed."""
        if self._clock() >= self.at:
            where = f" (stopped at {stage})" if stage else ""
            raise DeadlineExceededError(f"request took longer than {self.seconds:g} s{where}; "
                                        "use a batch job for large inputs")


def check_deadline(deadline: Deadline | None, stage: str = "") -> None:
    """:meth:`Deadline.check` when there is a deadline (CLI and worker calls have none)."""
    if deadline is not None:
        deadline.check(stage)

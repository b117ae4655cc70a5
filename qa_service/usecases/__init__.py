"""Use cases: one function per user action, shared by the API, the command line and the job worker.

Each takes the process's :class:`~qa_service.runtime.Runtime` (models, storage) and plain values, and returns
results or domain errors; none knows of HTTP or the terminal."""

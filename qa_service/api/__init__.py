"""FastAPI application: thin routes over the pipelines."""

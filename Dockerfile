# One engine process. Run many behind a load balancer, sharing one Redis
# (FLOW_ENGINE_REDIS_URL); see docs/operations.md.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY flow_engine ./flow_engine
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
# the fonts of the PDF transcripts: text (DejaVu Sans) and emoji (Noto Color Emoji)
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core fonts-noto-color-emoji \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 engine
COPY --from=build /install /usr/local
COPY fixtures /app/fixtures
WORKDIR /app
USER engine
ENV FLOW_ENGINE_HOST=0.0.0.0 \
    FLOW_ENGINE_PORT=8080 \
    PYTHONUNBUFFERED=1
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)" || exit 1
CMD ["flow-engine", "serve"]

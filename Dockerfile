# One image for the code location, the Dagster webserver/daemon and the API (docker-compose.yml).
FROM python:3.11-slim
ENV UV_VERSION=0.13.9 PYTHONUNBUFFERED=1 UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /opt/dagster/app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY pepy_pipeline ./pepy_pipeline
COPY pepy_api ./pepy_api
COPY pepy_warehouse ./pepy_warehouse
COPY deploy ./deploy
RUN uv sync --frozen --no-dev \
    && mkdir -p /opt/dagster/home && cp deploy/dagster.yaml /opt/dagster/home/dagster.yaml
EXPOSE 3000 4000 8000

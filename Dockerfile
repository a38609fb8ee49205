# The flow image for serverless workers (ECS through prefect-aws), and for the worker itself.
# Build: docker build -t redditlake:$(git rev-parse --short HEAD) .   (docs/operations.md)
# Small: slim Python, only the locked runtime dependencies (no dev group), no build cache.
FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# dependencies first: this layer is reused until uv.lock changes
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project --no-cache
COPY redditlake ./redditlake
COPY flows ./flows
COPY tasks ./tasks
COPY blocks ./blocks
COPY deployments ./deployments
RUN uv sync --frozen --no-dev --no-cache

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 redditlake
COPY --from=build --chown=redditlake:redditlake /app /app
WORKDIR /app
USER redditlake
ENV PATH=/app/.venv/bin:$PATH \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    DO_NOT_TRACK=1 \
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY=30 \
    PREFECT_HOME=/tmp/prefect
# Flow runs: the ECS worker starts this image with `prefect flow-run execute` (it sets the
# command itself); deployments' entrypoints are relative to /app, the working directory
# (`redditlake deploy` sets the deployments' path to /app for an ecs pool).
# As a worker service, the default command below; /health on 8080 for the load balancer.
# The pool and worker type are variables, so the same command runs a process worker
# (tests/test_e2e.py runs this very command, outside docker, as one of its workers).
ENV REDDITLAKE_WORK_POOL=redditlake-ecs \
    REDDITLAKE_WORKER_TYPE=ecs
EXPOSE 8080
CMD ["sh", "-c", "exec prefect worker start --pool \"$REDDITLAKE_WORK_POOL\" --type \"$REDDITLAKE_WORKER_TYPE\" --with-healthcheck"]

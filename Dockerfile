# Paperboy in a container: a slim image, a non-root user, the database on a volume.
#
#   docker build -t paperboy .
#   docker run -d --name paperboy -e DISCORD_TOKEN=... -v paperboy-data:/data paperboy
#
# The configuration is /etc/paperboy/config.toml (PAPERBOY_CONFIG); the image ships
# deploy/config.container.toml there. Mount your own over it, keeping `[database] path` under /data:
#   -v "$PWD/config.toml:/etc/paperboy/config.toml:ro"

# Build stage: turn the source into a wheel, so no build tools end up in the final image.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PAPERBOY_CONFIG=/etc/paperboy/config.toml
# A fixed, unprivileged uid owns only /data (the SQLite file, its -wal/-shm and backups).
RUN groupadd --system --gid 10001 paperboy \
    && useradd --system --uid 10001 --gid paperboy --home-dir /data --shell /usr/sbin/nologin paperboy \
    && mkdir -p /data /etc/paperboy \
    && chown paperboy:paperboy /data \
    && chmod 0700 /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY deploy/config.container.toml /etc/paperboy/config.toml
USER paperboy
WORKDIR /data
VOLUME ["/data"]
# /healthz and /metrics (see `[http] listen` in the config); publish it only if you scrape it.
EXPOSE 8080
# The slim image has no curl: ask /healthz with Python's own urllib.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
# SIGTERM is Paperboy's clean stop (posts in flight are recorded, the database closes).
STOPSIGNAL SIGTERM
ENTRYPOINT ["paperboy"]
CMD ["--log-format", "json", "run"]

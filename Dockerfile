# Paperboy in a container: a slim image, a non-root user, the database on a volume.
#
#   docker build -t paperboy .
#   docker run -d --name paperboy -e DISCORD_TOKEN=... -v paperboy-data:/data paperboy
#
# Without a container registry, on Debian with podman: `make image` and `make image-check`.
#
# The configuration is /etc/paperboy/config.toml (PAPERBOY_CONFIG); the image ships
# deploy/config.container.toml there. Mount your own over it, keeping `[database] path` under /data:
#   -v "$PWD/config.toml:/etc/paperboy/config.toml:ro"

# The base: any Debian-like image with Python 3.11 and its venv module. The default is the
# official slim image; `make image` builds a local Debian bookworm base without a registry and
# passes it with --build-arg BASE_IMAGE=localhost/paperboy-base:bookworm.
ARG BASE_IMAGE=python:3.11-slim

# Build stage: Paperboy and its dependencies installed into a virtual environment at
# /opt/paperboy, which the final stage copies whole, so no build tools or wheels end up there.
# A venv works on both bases: Debian's own Python refuses `pip install` outside one (PEP 668).
FROM ${BASE_IMAGE} AS build
# Optional, for a build behind a package mirror or a TLS-inspecting proxy; unset, pip uses its
# defaults. Build arguments are not kept in the final stage.
ARG PIP_INDEX_URL
ARG PIP_CERT
# --upgrade-deps: a current pip. Debian's (23.0) misses extras spelt with `_` where the package
# now says `-` (PEP 685), e.g. jusText's lxml[html_clean], and leaves lxml_html_clean out.
RUN python3 -m venv --upgrade-deps /opt/paperboy
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN /opt/paperboy/bin/pip install --no-cache-dir --disable-pip-version-check . \
    && /opt/paperboy/bin/pip uninstall --yes --disable-pip-version-check pip

FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/paperboy/bin:$PATH \
    PAPERBOY_CONFIG=/etc/paperboy/config.toml
# A fixed, unprivileged uid owns only /data (the SQLite file, its -wal/-shm and backups).
RUN groupadd --system --gid 10001 paperboy \
    && useradd --system --uid 10001 --gid paperboy --home-dir /data --shell /usr/sbin/nologin paperboy \
    && mkdir -p /data /etc/paperboy \
    && chown paperboy:paperboy /data \
    && chmod 0700 /data
COPY --from=build /opt/paperboy /opt/paperboy
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

# The connector daemon in a container. Build it where a Docker engine runs:
#   docker build -t gesprekken-connector:0.1.0 .
# The database (and a log file, if the settings name one) live on the volume /var/lib/connector;
# the settings are mounted read-only at /etc/connector/settings.toml; secrets come from the
# environment or mounted files (`{ env = "..." }` / `{ file = "..." }` in the settings), never
# from the image. See README.md, "Running it unattended".
FROM python:3.11-slim-bookworm

LABEL org.opencontainers.image.title="gesprekken-connector" \
      org.opencontainers.image.description="Runs the parent conversation cycle of Dutch primary schools between a parent-app planner and a pupil administration." \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Proprietary"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CONNECTOR_SETTINGS=/etc/connector/settings.toml

# A fixed uid/gid so the volume's owner is predictable on the host (chown 10001 to prepare it).
RUN groupadd --system --gid 10001 connector \
 && useradd --system --uid 10001 --gid connector --home-dir /var/lib/connector \
      --no-create-home --shell /usr/sbin/nologin connector \
 && install -d -o connector -g connector -m 0700 /var/lib/connector \
 && install -d -m 0755 /etc/connector

# Only what the package needs (.dockerignore keeps secrets, settings and the venv out).
WORKDIR /usr/src/connector
COPY pyproject.toml README.md scheduler.py ./
COPY connector ./connector
COPY adapters ./adapters
COPY mappings ./mappings
# The postgres extra adds psycopg, for boards that keep the state in PostgreSQL.
RUN pip install --no-cache-dir "./[postgres]" \
 && rm -rf /usr/src/connector

# Numeric, so the runtime can check it is not root without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/connector
VOLUME ["/var/lib/connector"]

# `connector daemon` stops cleanly on SIGTERM; give it time with `docker stop -t 30`.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=60s --timeout=15s --start-period=60s --retries=3 CMD ["connector", "health"]
ENTRYPOINT ["connector"]
CMD ["daemon"]

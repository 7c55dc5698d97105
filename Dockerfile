# picloud-bots: `docker build --build-arg PYTHON_IMAGE=... .` (default: the official slim
# Python image). Wheels are built in the first stage; the runtime stage installs them,
# exactly the versions constraints.txt pins, into a virtual environment and runs as an
# unprivileged user with its data (SQLite, the secret key) in the /data volume.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY core ./core
COPY bots ./bots
RUN python -m venv /build && /build/bin/pip install --quiet --upgrade pip \
    && /build/bin/pip wheel --quiet --wheel-dir /wheels --constraint constraints.txt .

FROM ${PYTHON_IMAGE}
COPY --from=builder /wheels /wheels
RUN python -m venv /opt/picloud \
    && /opt/picloud/bin/pip install --quiet --no-index --find-links /wheels picloud-bots \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin picloud \
    && mkdir -p /data && chown picloud /data
ENV PATH=/opt/picloud/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PICLOUD_DATA_DIR=/data \
    PICLOUD_HTTP_LISTEN=0.0.0.0:9108
VOLUME /data
WORKDIR /data
USER picloud
EXPOSE 9108
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4)"]
CMD ["picloud-bots", "run"]

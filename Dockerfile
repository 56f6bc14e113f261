# corebound images: `service` (gunicorn + FastAPI + the embedded default model) and
# `loadtest` (Locust + loadtests/). docs/CONTRACT.md "Image" pins paths, user and commands.
#
#   docker build --target service  -t corebound:0.1.0 .
#   docker build --target loadtest -t corebound-loadtest:0.1.0 .
#
# BASE_IMAGE is any Debian-based image with python3 (>= 3.11) and the venv module:
# the pinned official slim image by default, or a local debootstrap base
# (`python -m scripts.e2e` builds one when no registry is reachable).
# checkov reads `FROM ${BASE_IMAGE}` as an untagged image; the default is pinned by tag
# and digest, and an override is the builder's choice.
# checkov:skip=CKV_DOCKER_7:FROM takes the BASE_IMAGE arg, whose default is pinned by digest
ARG BASE_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

# ---------------------------------------------------------------------------------------
# base: what every stage shares.
FROM ${BASE_IMAGE} AS base
# No .pyc writes at run time (the root filesystem is read-only), logs unbuffered so they
# reach `kubectl logs` at once, pip without a cache to carry or a version check.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# A numeric, non-root user with a passwd entry (getpass and friends want one). Its home
# does not exist; the shipped stages point HOME at /tmp, the one writable place.
RUN groupadd --system --gid 10001 corebound \
    && useradd --system --no-log-init --uid 10001 --gid 10001 \
        --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin corebound

# ---------------------------------------------------------------------------------------
# pip: one pinned pip in its own venv. `python3 -m venv` works with python in
# /usr/local/bin (official image) or /usr/bin (Debian); every other venv is made without
# pip and filled with `pip --python`, so no shipped venv carries pip and both bases
# resolve alike.
FROM base AS pip
WORKDIR /src
RUN python3 -m venv /opt/pip \
    && /opt/pip/bin/python -m pip install --no-cache-dir pip==25.3

# ---------------------------------------------------------------------------------------
# runtime-env: the service's virtual environment, runtime dependencies only.
FROM pip AS runtime-env
# The lock files (scripts/lock): every package pinned by hash, so a rebuild next year
# installs the same bytes or fails. Each stage copies only its own file: an edit elsewhere
# reinstalls nothing and retrains nothing. The project itself is not installed: its code
# goes to /app as files, where the start command runs.
COPY requirements/runtime.txt ./
RUN python3 -m venv --without-pip /opt/venv \
    && /opt/pip/bin/pip --python /opt/venv/bin/python install --no-cache-dir \
        --require-hashes -r runtime.txt

# ---------------------------------------------------------------------------------------
# model: trains the embedded default model in a throwaway venv, so scikit-learn never
# reaches an image that ships.
FROM pip AS model
COPY requirements/train.txt ./
RUN python3 -m venv --without-pip /opt/train \
    && /opt/pip/bin/pip --python /opt/train/bin/python install --no-cache-dir \
        --require-hashes -r train.txt
COPY scripts/__init__.py scripts/
COPY scripts/modelgen/ scripts/modelgen/
# Fixed seed: the same weights and the same held-out rows on every build.
RUN /opt/train/bin/python -m scripts.modelgen train \
        --out /app/models/default --holdout /app/loadtests/data/digits_holdout.json

# ---------------------------------------------------------------------------------------
# loadtest-env: Locust's virtual environment (the `loadtest` extra only).
FROM pip AS loadtest-env
COPY requirements/loadtest.txt ./
RUN python3 -m venv --without-pip /opt/venv \
    && /opt/pip/bin/pip --python /opt/venv/bin/python install --no-cache-dir \
        --require-hashes -r loadtest.txt

# ---------------------------------------------------------------------------------------
# loadtest: what the chart's load-test Jobs run: the workers `locust` + the args below,
# unchanged; the master the same `locust` + args under `python -m loadtests.publish`, which
# keeps the run's results in a ConfigMap. LOCUST_* (the target, the role) and the load-test
# settings in the environment (LOAD_SHAPE picks the shape) configure both.
FROM base AS loadtest
ARG BASE_IMAGE
ARG VERSION=0.2.0
LABEL org.opencontainers.image.title="corebound-loadtest" \
      org.opencontainers.image.description="Locust step/spike load with an SLO verdict for corebound" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/corebound/corebound" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
WORKDIR /app
COPY --from=loadtest-env /opt/venv /opt/venv
COPY loadtests/ loadtests/
# The probe the chart's wait-ready init container runs (`python -m service.probe`): standard
# library only, so it needs nothing of the service's environment.
COPY service/__init__.py service/probe.py service/
# The held-out rows of the model this build trained (the same seed as the repository's).
COPY --from=model /app/loadtests/data/digits_holdout.json loadtests/data/
# PYTHONPATH: the locustfile imports the `loadtests` package from /app.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    HOME=/tmp
USER 10001:10001
# A Job, not a server: nothing to probe.
HEALTHCHECK NONE
ENTRYPOINT ["locust"]
CMD ["-f", "loadtests/locustfile.py,loadtests/shapes/selected.py", "--headless", "--csv", "/tmp/locust", "--html", "/tmp/locust.html"]

# ---------------------------------------------------------------------------------------
# redis: the job queue's broker and result store, Debian's own redis-server on the same
# base (its user 10001); nothing of the project's Python is in it.
FROM base AS redis
ARG BASE_IMAGE
ARG VERSION=0.2.0
LABEL org.opencontainers.image.title="corebound-redis" \
      org.opencontainers.image.description="Redis (Debian's redis-server) for corebound's job queue" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/corebound/corebound" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
# Pinned as the lock files pin Python packages: a rebuild installs this build or fails, and
# bookworm-security's next fix of Redis is a deliberate bump of the pin (the archive keeps
# only its newest build). The official slim image lists that suite; the debootstrap base
# (`--base-image local`) lists `bookworm main` alone, whose point-release build is older,
# so the suite is added when no source names it, from the base's own archive (its
# `<archive>/debian <suite> main` line gives `<archive>/debian-security <suite>-security main`).
# The package's own `redis` user and config go unused: the image runs as 10001 with the
# settings on the command line.
RUN if ! grep -rqs "bookworm-security" /etc/apt/sources.list /etc/apt/sources.list.d; then \
        sed -n 's#^deb \([^ ]*\)/debian \([a-z]*\) main.*#deb \1/debian-security \2-security main#p' \
            /etc/apt/sources.list > /etc/apt/sources.list.d/bookworm-security.list \
        && grep -q "bookworm-security" /etc/apt/sources.list.d/bookworm-security.list; \
    fi \
    && apt-get update \
    && apt-get install -y --no-install-recommends redis-server=5:7.0.15-1~deb12u10 \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -m 0700 -o 10001 -g 10001 /data
# /data is the one path written at run time (RDB snapshot, append-only files); the chart
# mounts a PersistentVolumeClaim over it. HOME as in the other images: redis-cli's history.
WORKDIR /data
VOLUME /data
ENV HOME=/tmp
USER 10001:10001
EXPOSE 6379
# `redis-cli ping` exits 0 on PONG and on NOAUTH alike: the server answers, password or not.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["redis-cli", "ping"]
# No password baked in: the chart gives one from a Secret on redis-server's stdin. Without one,
# Redis's protected mode answers loopback clients only.
CMD ["redis-server", "--dir", "/data", "--appendonly", "yes"]

# ---------------------------------------------------------------------------------------
# service: the runtime. Last, so a plain `docker build .` gives it.
FROM base AS service
ARG BASE_IMAGE
ARG VERSION=0.2.0
LABEL org.opencontainers.image.title="corebound" \
      org.opencontainers.image.description="CPU-bound model inference (FastAPI under gunicorn) sized to the container's CPU limit" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/corebound/corebound" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
WORKDIR /app
COPY --from=runtime-env /opt/venv /opt/venv
COPY --from=model /app/models/default models/default
COPY service/ service/
# Bytecode compiled at build time: the read-only root filesystem cannot cache it later.
# The metrics directory: the user's own for runs without a mount, and mode 1777 because
# runc gives a tmpfs mounted over it (`--read-only --tmpfs /run/prometheus`) this
# directory's mode but root as owner. The chart mounts an emptyDir (0777) over it.
RUN /opt/venv/bin/python -m compileall -q service \
    && install -d -m 1777 -o 10001 -g 10001 /run/prometheus
# PYTHONPATH: gunicorn imports the `service` package from /app. /tmp and
# /run/prometheus are the only paths written at run time.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    HOME=/tmp \
    MODEL_DIR=/app/models/default \
    PROMETHEUS_MULTIPROC_DIR=/run/prometheus
USER 10001:10001
EXPOSE 8000
# For docker/compose; Kubernetes ignores it and uses the chart's probes on the same path.
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["gunicorn", "--config", "service/gunicorn_conf.py"]

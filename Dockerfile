# fleetsync: one image for every process (beat, fetch worker, apply worker, API, Flower); the
# compose file and the Kubernetes manifests pick the command.
#
# Pin the base by digest when building for production
# (python:3.11.7-slim-bookworm@sha256:...); the tag is pinned here.

FROM python:3.11.7-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY fleetsync ./fleetsync
COPY kubesim ./kubesim
RUN python -m venv /opt/fleetsync \
 && /opt/fleetsync/bin/pip install --upgrade pip \
 && /opt/fleetsync/bin/pip install . \
 && /opt/fleetsync/bin/pip check

FROM python:3.11.7-slim-bookworm
# fleetsync shells out to git (and ssh for ssh:// repositories).
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --create-home --home-dir /home/fleetsync --shell /usr/sbin/nologin fleetsync \
 && mkdir -p /var/cache/fleetsync \
 && chown fleetsync /var/cache/fleetsync
COPY --from=build /opt/fleetsync /opt/fleetsync
ENV PATH=/opt/fleetsync/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    FLEETSYNC_CACHE_DIR=/var/cache/fleetsync
VOLUME ["/var/cache/fleetsync"]
USER 10001
WORKDIR /home/fleetsync
ENTRYPOINT ["tini", "--"]
# Each service sets its own command; this default serves the API.
CMD ["fleetsync", "api", "--host", "0.0.0.0", "--port", "8080"]

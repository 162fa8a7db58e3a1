# One image for every service of docker-compose.yml (LocalStack, the stubs, MariaDB, the
# one-shot deployer and demo) and for the containers of HARNESS_BACKEND=docker. It holds
# the harness, the embedded LocalStack (localstack-core from PyPI, pinned, with our
# local-process Lambda executor: no auth token, no Docker socket, no Lambda images),
# the Lambda runtime venv, MariaDB from the OS packages, Terraform and its AWS provider.
# It builds natively on amd64 and arm64 (`make test-arm64` checks arm64 under emulation).
#
# Build arguments (README.md, "Docker"); a user's `docker compose up` needs none:
#   BASE_IMAGE            a Debian 12 image (default debian:bookworm-slim). The test lane
#                         passes one it made with debootstrap where no registry answers.
#   TERRAFORM_VERSION     downloaded from releases.hashicorp.com, and the AWS provider
#                         mirrored from the Terraform registry at build time...
#   TERRAFORM_BUNDLE_URL  ...unless this names a tar of bin/terraform and plugins/
#                         (a provider mirror): what the lane serves where no registry has them.
#   EXTRA_CA_CERTS        PEM text of CA certificates to trust while building (a TLS proxy).
#
# Layers are few and coarse: an engine on the vfs storage driver copies every layer whole.
# checkov:skip=CKV_DOCKER_2:One image serves six services (servers and one-shots); each long-running service has its own healthcheck in docker-compose.yml, and the docker backend waits on its own probes.
# checkov:skip=CKV_DOCKER_7:The base is a build argument whose default is the pinned tag debian:bookworm-slim; the lane passes a local debootstrap image.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/harness/bin:/opt/terraform/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HARNESS_PROJECT_DIR=/app \
    HARNESS_STATE_DIR=/state \
    HARNESS_CACHE_DIR=/opt/harness-cache \
    HARNESS_TF_PROVIDER_MIRROR=/opt/terraform/plugins \
    HARNESS_LAMBDA_BUILD_PYTHON=3.11 \
    HARNESS_LAMBDA_BUILD_ARCH=native \
    COLUMNS=120

# Metadata first: on vfs every instruction after the big layers copies them once more.
EXPOSE 4566 4580 4581 3306
CMD ["harness", "--help"]

# The OS part: Python (Debian 12's 3.11), MariaDB, and what the build needs.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       python3 python3-venv mariadb-server ca-certificates curl unzip \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
    && useradd --create-home --uid 10001 harness

WORKDIR /app
# The heavy layer, rebuilt only when the harness, the functions or these scripts change:
# the venvs, Terraform, the provider and the functions' zips (docker/build-image.sh).
# Not README.md, which pyproject.toml names as the package's long description: an edit of
# the docs would rebuild the venvs (about 100 s in the test lane). build-image.sh installs
# with an empty one in its place; the real one arrives with the last COPY.
COPY pyproject.toml /app/
COPY harness /app/harness
COPY lambdas /app/lambdas
COPY docker/install-harness.sh docker/build-image.sh /app/docker/
# Declared here, not above: a build argument's value is part of the cache key of every
# RUN after it, and the OS layer does not depend on these.
ARG TERRAFORM_VERSION=1.11.4
ARG TERRAFORM_BUNDLE_URL=
ARG EXTRA_CA_CERTS=
RUN sh /app/docker/build-image.sh
# The rest (infra, fixtures, the services' scripts): a small change is a quick rebuild.
COPY --chown=10001:10001 . /app

USER 10001:10001

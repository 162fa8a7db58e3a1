# The image of the stubs, the one-shot deployer and the demo in docker-compose.yml
# (and of the stubs container of HARNESS_BACKEND=docker): this package, Terraform,
# tflocal. Build: docker build -t pipeline-harness:local .
FROM hashicorp/terraform:1.11.4 AS terraform

# Python 3.12: the Lambda runtime of the functions (zips are built for it here).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HARNESS_PROJECT_DIR=/app \
    HARNESS_STATE_DIR=/state

COPY --from=terraform /bin/terraform /usr/local/bin/terraform

# /run/harness-secrets: where docker-compose.yml's db-secret service writes the
# generated database password (a volume starts with this folder's owner).
RUN useradd --create-home --uid 10001 harness \
    && mkdir -p /app/build /state /run/harness-secrets \
    && chown harness:harness /app/build /state /run/harness-secrets

WORKDIR /app
COPY pyproject.toml README.md ./
COPY harness ./harness
COPY docker ./docker
RUN sh docker/install-harness.sh /app

COPY infra ./infra
COPY lambdas ./lambdas
COPY fixtures ./fixtures

USER 10001:10001
EXPOSE 4580 4581
# The long-running role of this image is the stubs (`python -m harness.stubs`): healthy
# when both answer their health endpoint. One-shot containers of it (the deployer, the
# demo) turn the check off in docker-compose.yml.
HEALTHCHECK --interval=5s --timeout=5s --start-period=5s --retries=12 \
    CMD ["python", "-c", "import urllib.request as u; [u.urlopen(f'http://127.0.0.1:{p}/_stub/health', timeout=2) for p in (4580, 4581)]"]
CMD ["harness", "--help"]

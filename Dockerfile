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

RUN useradd --create-home --uid 10001 harness \
    && mkdir -p /app/build /state \
    && chown harness:harness /app/build /state

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
CMD ["harness", "--help"]

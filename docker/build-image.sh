#!/bin/sh
# The heavy RUN step of the Dockerfile, kept as a script so that one layer holds it all.
# Installs the harness into /opt/harness, builds the embedded LocalStack's venv (with
# our plugins) and the Lambda runtime venv into HARNESS_CACHE_DIR exactly where the
# harness looks for them (so nothing is downloaded when a container starts), then
# Terraform and a mirror of the AWS provider, and prepares the folders the services write.
set -eu
arch="$(dpkg --print-architecture)"

if [ -n "${EXTRA_CA_CERTS:-}" ]; then
    printf '%s\n' "$EXTRA_CA_CERTS" > /usr/local/share/ca-certificates/build-extra.crt
    update-ca-certificates >/dev/null
fi
export PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_NO_CACHE_DIR=1

python3 -m venv /opt/harness  # first on PATH (Dockerfile)
touch /app/README.md  # the package's long description; not copied yet (Dockerfile)
sh /app/docker/install-harness.sh /app
/opt/harness/bin/python - <<'PY'
from harness import config
from harness.runtime import lambda_runtimes, localstack

settings = config.load()
localstack.ensure_installed(settings)
lambda_runtimes.prepare(settings)
PY
# The functions' zips and their dependencies (cached in /app/build), so that the
# deployer needs no package index: the stack's network may have no way out.
/opt/harness/bin/python -c \
    "from harness import config; from harness.build import deploy; deploy.build_functions(config.load())"

mkdir -p /opt/terraform/bin /opt/terraform/plugins
if [ -n "${TERRAFORM_BUNDLE_URL:-}" ]; then
    curl -fsS "$TERRAFORM_BUNDLE_URL" | tar -x -C /opt/terraform
else
    curl -fsSo /tmp/terraform.zip \
        "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/terraform_${TERRAFORM_VERSION}_linux_${arch}.zip"
    unzip -q /tmp/terraform.zip terraform -d /opt/terraform/bin
    rm /tmp/terraform.zip
    terraform -chdir=/app/infra/envs/local providers mirror /opt/terraform/plugins
fi
terraform version

# Where the services write: the harness's state, the database's data, the secret.
# The plugin cache of Terraform runs goes into HARNESS_CACHE_DIR (harness/build/terraform.py).
mkdir -p /state /var/lib/harness-db /run/harness-secrets /opt/harness-cache/terraform-plugin-cache
chown 10001:10001 /state /var/lib/harness-db /run/harness-secrets /opt/harness-cache \
    /opt/harness-cache/terraform-plugin-cache
chown -R 10001:10001 /app  # the Lambda zips (build/) and Terraform's lock file go there
rm -rf /root/.cache /tmp/*

#!/bin/sh
# Installs the harness into the current Python environment and checks its entry points.
# The Dockerfile runs it in the image; tests/unit/test_docker_files.py runs it in a
# throwaway venv, so the image's install step is exercised on machines without Docker.
# Usage: install-harness.sh PROJECT_DIR
set -eu
project="${1:?usage: install-harness.sh PROJECT_DIR}"
python -m pip install --no-cache-dir --disable-pip-version-check --quiet "$project"
harness --help >/dev/null
harness replay --help >/dev/null
python -m harness.stubs --help >/dev/null
python -c "import harness.runtime.backends.docker, harness.events.replay, testcontainers"
echo "harness installed: $(command -v harness)"

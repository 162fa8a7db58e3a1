"""The Docker path's LocalStack settings are settings LocalStack 4.13.1 reads.

Needs the embedded LocalStack's venv (installed for the session's stack): a setting
that docker-compose.yml, the testcontainers backend or `docker/localstack.py` gives
LocalStack but no LocalStack source reads (a misspelt name) would be ignored silently.
Settings of the harness itself (HARNESS_*) are read by the harness in the container.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from harness.runtime import localstack
from harness.runtime.backends import docker as docker_backend

ROOT = Path(__file__).resolve().parents[2]
# What docker/localstack.py sets on top of the embedded backend's environment.
CONTAINER_ONLY = {"GATEWAY_LISTEN", "LOCALSTACK_HOST"}
NOT_LOCALSTACKS = {"PYTHONPATH", "TMPDIR"}


def test_every_localstack_variable_of_the_docker_path_is_one_localstack_reads(
    harness_stack, harness_settings, tmp_path
):
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    package = localstack.venv_dir(harness_settings) / "lib" / version / "site-packages"
    sources = " ".join(
        path.read_text(errors="replace") for path in (package / "localstack").rglob("*.py")
    )
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    used = set(compose["services"]["localstack"]["environment"]) | CONTAINER_ONLY
    used |= set(docker_backend.localstack_spec(harness_settings).env)
    # The container's LocalStack gets the embedded backend's own environment too (less
    # what it copies from the host, and what is not LocalStack's).
    embedded = localstack.environment(harness_settings, tmp_path, {})
    used |= set(embedded) - set(os.environ) - NOT_LOCALSTACKS
    used = {name for name in used if not name.startswith("HARNESS_")}
    assert {"GATEWAY_LISTEN", "LOCALSTACK_HOST", "LAMBDA_RUNTIME_EXECUTOR", "SERVICES"} <= used
    unread = {name for name in used if f'"{name}"' not in sources}
    assert unread == set()

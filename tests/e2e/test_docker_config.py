"""The Docker path's LocalStack settings are settings LocalStack 4.13.1 reads.

Needs the embedded LocalStack's venv (installed for the session's stack): a setting
in docker-compose.yml or the testcontainers backend that no LocalStack source reads
(a misspelt name) would be ignored silently.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from harness.runtime import localstack
from harness.runtime.backends import docker as docker_backend

ROOT = Path(__file__).resolve().parents[2]


def test_every_localstack_variable_of_the_docker_path_is_one_localstack_reads(
    harness_stack, harness_settings
):
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    package = localstack.venv_dir(harness_settings) / "lib" / version / "site-packages"
    sources = " ".join(
        path.read_text(errors="replace") for path in (package / "localstack").rglob("*.py")
    )
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    used = set(compose["services"]["localstack"]["environment"])
    used |= set(docker_backend.localstack_spec(harness_settings).env)
    assert len(used) > 10
    unread = {name for name in used if f'"{name}"' not in sources}
    assert unread == set()

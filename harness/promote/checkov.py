"""Checkov (IaC security scanner), pinned and isolated in a venv of its own.

Checkov cannot share the project's venv: its `bc-python-hcl2` installs a `hcl2`
module over python-hcl2, which tflocal imports (tflocal then fails at start), and it
pins boto3 to an old release. So, like LocalStack, it lives in the user cache
(`<cache>/checkov-<version>`), built once on first use from the pin below.

Runs offline: no platform API key, no policy or guideline downloads (`--skip-download`,
`BC_SKIP_MAPPING`), and proxies pointed at a closed loopback port so an attempted
fetch fails at once instead of leaving the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from harness.config import Settings
from harness.util import venvs
from harness.util.errors import HarnessError

VERSION = "3.3.30"
FRAMEWORK = "terraform"
OFFLINE_ENV = {
    "BC_SKIP_MAPPING": "TRUE",
    "CKV_NO_GUIDE": "TRUE",
    "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "FALSE",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "no_proxy": "",
}


def venv_dir(settings: Settings) -> Path:
    return settings.cache_dir / f"checkov-{VERSION}"


def ensure(settings: Settings, progress: Callable[[str], None] = print) -> Path:
    """Path of the checkov executable, installing the pinned version on first use."""
    target = venv_dir(settings)
    venvs.build_venv(
        target, sys.executable, [[f"checkov=={VERSION}"]], progress, what=f"checkov {VERSION}"
    )
    return target / "bin" / "checkov"


def scan(settings: Settings, directory: Path, progress: Callable[[str], None] = print) -> dict:
    """Scan `directory` (Terraform only); returns checkov's JSON report for it.

    The report keeps passed, failed and skipped checks (with each skip's comment).
    """
    executable = ensure(settings, progress)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "CKV_", "PRISMA_"))}
    env.update(OFFLINE_ENV)
    result = subprocess.run(
        [
            str(executable),
            "--directory",
            str(directory),
            "--framework",
            FRAMEWORK,
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    # Exit code 1 means "failed checks": the report says which. Anything else is an error.
    if result.returncode not in (0, 1) or not result.stdout.strip():
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise HarnessError(f"checkov failed (exit {result.returncode}) on {directory}:\n{tail}")
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    for item in reports:
        if item.get("check_type") == FRAMEWORK:
            return item
    # No Terraform found at all: checkov prints an empty summary.
    raise HarnessError(f"checkov found no Terraform to scan in {directory}")

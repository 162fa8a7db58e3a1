"""Checkov (IaC security scanner), pinned and isolated in a venv of its own.

Checkov cannot share the project's venv: its `bc-python-hcl2` installs a `hcl2`
module over python-hcl2, which tflocal imports (tflocal then fails at start), and it
pins boto3 to an old release. So, like LocalStack, it lives in the user cache
(`<cache>/checkov-<version>`), built once on first use from the pin below.

`scan_repository` runs every framework over the whole project (Terraform, Dockerfile,
secrets in any file, ...): zero failed checks is the bar, and every skip carries a
`checkov:skip=<ID>:<reason>` comment where the finding is.

Runs offline: no platform API key, no policy or guideline downloads (`--skip-download`,
`BC_SKIP_MAPPING`), and proxies pointed at a closed loopback port so an attempted
fetch fails at once instead of leaving the machine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from harness.config import Settings
from harness.util import venvs
from harness.util.errors import HarnessError

VERSION = "3.3.30"
FRAMEWORKS = ("all",)  # every framework: terraform, dockerfile, secrets, yaml, json, ...
# Generated and ignored by git (.gitignore): what the tools made, not the repository's
# own files (the Lambda zips' vendored packages, reports, cached fixture images).
GENERATED = (
    "build",
    "reports",
    "fixtures/images/generated",
    "fixtures/catalog/generated",
    "pipeline_harness.egg-info",
)
OFFLINE_ENV = {
    "BC_SKIP_MAPPING": "TRUE",
    "CKV_NO_GUIDE": "TRUE",
    "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "FALSE",
    # Parsing a large .tftest.hcl on a busy machine can take more than the default 10 s;
    # a file that times out is a parsing error, and its checks silently missing.
    "HCL_PARSE_TIMEOUT_SEC": "120",
    # Its runners one after the other in one process, not forked: when a forked runner
    # fails, checkov 3.3.30 stops reading the others' pipes and waits forever at exit for
    # one blocked on its pipe (seen once at the end of a parallel `make test`). Also
    # quicker here: 9.2 s and 9.3 CPU-s for this repository against 12.4 s and 17.7
    # CPU-s forked, with the same report.
    "CHECKOV_PARALLELIZATION_TYPE": "none",
    # Bytecode Python writes beside the sources (through a temporary file it renames)
    # while the suite's other processes import them: a file gone between checkov's walk
    # and its read would be an error. Git ignores these folders anyway.
    "CKV_IGNORED_DIRECTORIES": "node_modules,.terraform,.serverless,__pycache__",
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


def command(
    executable: Path,
    directory: Path,
    frameworks: tuple[str, ...] = FRAMEWORKS,
    skip_paths: tuple[str, ...] = (),
) -> list[str]:
    """The checkov command line: offline, JSON out; each skipped path is an exact folder
    below `directory` (checkov matches `--skip-path` regexes against joined paths)."""
    args = [str(executable), "--directory", str(directory), "--framework", *frameworks]
    for path in skip_paths:
        args += ["--skip-path", f"^{re.escape(str(directory / path))}$"]
    return [*args, "--skip-download", "--output", "json"]


def scan(
    settings: Settings,
    directory: Path,
    progress: Callable[[str], None] = print,
    frameworks: tuple[str, ...] = FRAMEWORKS,
    skip_paths: tuple[str, ...] = (),
) -> dict[str, dict]:
    """Scan `directory`; returns checkov's JSON report of each framework that found
    something to scan, by its name (`terraform`, `dockerfile`, `secrets`, ...).

    A report keeps passed, failed and skipped checks (with each skip's comment).
    """
    executable = ensure(settings, progress)
    directory = directory.resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "CKV_", "PRISMA_"))}
    env.update(OFFLINE_ENV)
    result = subprocess.run(
        command(executable, directory, frameworks, skip_paths),
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    # Exit code 1 means "failed checks": the report says which. Anything else is an error.
    if result.returncode not in (0, 1) or not result.stdout.strip():
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise HarnessError(f"checkov failed (exit {result.returncode}) on {directory}:\n{tail}")
    report = json.loads(result.stdout)
    reports = {
        item["check_type"]: item
        for item in (report if isinstance(report, list) else [report])
        if item.get("check_type")
    }
    if not reports:  # nothing scannable at all: checkov prints an empty summary
        raise HarnessError(f"checkov found nothing to scan in {directory}")
    return reports


def scan_repository(settings: Settings, progress: Callable[[str], None] = print) -> dict[str, dict]:
    """Every framework over the whole project, less the generated folders (`GENERATED`);
    checkov itself leaves out hidden folders (.git, .venv, .harness)."""
    return scan(settings, settings.project_dir, progress, FRAMEWORKS, GENERATED)

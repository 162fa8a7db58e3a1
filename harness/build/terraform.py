"""Running Terraform (through `tflocal` for LocalStack) with the harness's settings.

Provider installation works offline through an optional filesystem mirror:
`HARNESS_TF_PROVIDER_MIRROR=<dir holding registry.terraform.io/...>`. Without it the
harness looks in Terraform's own implied mirror folders and in `/opt/*`, and failing
that lets Terraform download from the registry as usual.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from harness.config import Settings
from harness.util import processes
from harness.util.errors import HarnessError
from harness.util.files import atomic_write_text, private_subdir

IMPLIED_MIRRORS = (
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"
PROGRESS_RE = re.compile(r"(Creation|Modifications|Destruction) complete|^Error")


def find_provider_mirror(settings: Settings) -> str | None:
    if settings.tf_provider_mirror:
        mirror = Path(settings.tf_provider_mirror).expanduser()
        if not (mirror / AWS_PROVIDER).is_dir():
            raise HarnessError(
                f"HARNESS_TF_PROVIDER_MIRROR={mirror} holds no {AWS_PROVIDER}; point it at "
                "the folder that contains registry.terraform.io"
            )
        return str(mirror)
    candidates = [Path(p).expanduser() for p in IMPLIED_MIRRORS]
    candidates += [
        Path(p).parent.parent.parent for p in sorted(glob.glob(f"/opt/*/{AWS_PROVIDER}"))
    ]
    for candidate in candidates:
        if (candidate / AWS_PROVIDER).is_dir():
            return str(candidate)
    return None


def cli_config(settings: Settings) -> Path | None:
    """Write the Terraform CLI config the harness uses; None means Terraform's defaults."""
    mirror = find_provider_mirror(settings)
    cache = settings.cache_dir / "terraform-plugin-cache"
    cache.mkdir(parents=True, exist_ok=True)
    lines = [
        f'plugin_cache_dir = "{cache}"',
        "plugin_cache_may_break_dependency_lock_file = true",
    ]
    if mirror:
        lines += [
            "provider_installation {",
            f'  filesystem_mirror {{\n    path = "{mirror}"\n  }}',
            "}",
        ]
    path = private_subdir(settings.state_dir, "terraform") / "cli.tfrc"
    text = "\n".join(lines) + "\n"
    # Replaced whole, and only when it changes: Terraform runs in parallel read this file
    # (tests/infra starts one per folder at once). Rewritten in place, one of them could
    # read it empty, find no mirror and go to the registry, which is not there offline.
    with contextlib.suppress(OSError):
        if path.read_text() == text:
            return path
    atomic_write_text(path, text)
    return path


# Go's garbage collector in Terraform and its providers (Terraform hands its environment
# to the providers it starts). With GOGC=400 a heap grows to five times what is live
# before a collection, not twice; GOMEMLIMIT holds a process near 1 GiB whatever GOGC
# allows. Measured on the 2-core machine (2026-12-06): `terraform test` of envs/local
# 18.0 -> 12.6 CPU-s, its peak memory 262 -> 538 MiB for Terraform and 351 -> 395 MiB
# for the AWS provider; tests/infra/test_terraform.py 74 -> 52 CPU-s. What the
# environment sets wins.
GO_RUNTIME = {"GOGC": "400", "GOMEMLIMIT": "1GiB"}


def with_go_runtime(env: dict[str, str]) -> dict[str, str]:
    """`env` with GO_RUNTIME's values for the variables it does not set."""
    return GO_RUNTIME | env


def environment(settings: Settings, data_dir: Path, endpoint: str | None) -> dict[str, str]:
    env = with_go_runtime(
        {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    )
    env.update(
        {
            "TF_DATA_DIR": str(data_dir),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
    )
    config = cli_config(settings)
    if config:
        env["TF_CLI_CONFIG_FILE"] = str(config)
    if endpoint:
        env.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                # The endpoint's own host: "localstack" for the compose deployer.
                "S3_HOSTNAME": urlsplit(endpoint).hostname or settings.host,
                "AWS_DEFAULT_REGION": settings.region,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
            }
        )
    return env


# An override that keeps a root's state in a local file (`-state`), whatever backend the
# root configures (envs/aws: S3), for runs against the local stack.
LOCAL_BACKEND = 'terraform {\n  backend "local" {}\n}\n'
LOCAL_BACKEND_OVERRIDE = "zz_local_backend_override.tf"
STAGE_IGNORED = (
    ".terraform",
    ".terraform.lock.hcl",
    "*.tfstate*",
    "localstack_providers_override.tf",
    LOCAL_BACKEND_OVERRIDE,
)


def stage_infra(project_dir: Path, target: Path) -> Path:
    """Copy infra/ without Terraform's working files; returns the copy's root.

    Terraform runs in copies: tflocal writes its provider override into the folder it
    runs in, and two runs in the source tree would collide (or leave it behind).
    """
    shutil.copytree(project_dir / "infra", target, ignore=shutil.ignore_patterns(*STAGE_IGNORED))
    return target


def stage_root(project_dir: Path, folder: Path, env: str) -> Path:
    """A fresh copy of infra/ in `folder` (what was there is removed); returns its
    envs/<env>, the root to run Terraform in."""
    shutil.rmtree(folder, ignore_errors=True)
    stage_infra(project_dir, folder / "infra")
    return staged_root(folder, env)


def staged_root(folder: Path, env: str) -> Path:
    """Where `stage_root` put envs/<env> of the copy in `folder`."""
    return folder / "infra" / "envs" / env


def use_local_backend(env_dir: Path) -> None:
    """Override the root's backend with a local one (in a staged copy only)."""
    (env_dir / LOCAL_BACKEND_OVERRIDE).write_text(LOCAL_BACKEND)


def output_values(output_json: str) -> dict:
    """The values of `terraform output -json` (which wraps each in type and sensitivity)."""
    return _values(json.loads(output_json))


def state_outputs(state_json: str) -> dict:
    """The root outputs a state file holds, as `output_values` gives them: `terraform
    output -json` reads them from there (the state wraps each the same way)."""
    return _values(json.loads(state_json).get("outputs", {}))


def _values(outputs: dict) -> dict:
    return {name: item["value"] for name, item in outputs.items()}


def require_terraform() -> str:
    path = shutil.which("terraform")
    if not path:
        raise HarnessError(
            "terraform is not on PATH; install Terraform 1.7 or newer "
            "(https://developer.hashicorp.com/terraform/install)"
        )
    return path


def run(
    args: list[str],
    cwd: Path,
    env: dict[str, str],
    progress: Callable[[str], None] = print,
    local: bool = True,
    capture: bool = False,
    log_path: Path | None = None,
) -> str:
    """Run `tflocal ARGS` (or `terraform ARGS`), streaming resource progress.

    The whole process group is killed after HARNESS_TF_TIMEOUT seconds (default 900):
    the AWS provider retries 5xx answers for many minutes, which looks like a hang.
    """
    require_terraform()
    if local:
        tflocal = shutil.which("tflocal") or str(Path(sys.executable).parent / "tflocal")
        cmd = [tflocal, *args]
    else:
        cmd = ["terraform", *args]
    timeout = float(os.environ.get("HARNESS_TF_TIMEOUT", "900"))
    started = time.monotonic()
    lines: list[str] = []
    process = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    timer = threading.Timer(timeout, lambda: _kill_group(process))
    timer.start()
    try:
        for line in process.stdout:
            lines.append(line)
            if not capture and PROGRESS_RE.search(line):
                progress(f"  {line.strip()}")
        process.wait()
    except BaseException:  # Ctrl-C or SIGTERM of the harness: Terraform must not outlive it
        stop_gracefully(process)
        raise
    finally:
        timer.cancel()
    output = "".join(lines)
    if log_path:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(output)
    if process.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-30:])
        reason = (
            f"timed out after {timeout:.0f} s"
            if time.monotonic() - started >= timeout
            else "failed"
        )
        raise HarnessError(f"`terraform {args[0]}` {reason} in {cwd}:\n{tail}")
    if not capture:
        progress(f"terraform {args[0]} done in {time.monotonic() - started:.1f} s")
    return output


def stop_gracefully(process: subprocess.Popen, grace: float | None = None) -> None:
    """SIGTERM Terraform's process group, give it `grace` seconds (HARNESS_TF_STOP_SECONDS,
    default 10) to stop its operations and write the state, then SIGKILL the group.

    Terraform runs in its own session (so a Ctrl-C reaches the harness first, not it);
    on SIGTERM it finishes the calls in flight and saves the state, which an apply
    interrupted by SIGKILL could lose.
    """
    if grace is None:
        grace = float(os.environ.get("HARNESS_TF_STOP_SECONDS", "10"))
    _kill_group(process)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError):  # provider plugins left behind, if any
        os.killpg(process.pid, signal.SIGKILL)


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)


REATTACH_RE = re.compile(r"TF_REATTACH_PROVIDERS='(?P<value>[^']+)'")
REATTACH_WAIT_SECONDS = 60.0


def installed_provider(data_dir: Path, address: str = AWS_PROVIDER) -> Path | None:
    """The provider binary `terraform init` installed into `data_dir` (TF_DATA_DIR), or
    None (not initialised, or more than one version there)."""
    found = sorted(data_dir.glob(f"providers/{address}/*/*/terraform-provider-*"))
    return found[0].resolve() if len(found) == 1 else None


@contextlib.contextmanager
def shared_provider(binary: Path, address: str = AWS_PROVIDER):
    """One provider process for many offline Terraform runs: yields the
    TF_REATTACH_PROVIDERS value that makes every `terraform` given it use this process
    instead of starting its own.

    Terraform starts a provider for each operation: `terraform test` twice per `run`
    block, and the AWS provider's start (a Go binary of 600 MB with every service's
    schema) is most of what a plan-only run with `mock_provider` costs: modules/queue's
    7 runs took 5.3 CPU-s with 15 starts and 1.2 with none. A mocked provider is never
    configured, so the runs share no state through it. This is Terraform's documented
    way of debugging a provider (`-debug`), which is why it prints the value to set.
    Not for applies: they configure the provider, each with its own endpoints."""
    process = subprocess.Popen(
        [str(binary), "-debug"],
        env=with_go_runtime(dict(os.environ)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=processes.stop_with_parent(),  # not left behind by a killed caller
    )
    try:
        yield _reattach_value(process, address)
    finally:
        stop_gracefully(process, grace=5)
        if process.stdout is not None:
            process.stdout.close()


def _reattach_value(process: subprocess.Popen, address: str) -> str:
    """The TF_REATTACH_PROVIDERS value the provider prints when it serves (its later
    output is drained, so it never blocks on a full pipe)."""
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in process.stdout or ():
            if not found and (match := REATTACH_RE.search(line)):
                found.append(match["value"])
                ready.set()
        ready.set()  # ended without it

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(REATTACH_WAIT_SECONDS) or not found:
        raise HarnessError(f"{address}'s provider in -debug mode printed no reattach value")
    value = found[0]
    if address not in json.loads(value):
        raise HarnessError(f"the provider's reattach value does not name {address}: {value}")
    return value

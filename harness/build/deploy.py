"""Deploying `infra/envs/local` onto the running local stack, only when needed.

A deployment is identified by the content of `infra/` and `lambdas/`, the stub
endpoints, and the LocalStack instance it went to. If all match what was deployed
last, nothing runs: a warm stack is ready in well under a second. Terraform state
and its data folder live in `.harness/terraform/<env>/`, never in the source tree.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from harness.runtime import aws
from harness.runtime import backends
from harness.runtime.backends import docker as docker_backend
from harness.runtime import localstack
from harness.build import packaging
from harness.build import terraform
from harness.config import Settings
from harness.util.errors import HarnessError
from harness.util.processes import ProcessRecords

FUNCTIONS = ("labeler", "slack_notifier", "resize", "catalog_loader")
# Where each function's deployed name is found in the Terraform outputs.
FUNCTION_OUTPUTS = {"slack_notifier": "notifier_function"}
INFRA_TREES = ("infra/modules", "infra/envs/local")
SKIP_PARTS = {".terraform", "__pycache__", "tests", ".pytest_cache"}


def _work_dir(settings: Settings, env: str) -> Path:
    return settings.state_dir / "terraform" / env


def _record_path(settings: Settings, env: str) -> Path:
    return _work_dir(settings, env) / "deployment.json"


def source_hash(settings: Settings, trees: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for tree in trees:
        root = settings.project_dir / tree
        for path in sorted(root.rglob("*")):
            if path.is_file() and not SKIP_PARTS & set(path.relative_to(root).parts):
                if path.suffix in {".pyc", ".hcl"} or path.name.startswith("localstack_providers"):
                    continue
                digest.update(str(path.relative_to(settings.project_dir)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _target_identity(settings: Settings) -> str:
    """Which LocalStack instance we deploy to: a restarted one has lost every resource."""
    record = ProcessRecords(settings.state_dir).get(localstack.RECORD)
    if settings.backend == "docker":
        return docker_backend.identity(settings)
    if settings.backend == "embedded" and record:
        return f"embedded:{record['pid']}:{record['start_ticks']}"
    return f"{settings.backend}:{settings.endpoint}"


def fingerprint(settings: Settings) -> dict:
    return {
        "infra": source_hash(settings, INFRA_TREES),
        "lambdas": source_hash(settings, ("lambdas",)),
        "target": _target_identity(settings),
        "stubs": [settings.rekognition_endpoint, settings.slack_endpoint],
        "region": settings.region,
        "name_prefix": settings.name_prefix,
    }


def _staged_sources(settings: Settings, env: str) -> Path:
    """Copy infra/ next to the state: tflocal writes an override file into the folder
    it runs in, and two runs in the source tree would collide (or leave it behind)."""
    staged = _work_dir(settings, env) / "src"
    shutil.rmtree(staged, ignore_errors=True)
    shutil.copytree(
        settings.project_dir / "infra",
        staged / "infra",
        ignore=shutil.ignore_patterns(
            ".terraform", "*.tfstate*", ".terraform.lock.hcl", "localstack_providers_override.tf"
        ),
    )
    return staged / "infra" / "envs" / env


def deployed(settings: Settings, env: str = "local") -> dict | None:
    try:
        return json.loads(_record_path(settings, env).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def build_functions(settings: Settings, progress: Callable[[str], None] = print) -> dict:
    build_dir = settings.project_dir / "build" / "lambdas"
    packages = {}
    for name in FUNCTIONS:
        started = time.monotonic()
        packages[name] = packaging.build_function(
            settings.project_dir / "lambdas" / name, build_dir
        )
        progress(f"built {name}.zip in {time.monotonic() - started:.1f} s")
    return packages


def _tfvars(settings: Settings, packages: dict) -> dict:
    # The stubs as the functions see them (a Docker network name with the docker backend).
    rekognition, slack = backends.lambda_stub_endpoints(settings)
    return {
        "region": settings.region,
        "name_prefix": settings.name_prefix,
        "labeler_zip_path": str(packages["labeler"].path),
        "labeler_zip_sha256": packages["labeler"].sha256_base64,
        "notifier_zip_path": str(packages["slack_notifier"].path),
        "notifier_zip_sha256": packages["slack_notifier"].sha256_base64,
        "resize_zip_path": str(packages["resize"].path),
        "resize_zip_sha256": packages["resize"].sha256_base64,
        "loader_zip_path": str(packages["catalog_loader"].path),
        "loader_zip_sha256": packages["catalog_loader"].sha256_base64,
        "rekognition_endpoint": rekognition,
        "slack_webhook_url": f"{slack}/services/T000LOCAL/B000LOCAL/localsecret",
    }


def deploy(
    settings: Settings,
    env: str = "local",
    force: bool = False,
    progress: Callable[[str], None] = print,
) -> dict:
    """Apply `infra/envs/<env>` unless the same thing is already deployed there."""
    current = fingerprint(settings)
    previous = deployed(settings, env)
    if previous and previous["fingerprint"] == current and not force:
        progress(f"{env}: up to date (no change in infra/ or lambdas/), nothing to apply")
        return previous | {"applied": False}
    if previous and not force and _only_code_changed(previous["fingerprint"], current):
        return _update_code(settings, env, previous, current, progress)
    work = _work_dir(settings, env)
    if previous and previous["fingerprint"]["target"] != current["target"]:
        progress(f"{env}: LocalStack was restarted; its old Terraform state is discarded")
        (work / "terraform.tfstate").unlink(missing_ok=True)
        _record_path(settings, env).unlink(missing_ok=True)
    packages = build_functions(settings, progress)
    work.mkdir(parents=True, exist_ok=True)
    tfvars = work / "harness.auto.tfvars.json"
    tfvars.write_text(json.dumps(_tfvars(settings, packages), indent=2))
    source = _staged_sources(settings, env)
    tf_env = terraform.environment(settings, work / "data", settings.endpoint)
    state = ["-state", str(work / "terraform.tfstate")]
    started = time.monotonic()
    terraform.run(["init", "-input=false", "-backend=false", "-no-color"], source, tf_env, progress)
    progress(f"{env}: applying Terraform (the first apply takes about a minute) ...")
    terraform.run(
        ["apply", "-auto-approve", "-input=false", "-no-color", f"-var-file={tfvars}", *state],
        source,
        tf_env,
        progress,
        log_path=work / "apply.log",
    )
    outputs = terraform.output_values(
        terraform.run(["output", "-json", *state], source, tf_env, local=False, capture=True)
    )
    record = {
        "env": env,
        "fingerprint": current,
        "packages": {name: package.sha256_base64 for name, package in packages.items()},
        "outputs": outputs,
        "applied_at": time.time(),
        "apply_seconds": round(time.monotonic() - started, 1),
    }
    _record_path(settings, env).write_text(json.dumps(record, indent=2))
    return record | {"applied": True}


def _only_code_changed(previous: dict, current: dict) -> bool:
    unchanged = {k: v for k, v in current.items() if k != "lambdas"}
    return {k: v for k, v in previous.items() if k != "lambdas"} == unchanged


def _update_code(
    settings: Settings, env: str, previous: dict, current: dict, progress: Callable[[str], None]
) -> dict:
    """Only function code changed: upload it with UpdateFunctionCode, no Terraform run.

    The next real apply sees new zip hashes in its variables and re-uploads the same
    code, so Terraform's state and the functions never disagree for long.
    """
    packages = build_functions(settings, progress)
    lam = aws.client("lambda", settings)
    updated = []
    for name, package in packages.items():
        if previous.get("packages", {}).get(name) == package.sha256_base64:
            continue
        function = previous["outputs"][FUNCTION_OUTPUTS.get(name, f"{name}_function")]
        lam.update_function_code(FunctionName=function, ZipFile=package.path.read_bytes())
        lam.get_waiter("function_updated_v2").wait(FunctionName=function)
        updated.append(name)
        progress(f"{env}: updated the code of {function} (no Terraform run)")
    record = previous | {
        "fingerprint": current,
        "packages": {name: package.sha256_base64 for name, package in packages.items()},
    }
    _record_path(settings, env).write_text(json.dumps(record, indent=2))
    return record | {"applied": False, "updated_functions": updated}


def destroy(
    settings: Settings, env: str = "local", progress: Callable[[str], None] = print
) -> bool:
    work = _work_dir(settings, env)
    record = deployed(settings, env)
    if record is None or not (work / "terraform.tfstate").exists():
        progress(f"{env}: nothing deployed")
        return False
    if record["fingerprint"]["target"] == _target_identity(settings):
        source = _staged_sources(settings, env)
        tf_env = terraform.environment(settings, work / "data", settings.endpoint)
        terraform.run(["init", "-input=false", "-backend=false", "-no-color"], source, tf_env)
        tfvars = work / "harness.auto.tfvars.json"
        terraform.run(
            [
                "destroy",
                "-auto-approve",
                "-input=false",
                f"-var-file={tfvars}",
                "-state",
                str(work / "terraform.tfstate"),
            ],
            source,
            tf_env,
            progress,
        )
    else:
        progress(f"{env}: LocalStack was restarted since the deploy; its resources are gone")
    (work / "terraform.tfstate").unlink(missing_ok=True)
    _record_path(settings, env).unlink(missing_ok=True)
    return True


def outputs(settings: Settings, env: str = "local") -> dict:
    record = deployed(settings, env)
    if record is None:
        raise HarnessError(f"nothing is deployed to {env}; run `harness deploy` first")
    return record["outputs"]

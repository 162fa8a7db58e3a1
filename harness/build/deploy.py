"""Deploying `infra/envs/local` onto the running local stack, only when needed.

A deployment is identified by the content of `infra/` and `lambdas/`, the stub
endpoints, and the LocalStack instance it went to. If all match what was deployed
last, nothing runs: a warm stack is ready in well under a second. Terraform state
and its data folder live in `.harness/terraform/<env>/`, never in the source tree.

`ready(settings, progress)` is what drivers call: the stack up (reused when it runs)
and the deploy done, returned as one `Deployment` (outputs, what was started, timings).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.build import functions, snapshots, terraform
from harness.build.packaging import Package
from harness.config import Settings
from harness.runtime import aws, backends, stack
from harness.runtime.stack import StackState
from harness.util.errors import HarnessError
from harness.util.files import private_subdir

INFRA_TREES = ("infra/modules", "infra/envs/local")
SKIP_PARTS = {".terraform", "__pycache__", "tests", ".pytest_cache"}


TFVARS = "harness.auto.tfvars.json"  # the deploy's inputs, in its work folder


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
    return backends.get(settings).identity(settings)


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
    """infra/ copied next to the state (terraform.stage_infra says why)."""
    return terraform.stage_root(settings.project_dir, _source_dir(settings, env), env)


def _source_dir(settings: Settings, env: str) -> Path:
    return _work_dir(settings, env) / "src"


def deployed(settings: Settings, env: str = "local") -> dict | None:
    try:
        return json.loads(_record_path(settings, env).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def deployments(settings: Settings) -> dict[str, str]:
    """`{"local": "applied <time>, up to date|out of date"}` for `harness status`."""
    record = deployed(settings, "local")
    if not record:
        return {}
    current = record["fingerprint"] == fingerprint(settings)
    applied = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record["applied_at"]))
    return {"local": f"applied {applied}, " + ("up to date" if current else "out of date")}


def build_functions(
    settings: Settings, progress: Callable[[str], None] = print
) -> dict[str, Package]:
    """Every function's zip for the local stack, in `functions.zip_dir`."""
    python_version = backends.functions_python(settings)
    architecture = settings.lambda_build_architecture
    return functions.build(
        settings.project_dir,
        functions.zip_dir(settings.project_dir, architecture, python_version, local=True),
        python_version=python_version,
        architecture=architecture,
        progress=progress,
    )


def _tfvars(settings: Settings, packages: dict[str, Package], root: Path) -> dict:
    """The variables of the staged `root`; zip paths relative to it, so the Terraform
    state of one clone reads the same in another (a saved deployment's, snapshots.py)."""
    # The stubs as the functions see them (a Docker network name with the docker backend).
    rekognition, slack = backends.lambda_stub_endpoints(settings)
    return {
        "region": settings.region,
        "name_prefix": settings.name_prefix,
        **functions.tf_variables(packages, relative_to=root),
        "rekognition_endpoint": rekognition,
        "slack_webhook_url": f"{slack}/services/T000LOCAL/B000LOCAL/localsecret",
    }


def deploy(
    settings: Settings,
    env: str = "local",
    force: bool = False,
    progress: Callable[[str], None] = print,
    fresh_stack: bool = False,
) -> dict:
    """Apply `infra/envs/<env>` unless the same thing is already deployed there.

    `fresh_stack`: LocalStack was started just now and nothing has used it since, so a
    saved deployment may be loaded before the apply, or the apply saved after it
    (snapshots.py); neither when it holds functions, queues or buckets all the same.
    """
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
    private_subdir(settings.state_dir, work.relative_to(settings.state_dir))
    source = _staged_sources(settings, env)
    variables = _tfvars(settings, packages, source)
    tfvars = work / TFVARS
    tfvars.write_text(json.dumps(variables, indent=2))
    started = time.monotonic()
    saved = None
    if fresh_stack and snapshots.enabled(settings):
        if held := _resources_held(settings):  # a load would replace them, a save keep them
            progress(f"{env}: LocalStack already holds {held}: no saved deployment is used")
        else:
            saved = snapshots.key(settings, env, current["infra"], variables)
    loaded = None
    if saved and (folder := snapshots.find(settings, saved)):
        loaded = _load_saved(settings, env, folder, work, progress)
        if loaded is None:  # the failed load restarted LocalStack: record the new one
            current = current | {"target": _target_identity(settings)}
    if loaded is not None:  # saved with its Terraform state: nothing to apply
        outputs = terraform.state_outputs((work / snapshots.TFSTATE).read_text())
    else:
        progress(f"{env}: applying Terraform (the first apply takes about a minute) ...")
        outputs = apply_root(settings, source, work, tfvars, progress)
    record = {
        "env": env,
        "fingerprint": current,
        "packages": {name: package.sha256_base64 for name, package in packages.items()},
        "outputs": outputs,
        "applied_at": time.time(),
        "apply_seconds": round(time.monotonic() - started, 1),
        "snapshot": None if saved is None else {"key": saved, "loaded": loaded is not None},
    }
    _record_path(settings, env).write_text(json.dumps(record, indent=2))
    if saved is not None and loaded is None:
        _save(settings, env, saved, work, progress)
    return record | {"applied": True}


def _load_saved(
    settings: Settings, env: str, folder: Path, work: Path, progress: Callable[[str], None]
) -> Path | None:
    """The saved deployment in `folder` loaded into the fresh LocalStack, or None after a
    failed load: the folder is then deleted and LocalStack started afresh, so that the
    apply starts from nothing."""
    try:
        seconds = snapshots.load(settings, folder, work)
    except HarnessError as error:
        progress(f"{env}: the saved deployment did not load ({error}); it is deleted")
        snapshots.discard(folder)
        (work / snapshots.TFSTATE).unlink(missing_ok=True)
        stack.down(settings, {stack.LOCALSTACK})
        stack.up(settings, progress)
        return None
    progress(f"{env}: loaded the saved deployment in {seconds:.1f} s (nothing to apply)")
    return folder


def _resources_held(settings: Settings) -> str:
    """What LocalStack already holds (a test's own resources, say): a load would replace
    them (it replaces every service's state) and a save would keep them for every later
    start. Empty when it holds none."""
    held = {
        "functions": aws.client("lambda", settings).list_functions()["Functions"],
        "queues": aws.client("sqs", settings).list_queues().get("QueueUrls", []),
        "buckets": aws.client("s3", settings).list_buckets()["Buckets"],
    }
    return ", ".join(f"{name}: {len(found)}" for name, found in held.items() if found)


def _save(
    settings: Settings, env: str, saved: str, work: Path, progress: Callable[[str], None]
) -> None:
    """Save what an apply onto an empty LocalStack made, for the next fresh start."""
    started = time.monotonic()
    try:
        snapshots.save(settings, saved, work)
    except HarnessError as error:  # the stack is deployed; only the next start is slower
        progress(f"{env}: the deployment was not saved for the next start ({error})")
        return
    progress(f"{env}: saved for the next start in {time.monotonic() - started:.1f} s")


def _init(
    settings: Settings, source: Path, work: Path, progress: Callable[[str], None]
) -> dict[str, str]:
    """`terraform init` of a staged root for the local stack; returns Terraform's environment.

    A root with a backend of its own (envs/aws: S3) is run with a local one instead
    (terraform.use_local_backend), so its state is the file in `work` as for envs/local.
    """
    tf_env = terraform.environment(settings, work / "data", settings.endpoint)
    overridden = (source / terraform.LOCAL_BACKEND_OVERRIDE).exists()
    init = ["init", "-input=false", "-no-color", *([] if overridden else ["-backend=false"])]
    terraform.run(init, source, tf_env, progress)
    return tf_env


def initialised_root(settings: Settings, env: str = "local") -> tuple[Path, dict[str, str]]:
    """The staged root of what is deployed (`infra/envs/<env>`) and Terraform's
    environment for it, initialised: for a plan against the stack (a loaded deployment
    ran no `terraform init`)."""
    source = terraform.staged_root(_source_dir(settings, env), env)
    return source, _init(settings, source, _work_dir(settings, env), progress=lambda m: None)


def apply_root(
    settings: Settings,
    source: Path,
    work: Path,
    var_file: Path,
    progress: Callable[[str], None] = print,
) -> dict:
    """Apply the root staged in `source` onto the local stack (through tflocal), its state
    `work/terraform.tfstate`; returns its outputs. The one apply of every local root."""
    tf_env, state = _run_root("apply", settings, source, work, var_file, progress)
    return terraform.output_values(
        terraform.run(["output", "-json", *state], source, tf_env, local=False, capture=True)
    )


def destroy_root(
    settings: Settings,
    source: Path,
    work: Path,
    var_file: Path,
    progress: Callable[[str], None] = print,
) -> None:
    """Destroy what apply_root applied from the same staged root and variables."""
    _run_root("destroy", settings, source, work, var_file, progress)


def _run_root(
    command: str,
    settings: Settings,
    source: Path,
    work: Path,
    var_file: Path,
    progress: Callable[[str], None],
) -> tuple[dict[str, str], list[str]]:
    """`terraform apply|destroy` of a staged root, logged to `work/<command>.log`; returns
    the Terraform environment and the state arguments for what follows."""
    tf_env = _init(settings, source, work, progress)
    state = ["-state", str(work / "terraform.tfstate")]
    terraform.run(
        [command, "-auto-approve", "-input=false", "-no-color", f"-var-file={var_file}", *state],
        source,
        tf_env,
        progress,
        log_path=work / f"{command}.log",
    )
    return tf_env, state


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
        function = functions.BY_NAME[name].deployed_name(previous["outputs"])
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
        tfvars = work / TFVARS
        destroy_root(settings, _staged_sources(settings, env), work, tfvars, progress)
    else:
        progress(f"{env}: LocalStack was restarted since the deploy; its resources are gone")
    (work / "terraform.tfstate").unlink(missing_ok=True)
    _record_path(settings, env).unlink(missing_ok=True)
    return True


def outputs(settings: Settings, env: str = "local") -> dict:
    """The outputs of the deployment on the LocalStack that runs now.

    A LocalStack that was stopped or killed since took every resource with it; saying
    so at once beats a connection error after the SDK's retries.
    """
    record = deployed(settings, env)
    if record is None:
        raise HarnessError(f"nothing is deployed to {env}; run `harness deploy` first")
    if record["fingerprint"]["target"] != _target_identity(settings):
        raise HarnessError(
            f"the LocalStack that {env} was deployed to is gone (stopped or killed) and its "
            "resources with it; `harness up` starts a new one and deploys again"
        )
    return record["outputs"]


@dataclass(frozen=True)
class Deployment:
    """The local stack running and `infra/envs/<env>` deployed on it (see `ready`)."""

    stack: StackState
    outputs: dict
    applied: bool  # Terraform ran (False: nothing changed, or only code was updated)
    apply_seconds: float | None  # of the Terraform apply, when one ran
    updated_functions: tuple[str, ...]  # code updated without Terraform
    loaded_saved: bool  # a saved deployment was loaded before the apply (snapshots.py)
    seconds: float  # stack up plus deploy


def ready(
    settings: Settings,
    progress: Callable[[str], None] = print,
    env: str = "local",
    force: bool = False,
    use_saved: bool = True,
    started_localstack: bool = False,
) -> Deployment:
    """Bring the local stack up (reusing what runs) and deploy `infra/envs/<env>` on it
    (skipped when nothing changed): what every command, demo, bench and test session
    needs before it drives a pipeline. Callers that must stop what it started wrap it
    in `stack.owned`. A LocalStack started here may load a saved deployment
    (snapshots.py); `use_saved=False` applies from scratch anyway (the bench's first cold
    start). `started_localstack=True`: the caller started LocalStack itself, just before,
    and nothing has used it since (the test session's stack, before its first test).
    """
    started = time.monotonic()
    state = stack.up(settings, progress)
    record = deploy(
        settings,
        env,
        force=force,
        progress=progress,
        fresh_stack=use_saved and (state.started_localstack or started_localstack),
    )
    return Deployment(
        stack=state,
        outputs=record["outputs"],
        applied=record["applied"],
        apply_seconds=record.get("apply_seconds") if record["applied"] else None,
        updated_functions=tuple(record.get("updated_functions", ())),
        loaded_saved=bool(record["applied"] and (record.get("snapshot") or {}).get("loaded")),
        seconds=round(time.monotonic() - started, 2),
    )

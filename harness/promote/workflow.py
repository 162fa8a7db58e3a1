"""Promotion to real AWS: plan, apply and smoke-test `infra/envs/<env>` (`aws`).

The same modules as the local stack, applied with the user's own AWS credentials and
S3 state backend; nothing of LocalStack is involved. What can be checked before
touching AWS is checked first, with a message saying what to do: credentials present
(and not LocalStack's), no endpoint override in the environment, a backend config
naming the state bucket and key, the region and the Slack webhook URL given.

- `plan` builds the Lambda packages for the configured platform (architecture,
  Python version), runs `terraform init` with the backend config and `terraform plan
  -out`, then reviews the plan with harness.promote.plan_audit and refuses on findings.
- `apply` applies exactly that saved plan, after checking the packages are still the
  bytes that were planned (Terraform uploads the file, not the hash).
- `smoke` uploads a few fixture images, waits for their results (tolerant label
  checks: real Rekognition), optionally has the notifier post a test notice to the
  real Slack webhook, and deletes every object (and version) it created.

Terraform runs through a `runner` (default: harness.build.terraform.run), so everything but
the calls to AWS is exercised offline by the tests; `run_smoke` takes boto3 clients
and runs unchanged against the local stack.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.build import functions, packaging, terraform
from harness.build.fixtures import ImageSpec, render
from harness.config import Settings
from harness.promote import plan_audit
from harness.runtime import aws
from harness.util.errors import HarnessError
from harness.util.files import PRIVATE_FILE_MODE, atomic_write_text, private_subdir
from harness.util.waiting import WaitTimeout, wait_for

ENVS = ("aws",)
Runner = Callable[[list[str], Path, dict[str, str]], str]
Progress = Callable[[str], None]

NO_CREDENTIALS = (
    "no AWS credentials found: promote works on your own AWS account. Set AWS_PROFILE "
    "(aws configure / aws sso login) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. "
    "With an instance or task role only, export them first: "
    "eval $(aws configure export-credentials --format env)"
)
NO_BACKEND = (
    "no backend config: the aws environment keeps its state in S3 (with locking). Pass "
    '--backend-config <file> with bucket, key and region (one `name = "value"` a line), '
    "or --backend-config bucket=<bucket> --backend-config key=imgpipe/system-a.tfstate "
    "--backend-config region=<region>"
)
NO_WEBHOOK = (
    "the Slack webhook URL is not set: export TF_VAR_slack_webhook_url=https://hooks.slack."
    "com/services/... (an environment variable, not a command-line argument: it is a secret)"
)


@dataclass(frozen=True)
class PromoteOptions:
    """What the user chose: environment, state backend, variables, package platform."""

    env: str = "aws"
    backend_config: tuple[str, ...] = ()
    var_files: tuple[str, ...] = ()
    region: str | None = None
    architecture: str = "x86_64"
    python_version: str = "3.12"

    @property
    def runtime(self) -> str:
        return f"python{self.python_version}"


@dataclass
class PlanResult:
    plan_file: Path
    changes: dict[str, list[str]]  # address -> actions, without no-ops
    packages: dict[str, str]  # zip path -> base64 SHA-256


@dataclass
class SmokeReport:
    labels: dict[str, list[str]] = field(default_factory=dict)  # key -> label names
    slack: str = "not tested"
    deleted: int = 0


# --- where things are ---------------------------------------------------------


def env_dir(settings: Settings, env: str) -> Path:
    if env not in ENVS:
        raise HarnessError(f"promote knows the environments {', '.join(ENVS)}, not {env!r}")
    return settings.project_dir / "infra" / "envs" / env


def work_dir(settings: Settings, env: str) -> Path:
    return settings.state_dir / "terraform" / f"promote-{env}"


def _private_work_dir(settings: Settings, env: str) -> Path:
    """The work folder, it and the state folder above it private (0700): the saved plan
    holds the real webhook URL, Terraform's data folder the backend config."""
    return private_subdir(
        settings.state_dir, work_dir(settings, env).relative_to(settings.state_dir)
    )


def build_dir(settings: Settings, options: PromoteOptions) -> Path:
    return functions.zip_dir(settings.project_dir, options.architecture, options.python_version)


# --- checks before anything runs ----------------------------------------------


def check_environment(environ: Mapping[str, str]) -> None:
    """Refuse settings that would send the real-AWS run somewhere else."""
    overrides = sorted(k for k in environ if k.startswith("AWS_ENDPOINT_URL"))
    if overrides:
        raise HarnessError(
            f"{', '.join(overrides)} is set: promote talks to real AWS only; unset it "
            "(it points the AWS provider at another endpoint, e.g. LocalStack)"
        )


def credential_source() -> str:
    """How boto3 would authenticate (env, shared-credentials-file, sso, ...); refuses none.

    The EC2 instance metadata provider is left out: probing it means a network call to
    a link-local address, which must not happen on a machine without AWS.
    """
    import botocore.credentials
    import botocore.session

    session = botocore.session.Session()
    resolver = botocore.credentials.create_credential_resolver(session)
    resolver.remove("iam-role")
    credentials = resolver.load_credentials()
    if credentials is None:
        raise HarnessError(NO_CREDENTIALS)
    if credentials.method == "env" and credentials.access_key in ("test", "localstack"):
        raise HarnessError(
            "AWS_ACCESS_KEY_ID is LocalStack's dummy key: promote needs real AWS credentials"
        )
    return credentials.method


def backend_names(items: tuple[str, ...]) -> list[str]:
    """The setting names a backend config gives (`bucket`, `key`, ...), never their values:
    what may be recorded about it."""
    names: set[str] = set()
    for item in items:
        path = Path(item).expanduser()
        if path.is_file():
            names |= set(re.findall(r"^\s*([\w]+)\s*=", path.read_text(), re.M))
        elif re.fullmatch(r"\w+=.+", item):
            names.add(item.split("=", 1)[0])
    return sorted(names)


def plan_record(options: PromoteOptions, packages: dict[str, str]) -> dict[str, Any]:
    """What `apply` needs to know about the plan: the options less the backend config's
    values (they may hold credentials), and the packages' hashes."""
    chosen = {k: v for k, v in options.__dict__.items() if k != "backend_config"}
    chosen["backend_config_names"] = backend_names(options.backend_config)
    return {"options": chosen, "packages": packages}


def backend_args(items: tuple[str, ...], environ: Mapping[str, str]) -> list[str]:
    """`-backend-config=...` flags from files and key=value items; refuses incomplete ones."""
    if not items:
        raise HarnessError(NO_BACKEND)
    given: set[str] = set()
    args: list[str] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_file():
            given |= set(re.findall(r"^\s*([\w]+)\s*=", path.read_text(), re.M))
            args.append(f"-backend-config={path.resolve()}")
        elif re.fullmatch(r"\w+=.+", item):
            given.add(item.split("=", 1)[0])
            args.append(f"-backend-config={item}")
        else:
            raise HarnessError(
                f"--backend-config {item!r} is neither a file nor name=value; " + NO_BACKEND
            )
    missing = [k for k in ("bucket", "key") if k not in given]
    if "region" not in given and not (
        environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    ):
        missing.append("region")
    if missing:
        raise HarnessError(f"the backend config does not name {', '.join(missing)}. " + NO_BACKEND)
    return args


def _var_files_define(var_files: tuple[str, ...], name: str) -> bool:
    pattern = re.compile(rf'^\s*"?{name}"?\s*[=:]', re.M)
    return any(pattern.search(Path(f).read_text()) for f in var_files)


def check_variables(options: PromoteOptions, environ: Mapping[str, str]) -> None:
    """The variables envs/aws cannot do without, given in a way that works."""
    for path in options.var_files:
        if not Path(path).is_file():
            raise HarnessError(f"--var-file {path} does not exist")
    if not (
        options.region
        or environ.get("TF_VAR_region")
        or _var_files_define(options.var_files, "region")
    ):
        raise HarnessError(
            "no region: pass --region (e.g. ap-northeast-2) or set it in a --var-file"
        )
    if not (
        environ.get("TF_VAR_slack_webhook_url")
        or _var_files_define(options.var_files, "slack_webhook_url")
    ):
        raise HarnessError(NO_WEBHOOK)
    if not (
        environ.get("TF_VAR_catalog_cdn_host")
        or _var_files_define(options.var_files, "catalog_cdn_host")
    ):
        raise HarnessError(
            "no catalog_cdn_host: the catalog's image URLs need the CDN host "
            "(e.g. image.example.com); set it in a --var-file or TF_VAR_catalog_cdn_host"
        )


def preflight(options: PromoteOptions, environ: Mapping[str, str]) -> list[str]:
    """Every check that needs no AWS; returns the backend flags."""
    check_environment(environ)
    credential_source()
    return backend_args(options.backend_config, environ)


# --- Terraform ----------------------------------------------------------------


def terraform_env(settings: Settings, env: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The user's environment (credentials, profile, region, TF_VAR_*) plus the harness's
    Terraform settings; the data folder lives with the harness state, not in infra/."""
    result = {k: v for k, v in environ.items() if not k.startswith(("TF_DATA_DIR", "TF_CLI_ARGS"))}
    result.update(
        {
            "TF_DATA_DIR": str(work_dir(settings, env) / "data"),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
    )
    config = terraform.cli_config(settings)
    if config:
        result["TF_CLI_CONFIG_FILE"] = str(config)
    return result


def default_runner(progress: Progress) -> Runner:
    def run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
        capture = args[0] in ("show", "output")
        return terraform.run(args, cwd, env, progress, local=False, capture=capture)

    return run


def init_args(backend: list[str]) -> list[str]:
    return ["init", "-input=false", "-no-color", "-reconfigure", *backend]


@dataclass(frozen=True)
class EnvTerraform:
    """Terraform in one env's folder with its environment: plan, apply and outputs all
    start with the preflight, then init against the state backend, then run commands."""

    run_in: Runner
    directory: Path
    env: dict[str, str]
    backend: list[str]

    def run(self, args: list[str]) -> str:
        return self.run_in(args, self.directory, self.env)

    def init(self) -> None:
        self.run(init_args(self.backend))


def env_terraform(
    settings: Settings,
    options: PromoteOptions,
    environ: Mapping[str, str],
    runner: Runner | None,
    progress: Progress,
) -> EnvTerraform:
    """The preflight checks (nothing runs if one fails), then Terraform for the env."""
    backend = preflight(options, environ)
    return EnvTerraform(
        runner or default_runner(progress),
        env_dir(settings, options.env),
        terraform_env(settings, options.env, environ),
        backend,
    )


def plan_args(plan_file: Path, var_file: Path, options: PromoteOptions) -> list[str]:
    user_files = [f"-var-file={Path(f).resolve()}" for f in options.var_files]
    return [
        "plan",
        "-input=false",
        "-no-color",
        f"-var-file={var_file}",
        *user_files,
        f"-out={plan_file}",
    ]


def package_variables(
    settings: Settings, options: PromoteOptions, progress: Progress = print
) -> tuple[dict[str, Any], dict[str, str]]:
    """Build every function (harness.build.functions, as the local deploy does);
    returns (tfvars, {zip path: sha256}).

    Zip paths are relative to the env folder, so the plan is the same in any clone.
    """
    directory = env_dir(settings, options.env)
    variables: dict[str, Any] = {
        "lambda_architecture": options.architecture,
        "lambda_runtime": options.runtime,
    }
    if options.region:
        variables["region"] = options.region
    packages = functions.build(
        settings.project_dir,
        build_dir(settings, options),
        python_version=options.python_version,
        architecture=options.architecture,
        progress=progress,
    )
    variables |= functions.tf_variables(packages, relative_to=directory)
    hashes = {str(package.path): package.sha256_base64 for package in packages.values()}
    return variables, hashes


def plan(
    settings: Settings,
    options: PromoteOptions,
    environ: Mapping[str, str] = os.environ,
    runner: Runner | None = None,
    progress: Progress = print,
) -> PlanResult:
    """Build, init, plan to a file, and review the plan; refuses on findings."""
    tf = env_terraform(settings, options, environ, runner, progress)
    check_variables(options, environ)
    work = _private_work_dir(settings, options.env)
    variables, hashes = package_variables(settings, options, progress)
    var_file = work / "packages.tfvars.json"
    atomic_write_text(var_file, json.dumps(variables, indent=2))
    plan_file = work / "promote.tfplan"
    record_path = work / "promote-plan.json"
    plan_file.unlink(missing_ok=True)
    record_path.unlink(missing_ok=True)
    tf.init()
    try:
        tf.run(plan_args(plan_file, var_file, options))
        plan_file.chmod(PRIVATE_FILE_MODE)  # it holds the webhook URL: the owner's only
        shown = tf.run(["show", "-json", str(plan_file)])
        reviewed = plan_audit.Plan(json.loads(shown))
        findings = list(plan_audit.summary(plan_audit.all_findings(reviewed)))
        if findings:
            raise HarnessError(
                "the plan fails the security review; nothing will be applied:\n  "
                + "\n  ".join(findings)
            )
        atomic_write_text(record_path, json.dumps(plan_record(options, hashes), indent=2))
    except BaseException:
        plan_file.unlink(missing_ok=True)  # a plan not reviewed, or refused, is never kept
        raise
    changes = {
        c["address"]: c["change"]["actions"]
        for c in reviewed.document.get("resource_changes", [])
        if c["change"]["actions"] != ["no-op"]
    }
    return PlanResult(plan_file, changes, hashes)


def apply(
    settings: Settings,
    options: PromoteOptions,
    environ: Mapping[str, str] = os.environ,
    runner: Runner | None = None,
    progress: Progress = print,
) -> dict[str, Any]:
    """Apply the plan saved by `plan` (once), then return the stack's outputs."""
    tf = env_terraform(settings, options, environ, runner, progress)
    work = work_dir(settings, options.env)
    plan_file = work / "promote.tfplan"
    record_path = work / "promote-plan.json"
    if not plan_file.is_file() or not record_path.is_file():
        raise HarnessError("no saved plan: run `harness promote plan` first, review it, then apply")
    record = json.loads(record_path.read_text())
    for path, sha in record["packages"].items():
        if not Path(path).is_file() or packaging.sha256_base64(Path(path)) != sha:
            raise HarnessError(
                f"{path} changed since the plan (Terraform would upload other bytes than "
                "planned): run `harness promote plan` again"
            )
    tf.init()
    try:
        tf.run(["apply", "-input=false", "-no-color", str(plan_file)])
    finally:
        # A saved plan is applied once: after a failed apply it is stale anyway.
        plan_file.unlink(missing_ok=True)
        record_path.unlink(missing_ok=True)
    values = terraform.output_values(tf.run(["output", "-json"]))
    atomic_write_text(work / "outputs.json", json.dumps(values, indent=2))
    return values


def stack_outputs(
    settings: Settings,
    options: PromoteOptions,
    environ: Mapping[str, str] = os.environ,
    runner: Runner | None = None,
    progress: Progress = print,
) -> dict[str, Any]:
    """`terraform output -json` of the applied stack, read from its S3 state."""
    tf = env_terraform(settings, options, environ, runner, progress)
    tf.init()
    values = terraform.output_values(tf.run(["output", "-json"]))
    if not values:
        raise HarnessError("the stack has no outputs: run `harness promote apply` first")
    return values


# --- smoke test -----------------------------------------------------------------

SMOKE_IMAGES = {
    "portrait.jpg": (ImageSpec(scene="portrait", seed=11), "image/jpeg"),
    "sky at noon.png": (ImageSpec(format="png", scene="sky", seed=12), "image/png"),
    "고양이/SHAPES.JPG": (ImageSpec(scene="shapes", seed=13), "image/jpeg"),
}


def _check_result(key: str, result: dict) -> list[str]:
    """Tolerant checks: real Rekognition decides the labels, we check their shape."""
    labels = result.get("Labels")
    if result.get("source", {}).get("key") != key:
        raise AssertionError(f"result of {key} names {result.get('source')}")
    if not isinstance(labels, list) or not isinstance(result.get("LabelModelVersion"), str):
        raise AssertionError(f"result of {key} is not a DetectLabels result: {result}")
    for label in labels:
        confidence = label.get("Confidence")
        if not isinstance(label.get("Name"), str) or not isinstance(confidence, int | float):
            raise AssertionError(f"result of {key} has a malformed label: {label}")
        if not 0 <= confidence <= 100:
            raise AssertionError(f"result of {key}: confidence {confidence} out of range")
    return [label["Name"] for label in labels]


def _slack_event(outputs: Mapping[str, Any], run_id: str) -> dict:
    arn = outputs["alarm_arn"]
    message = {
        "AlarmName": outputs["alarm_name"],
        "AlarmArn": arn,
        "AlarmDescription": "harness promote smoke: a test notice, no action needed",
        "NewStateValue": "ALARM",
        "OldStateValue": "OK",
        "NewStateReason": f"harness promote smoke {run_id}",
        "StateChangeTime": time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime()),
        "Trigger": {"Dimensions": [{"name": "QueueName", "value": outputs["dlq_name"]}]},
    }
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": run_id,
                    "TopicArn": outputs["topic_arn"],
                    "Message": json.dumps(message),
                },
            }
        ]
    }


def run_smoke(
    s3,
    lambda_client,
    outputs: Mapping[str, Any],
    slack: bool = False,
    timeout: float = 300,
    progress: Progress = print,
) -> SmokeReport:
    """Upload SMOKE_IMAGES under a fresh folder, wait for their results, clean up."""
    run_id = f"smoke-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    bucket = outputs["bucket"]
    prefixes = [
        outputs[p] + run_id + "/" for p in ("ingest_prefix", "results_prefix", "failures_prefix")
    ]
    report = SmokeReport()
    try:
        keys = {}
        for name, (spec, content_type) in SMOKE_IMAGES.items():
            key = prefixes[0] + name
            s3.put_object(Bucket=bucket, Key=key, Body=render(spec), ContentType=content_type)
            keys[key] = prefixes[1] + name + ".json"
        progress(f"uploaded {len(keys)} images under s3://{bucket}/{prefixes[0]}")
        for key, result_key in keys.items():
            failure_key = prefixes[2] + key.removeprefix(prefixes[0]) + ".json"

            def seen(result_key=result_key, failure_key=failure_key):
                failure = aws.read_json(s3, bucket, failure_key)
                if failure and not failure.get("transient"):
                    raise AssertionError(f"labeling failed: {failure.get('reason')}")
                return aws.read_json(s3, bucket, result_key)

            try:
                result = wait_for(seen, timeout, f"result of {key}", interval=2)
            except WaitTimeout as exc:
                raise AssertionError(str(exc)) from None
            report.labels[key] = _check_result(key, result)
            progress(f"{key}: {', '.join(report.labels[key][:5]) or 'no label'}")
        if not any(report.labels.values()):
            raise AssertionError("Rekognition found no label in any smoke image")
        if slack:
            response = lambda_client.invoke(
                FunctionName=functions.BY_NAME["slack_notifier"].deployed_name(outputs),
                Payload=json.dumps(_slack_event(outputs, run_id)).encode(),
            )
            payload = json.loads(response["Payload"].read() or b"null")
            if response.get("FunctionError") or payload != {"posted": 1, "skipped": 0}:
                raise AssertionError(f"the notifier did not post to Slack: {payload}")
            report.slack = "posted a test notice"
            progress("Slack: the notifier posted a test notice")
    finally:
        report.deleted = aws.delete_versions(s3, bucket, prefixes)
        progress(f"deleted {report.deleted} object version(s) of the smoke run")
    return report


def smoke(
    settings: Settings,
    options: PromoteOptions,
    slack: bool = False,
    timeout: float = 300,
    environ: Mapping[str, str] = os.environ,
    runner: Runner | None = None,
    progress: Progress = print,
) -> SmokeReport:
    """run_smoke against the applied stack, with the user's credentials."""
    import boto3

    outputs = stack_outputs(settings, options, environ, runner, progress)
    session = boto3.Session(region_name=outputs["region"])
    return run_smoke(
        session.client("s3"), session.client("lambda"), outputs, slack, timeout, progress
    )

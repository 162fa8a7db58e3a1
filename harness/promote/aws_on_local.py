"""`infra/envs/aws` itself applied onto the local stack: the rehearsal of a first deploy.

The composition is not edited. A staged copy of infra/ gets only what points it at the
local stack: tflocal's provider override (endpoints, test credentials, skip flags), and
a local backend instead of the S3 one (`terraform.use_local_backend`), its state in
`<state>/terraform/aws-on-local/`. Versioning, the topic's KMS key, the alarms, the
retries, the timeouts and the IAM are envs/aws's own, under the local stack's enforced
IAM. The variables are what `harness promote` passes, with the local stand-ins:

- the zips built for the interpreter that runs them here (as `harness deploy` builds);
- the Slack sink as the webhook, with the `https` scheme envs/aws demands (the sink
  speaks plain HTTP: `harness promote smoke` does not post unless asked, and the alarms
  stay quiet);
- a reserved `.test` CDN host.

The functions reach the Rekognition stub as their region's endpoint: the Lambda executor
sets `AWS_ENDPOINT_URL_REKOGNITION` for a function that names none
(`HARNESS_LAMBDA_STUB_ENDPOINTS`). What stays different from AWS is listed in
infra/envs/differences.yaml (`localstack:`, "envs/aws on the local stack").

Its resources are named `<prefix>-awsroot-...` (`beside`), so it runs on the same stack
as envs/local's deployment without a clash. `rehearse` is all of it at once (`harness
promote rehearse`): apply, `harness promote smoke`'s run against it, the IAM denials of
the run, destroy.

`destroy` takes it all down again. envs/aws protects data (no `force_destroy`, 30 days
to restore the database secret), so it first deletes every object version left in the
stack's buckets and afterwards purges the secret Secrets Manager keeps for 30 days: on
a throw-away stack, a second rehearsal with the same prefix must not find them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.build import deploy, functions, terraform
from harness.config import Settings
from harness.observe import denials
from harness.promote import workflow
from harness.runtime import aws, backends, stack
from harness.util.files import atomic_write_text, private_subdir

ENV = "aws"
WORK = Path("terraform") / "aws-on-local"
CDN_HOST = "images.harness.test"
Progress = Callable[[str], None]


def beside(settings: Settings) -> Settings:
    """The settings of the rehearsal: the same stack, names of its own beside envs/local's."""
    return dataclasses.replace(settings, name_prefix=f"{settings.name_prefix}-awsroot")


def work_dir(settings: Settings) -> Path:
    return settings.state_dir / WORK


def variables(settings: Settings, packages: dict) -> dict:
    """envs/aws's variables for the local stack (the module docstring says which and why)."""
    _, slack = backends.lambda_stub_endpoints(settings)
    sink = urlsplit(slack)
    return {
        "region": settings.region,
        "name_prefix": settings.name_prefix,
        **functions.tf_variables(packages),
        "slack_webhook_url": f"https://{sink.netloc}/services/T000LOCAL/B000LOCAL/localsecret",
        "catalog_cdn_host": CDN_HOST,
    }


def _staged_root(settings: Settings) -> Path:
    env_dir = terraform.stage_root(settings.project_dir, work_dir(settings) / "src", ENV)
    terraform.use_local_backend(env_dir)
    return env_dir


def apply(settings: Settings, progress: Progress = print) -> dict:
    """Build the functions and apply envs/aws onto the running local stack; its outputs."""
    work = private_subdir(settings.state_dir, WORK)
    packages = deploy.build_functions(settings, progress)
    var_file = work / "harness.tfvars.json"
    atomic_write_text(var_file, json.dumps(variables(settings, packages), indent=2))
    progress("envs/aws on the local stack: applying Terraform ...")
    outputs = deploy.apply_root(settings, _staged_root(settings), work, var_file, progress)
    atomic_write_text(work / "outputs.json", json.dumps(outputs, indent=2))
    return outputs


def outputs(settings: Settings) -> dict | None:
    """The outputs of the last apply, or None when nothing is applied."""
    try:
        return json.loads((work_dir(settings) / "outputs.json").read_text())
    except (OSError, ValueError):
        return None


def destroy(settings: Settings, progress: Progress = print) -> bool:
    """Take down what `apply` created; False when nothing was applied."""
    work = work_dir(settings)
    if not (work / "terraform.tfstate").exists():
        progress("envs/aws on the local stack: nothing applied")
        return False
    applied = outputs(settings) or {}
    catalog = applied.get("catalog", {})
    s3 = aws.client("s3", settings)
    for bucket in (
        applied.get("bucket"),
        catalog.get("upload_bucket"),
        catalog.get("served_bucket"),
    ):
        if bucket:
            aws.delete_versions(s3, bucket)
    var_file = work / "harness.tfvars.json"
    deploy.destroy_root(settings, _staged_root(settings), work, var_file, progress)
    if catalog.get("db_secret_arn"):
        secrets = aws.client("secretsmanager", settings)
        with contextlib.suppress(secrets.exceptions.ResourceNotFoundException):
            secrets.delete_secret(
                SecretId=catalog["db_secret_arn"], ForceDeleteWithoutRecovery=True
            )
    for name in ("terraform.tfstate", "outputs.json"):
        (work / name).unlink(missing_ok=True)
    return True


def denials_since(settings: Settings, since: float) -> list[dict[str, Any]]:
    """The IAM denials since `since` (epoch seconds) that concern this deployment (its
    name prefix in the record; other work on the stack has other prefixes)."""
    return [
        record
        for record in denials.read(settings.iam_denials, since=denials.iso(since))
        if settings.name_prefix in json.dumps(record)
    ]


@dataclass
class Rehearsal:
    outputs: dict
    smoke: workflow.SmokeReport
    denials: list[dict[str, Any]]
    apply_seconds: float
    smoke_seconds: float


def rehearse(
    settings: Settings, keep: bool = False, timeout: float = 180, progress: Progress = print
) -> Rehearsal:
    """The local stack up, envs/aws applied `beside` envs/local, the smoke run against it,
    the denials of it all; then destroyed unless `keep`. The caller judges the denials."""
    stack.up(settings, progress)
    settings = beside(settings)
    started = time.time()
    try:
        applied_outputs = apply(settings, progress)
        applied = time.time()
        report = workflow.run_smoke(
            aws.client("s3", settings),
            aws.client("lambda", settings),
            applied_outputs,
            timeout=timeout,
            progress=progress,
        )
        smoked = time.time()
        found = denials_since(settings, started)
    finally:
        if not keep:
            destroy(settings, progress)
    return Rehearsal(
        applied_outputs, report, found, round(applied - started, 1), round(smoked - applied, 1)
    )

"""`harness promote plan|apply|smoke --env aws`: the command line of harness.promote."""

from __future__ import annotations

import click

from harness import config
from harness.cli.console import console, progress, working
from harness.cli.groups import Group
from harness.observe import denials
from harness.promote import aws_on_local
from harness.promote import workflow as promote_module
from harness.promote.workflow import PromoteOptions
from harness.util.errors import HarnessError


def _options(function):
    """Options shared by the three commands (smoke needs only env and backend)."""
    decorators = [
        click.option(
            "--env",
            type=click.Choice(promote_module.ENVS),
            default="aws",
            show_default=True,
            help="Environment under infra/envs to promote.",
        ),
        click.option(
            "--backend-config",
            "backend_config",
            multiple=True,
            envvar="HARNESS_PROMOTE_BACKEND_CONFIG",
            help="S3 state backend: a file (bucket, key, region) or name=value; repeatable. "
            "[env: HARNESS_PROMOTE_BACKEND_CONFIG]",
        ),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def _build_options(function):
    decorators = [
        click.option("--var-file", "var_files", multiple=True, help="Extra .tfvars; repeatable."),
        click.option("--region", help="AWS region (else from a --var-file or TF_VAR_region)."),
        click.option(
            "--architecture",
            type=click.Choice(["x86_64", "arm64"]),
            default="x86_64",
            show_default=True,
            help="Lambda architecture the packages are built and deployed for.",
        ),
        click.option(
            "--python-version",
            default="3.12",
            show_default=True,
            help="Python of the Lambda runtime (python<version>) and of the bundled wheels.",
        ),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


@click.group(cls=Group)
def promote() -> None:
    """Deploy the same Terraform to real AWS and check it there.

    Promotes infra/envs/aws with your own credentials. Needs AWS credentials
    (AWS_PROFILE or keys), an S3 state backend (--backend-config) and
    TF_VAR_slack_webhook_url. `plan` builds the packages and saves a reviewed plan,
    `apply` applies that plan, `smoke` checks the deployed pipeline and cleans up.
    """


@promote.command("plan")
@_options
@_build_options
def plan_command(env, backend_config, var_files, region, architecture, python_version) -> None:
    """Build the packages, plan to a file, review its security."""
    options = PromoteOptions(
        env, tuple(backend_config), tuple(var_files), region, architecture, python_version
    )
    with working(f"planning infra/envs/{env}"):
        result = promote_module.plan(config.load(), options, progress=progress)
    for address, actions in sorted(result.changes.items()):
        console.print(f"  {'/'.join(actions):>16}  {address}")
    progress(
        f"{len(result.changes)} change(s) planned and reviewed; saved to {result.plan_file}. "
        "Apply it with `harness promote apply`."
    )


@promote.command("apply")
@_options
def apply_command(env, backend_config) -> None:
    """Apply the plan saved by `harness promote plan` (once)."""
    options = PromoteOptions(env, tuple(backend_config))
    with working(f"applying infra/envs/{env}"):
        outputs = promote_module.apply(config.load(), options, progress=progress)
    for name, value in sorted(outputs.items()):
        console.print(f"  {name}: {value}")
    progress("applied; check it with `harness promote smoke`")


@promote.command("smoke")
@_options
@click.option(
    "--slack/--no-slack",
    default=False,
    show_default=True,
    help="Also have the notifier post a test notice to the real Slack webhook.",
)
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait per image.")
def smoke_command(env, backend_config, slack, timeout) -> None:
    """Label a few images on AWS (real Rekognition), then delete them."""
    options = PromoteOptions(env, tuple(backend_config))
    with working(f"smoke test of infra/envs/{env}"):
        report = promote_module.smoke(
            config.load(), options, slack=slack, timeout=timeout, progress=progress
        )
    progress(
        f"smoke passed: {len(report.labels)} image(s) labeled, Slack {report.slack}, "
        f"{report.deleted} object version(s) deleted"
    )


@promote.command("rehearse")
@click.option("--keep", is_flag=True, help="Leave the deployment on the stack (destroy: --down).")
@click.option("--down", is_flag=True, help="Only destroy a deployment kept by --keep.")
@click.option("--timeout", default=180.0, show_default=True, help="Seconds to wait per image.")
def rehearse_command(keep, down, timeout) -> None:
    """infra/envs/aws itself on the local stack, then `smoke` against it, no IAM denial.

    Applies envs/aws unchanged (only the provider pointed at the local stack, a local
    backend instead of S3) beside envs/local (names `<prefix>-awsroot-...`), under the
    stack's enforced IAM, runs the smoke test of `harness promote smoke` against it,
    lists any IAM denial, and destroys it (unless --keep). Exit 1 on a denial.
    """
    settings = config.load()
    if down:
        aws_on_local.destroy(aws_on_local.beside(settings), progress=progress)
        return
    with working("rehearsing infra/envs/aws on the local stack"):
        result = aws_on_local.rehearse(settings, keep=keep, timeout=timeout, progress=progress)
    for record in result.denials:
        console.print(
            f"  denied: {denials.who(record)} {record.get('action')} on "
            f"{record.get('resource')}: {denials.why(record)}"
        )
    if result.denials:
        raise HarnessError(f"{len(result.denials)} IAM denial(s) during the rehearsal")
    progress(
        f"rehearsal passed: applied in {result.apply_seconds:.0f} s, "
        f"{len(result.smoke.labels)} image(s) labeled in {result.smoke_seconds:.0f} s, "
        "no IAM denial" + (" (kept: `harness promote rehearse --down`)" if keep else "")
    )

"""`harness promote`, offline: what it refuses, and the Terraform it would run.

Terraform is given as a recording runner (the calls to AWS cannot run here); the
packages are really built, the checks really read the environment and the files.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import config
from harness.cli import main
from harness.promote import workflow
from harness.promote.workflow import PromoteOptions
from harness.util.errors import HarnessError

ACCOUNT = "123456789012"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/unit-test-secret"


@pytest.fixture
def aws_home(monkeypatch, tmp_path) -> Path:
    """A user environment without any AWS credentials or LocalStack settings."""
    for name in list(__import__("os").environ):
        if name.startswith(("AWS_", "TF_VAR_", "HARNESS_PROMOTE")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / ".aws" / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


@pytest.fixture
def user(aws_home, monkeypatch) -> Path:
    """A user with a profile, a backend file and the webhook in the environment."""
    (aws_home / ".aws").mkdir()
    (aws_home / ".aws" / "credentials").write_text(
        "[deploy]\naws_access_key_id = AKIAUNITTESTEXAMPLE0\n"
        "aws_secret_access_key = unit/test/secret/key/example/000000000000\n"
    )
    monkeypatch.setenv("AWS_PROFILE", "deploy")
    monkeypatch.setenv("TF_VAR_slack_webhook_url", WEBHOOK)
    monkeypatch.setenv("TF_VAR_catalog_cdn_host", "image.example.com")
    backend = aws_home / "backend.hcl"
    backend.write_text(
        'bucket = "acme-tfstate"\nkey = "imgpipe/system-a.tfstate"\nregion = "ap-northeast-2"\n'
    )
    return backend


def reviewed_plan(*statements: dict) -> str:
    """A `terraform show -json` document: one role policy (empty: nothing to review)."""
    document: dict = {
        "prior_state": {
            "values": {
                "root_module": {
                    "resources": [
                        {"type": "aws_caller_identity", "values": {"account_id": ACCOUNT}}
                    ]
                }
            }
        },
        "resource_changes": [],
        "configuration": {"root_module": {}},
    }
    if statements:
        policy = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
        for rtype, name, after, refs in (
            ("aws_iam_role", "r", {"assume_role_policy": json.dumps({"Statement": []})}, {}),
            ("aws_iam_role_policy", "p", {"policy": policy}, {"role": ["aws_iam_role.r.id"]}),
            ("aws_lambda_function", "f", {"function_name": "f"}, {"role": ["aws_iam_role.r.arn"]}),
        ):
            document["resource_changes"].append(
                {
                    "address": f"{rtype}.{name}",
                    "mode": "managed",
                    "type": rtype,
                    "name": name,
                    "change": {"actions": ["create"], "after": after},
                }
            )
            document["configuration"]["root_module"].setdefault("resources", []).append(
                {
                    "address": f"{rtype}.{name}",
                    "expressions": {k: {"references": v} for k, v in refs.items()},
                }
            )
    return json.dumps(document)


class RecordingTerraform:
    """Stands in for the terraform binary: records each call, answers show/output."""

    def __init__(self, show: str | None = None, outputs: dict | None = None) -> None:
        self.calls: list[tuple[list[str], Path, dict[str, str]]] = []
        self.show = show or reviewed_plan()
        self.outputs = {"bucket": {"value": "b"}} if outputs is None else outputs

    def __call__(self, args: list[str], cwd: Path, env: dict[str, str]) -> str:
        self.calls.append((args, cwd, env))
        if args[0] == "plan":
            Path(args[-1].removeprefix("-out=")).write_text("saved plan")
        if args[0] == "show":
            return self.show
        if args[0] == "output":
            return json.dumps(self.outputs)
        return ""

    def commands(self) -> list[str]:
        return [args[0] for args, _, _ in self.calls]


# --- refusals -------------------------------------------------------------------


def test_no_credentials_is_refused_with_what_to_do(aws_home):
    options = PromoteOptions(backend_config=("bucket=x", "key=y", "region=z"))
    with pytest.raises(HarnessError, match=r"no AWS credentials found.*AWS_PROFILE"):
        workflow.plan(config.load(), options, runner=RecordingTerraform())


def test_localstack_credentials_and_endpoints_are_refused(aws_home, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with pytest.raises(HarnessError, match="LocalStack's dummy key"):
        workflow.credential_source()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    with pytest.raises(HarnessError, match="AWS_ENDPOINT_URL is set"):
        workflow.plan(config.load(), PromoteOptions(), runner=RecordingTerraform())


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ((), "no backend config"),
        (("bucket=acme-tfstate",), "does not name key"),
        (("bucket=acme-tfstate", "key=k"), "does not name region"),
        (("/nonexistent/backend.hcl",), "neither a file nor name=value"),
    ],
)
def test_incomplete_backend_config_is_refused(user, items, message):
    options = PromoteOptions(backend_config=items, region="ap-northeast-2")
    with pytest.raises(HarnessError, match=message):
        workflow.plan(config.load(), options, runner=RecordingTerraform())


def test_missing_region_and_webhook_are_refused(user, monkeypatch):
    runner = RecordingTerraform()
    with pytest.raises(HarnessError, match="no region"):
        workflow.plan(config.load(), PromoteOptions(backend_config=(str(user),)), runner=runner)
    monkeypatch.delenv("TF_VAR_slack_webhook_url")
    options = PromoteOptions(backend_config=(str(user),), region="ap-northeast-2")
    with pytest.raises(HarnessError, match="TF_VAR_slack_webhook_url"):
        workflow.plan(config.load(), options, runner=runner)
    monkeypatch.setenv("TF_VAR_slack_webhook_url", WEBHOOK)
    monkeypatch.delenv("TF_VAR_catalog_cdn_host")
    with pytest.raises(HarnessError, match="no catalog_cdn_host"):
        workflow.plan(config.load(), options, runner=runner)
    assert runner.calls == []


def test_cli_refusal_is_one_line_and_exit_code_2(aws_home):
    result = CliRunner().invoke(main, ["promote", "plan", "--env", "aws"])
    assert result.exit_code == 2
    assert "no AWS credentials found" in result.output
    assert "Traceback" not in result.output


# --- what runs ------------------------------------------------------------------


def test_plan_builds_for_the_platform_and_runs_init_plan_show(user, tmp_path):
    settings = config.load()
    var_file = tmp_path / "prod.tfvars"
    var_file.write_text('name_prefix = "acme"\n')
    options = PromoteOptions(
        backend_config=(str(user), "encrypt=true"),
        var_files=(str(var_file),),
        region="ap-northeast-2",
        architecture="arm64",
        python_version="3.13",
    )
    runner = RecordingTerraform()
    result = workflow.plan(settings, options, runner=runner)

    env_dir = settings.project_dir / "infra" / "envs" / "aws"
    assert runner.commands() == ["init", "plan", "show"]
    assert {cwd for _, cwd, _ in runner.calls} == {env_dir}
    init, plan, show = (args for args, _, _ in runner.calls)
    assert init == [
        "init",
        "-input=false",
        "-no-color",
        "-reconfigure",
        f"-backend-config={user}",
        "-backend-config=encrypt=true",
    ]
    work = settings.state_dir / "terraform" / "promote-aws"
    assert plan == [
        "plan",
        "-input=false",
        "-no-color",
        f"-var-file={work / 'packages.tfvars.json'}",
        f"-var-file={var_file}",
        f"-out={work / 'promote.tfplan'}",
    ]
    assert show == ["show", "-json", str(work / "promote.tfplan")]

    env = runner.calls[0][2]
    assert env["AWS_PROFILE"] == "deploy" and env["TF_VAR_slack_webhook_url"] == WEBHOOK
    assert env["TF_DATA_DIR"] == str(work / "data")
    assert not [k for k in env if k.startswith("AWS_ENDPOINT_URL")]

    variables = json.loads((work / "packages.tfvars.json").read_text())
    assert variables["lambda_architecture"] == "arm64"
    assert variables["lambda_runtime"] == "python3.13"
    assert variables["region"] == "ap-northeast-2"
    assert variables["labeler_zip_path"] == "../../../build/lambdas-arm64-py3.13/labeler.zip"
    assert variables["notifier_zip_path"].endswith("lambdas-arm64-py3.13/slack_notifier.zip")
    assert len(result.packages) >= 2
    assert set(result.packages.values()) <= set(variables.values())
    assert WEBHOOK not in json.dumps(variables)  # the secret stays in the environment
    assert result.plan_file.is_file()


def test_a_plan_failing_the_review_is_refused_and_discarded(user):
    wildcard = {"Sid": "Seed", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    runner = RecordingTerraform(show=reviewed_plan(wildcard))
    options = PromoteOptions(backend_config=(str(user),), region="ap-northeast-2")
    with pytest.raises(
        HarnessError, match=r"(?s)security review.*\[Seed\]: wildcard action 's3:\*'"
    ):
        workflow.plan(config.load(), options, runner=runner)
    assert not (workflow.work_dir(config.load(), "aws") / "promote.tfplan").exists()


def test_apply_needs_the_saved_plan_and_unchanged_packages(user):
    settings = config.load()
    options = PromoteOptions(backend_config=(str(user),), region="ap-northeast-2")
    with pytest.raises(HarnessError, match="run `harness promote plan` first"):
        workflow.apply(settings, options, runner=RecordingTerraform())

    workflow.plan(settings, options, runner=RecordingTerraform())
    runner = RecordingTerraform(outputs={"bucket": {"value": "acme-images"}})
    outputs = workflow.apply(settings, options, runner=runner)
    work = workflow.work_dir(settings, "aws")
    assert runner.commands() == ["init", "apply", "output"]
    assert runner.calls[1][0] == [
        "apply",
        "-input=false",
        "-no-color",
        str(work / "promote.tfplan"),
    ]
    assert outputs == {"bucket": "acme-images"}
    assert not (work / "promote.tfplan").exists(), "a saved plan is applied once"


def test_apply_refuses_packages_rebuilt_since_the_plan(user, tmp_path):
    settings = config.load()
    options = PromoteOptions(backend_config=(str(user),), region="ap-northeast-2")
    workflow.plan(settings, options, runner=RecordingTerraform())
    record = workflow.work_dir(settings, "aws") / "promote-plan.json"
    planned = json.loads(record.read_text())
    stale = tmp_path / "labeler.zip"
    stale.write_bytes(b"other bytes")
    planned["packages"] = {str(stale): "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}
    record.write_text(json.dumps(planned))
    runner = RecordingTerraform()
    with pytest.raises(HarnessError, match="changed since the plan"):
        workflow.apply(settings, options, runner=runner)
    assert runner.calls == []


def test_smoke_reads_the_outputs_from_the_state(user):
    runner = RecordingTerraform(outputs={})
    options = PromoteOptions(backend_config=(str(user),))
    with pytest.raises(HarnessError, match="run `harness promote apply` first"):
        workflow.smoke(config.load(), options, runner=runner)
    assert runner.commands() == ["init", "output"]


# --- secrets on disk ----------------------------------------------------------------------

BACKEND_VALUES = ("acme-tfstate", "imgpipe/system-a.tfstate", "not-a-real-key-id")


@pytest.fixture
def promote_options(user) -> PromoteOptions:
    return PromoteOptions(
        backend_config=(str(user), f"access_key={BACKEND_VALUES[2]}"), region="ap-northeast-2"
    )


def test_the_plan_and_its_record_are_private_and_hold_no_backend_values(promote_options):
    settings = config.load()
    result = workflow.plan(settings, promote_options, runner=RecordingTerraform())

    work = workflow.work_dir(settings, "aws")
    record = work / "promote-plan.json"
    assert result.plan_file == work / "promote.tfplan"
    assert mode(result.plan_file) == mode(record) == 0o600
    assert mode(work) == mode(work.parent) == mode(settings.state_dir) == 0o700
    text = record.read_text()
    for value in (*BACKEND_VALUES, str(promote_options.backend_config[0]), WEBHOOK):
        assert value not in text, value
    options = json.loads(text)["options"]
    assert options["backend_config_names"] == ["access_key", "bucket", "key", "region"]
    assert "backend_config" not in options and options["region"] == "ap-northeast-2"


def test_the_plan_is_deleted_after_apply_even_a_failed_one(promote_options):
    settings = config.load()
    work = workflow.work_dir(settings, "aws")

    class FailingApply(RecordingTerraform):
        def __call__(self, args, cwd, env):
            if args[0] == "apply":
                raise HarnessError("terraform apply failed")
            return super().__call__(args, cwd, env)

    workflow.plan(settings, promote_options, runner=RecordingTerraform())
    with pytest.raises(HarnessError, match="apply failed"):
        workflow.apply(settings, promote_options, runner=FailingApply())
    assert not (work / "promote.tfplan").exists() and not (work / "promote-plan.json").exists()

    workflow.plan(settings, promote_options, runner=RecordingTerraform())
    workflow.apply(settings, promote_options, runner=RecordingTerraform())
    assert not (work / "promote.tfplan").exists() and not (work / "promote-plan.json").exists()
    assert mode(work / "outputs.json") == 0o600


def test_a_plan_that_could_not_be_reviewed_is_not_kept(promote_options):
    settings = config.load()

    class BrokenShow(RecordingTerraform):
        def __call__(self, args, cwd, env):
            result = super().__call__(args, cwd, env)
            if args[0] == "show":
                raise HarnessError("terraform show failed")
            return result

    with pytest.raises(HarnessError, match="show failed"):
        workflow.plan(settings, promote_options, runner=BrokenShow())
    assert not (workflow.work_dir(settings, "aws") / "promote.tfplan").exists()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_envs_aws_on_the_local_stack_gets_the_local_stand_ins(monkeypatch, tmp_path):
    """harness.promote.aws_on_local: envs/aws's variables for the local stack (the sink as
    an https webhook, which envs/aws's validation demands; a .test CDN host; the zips)."""
    from harness.build import functions
    from harness.build.packaging import Package
    from harness.promote import aws_on_local

    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HARNESS_SLACK_PORT", "4998")
    monkeypatch.setenv("HARNESS_NAME_PREFIX", "side")
    settings = config.load()
    packages = {
        f.name: Package(f.name, tmp_path / f"{f.name}.zip", "x=") for f in functions.FUNCTIONS
    }
    variables = aws_on_local.variables(settings, packages)
    assert variables["slack_webhook_url"].startswith("https://127.0.0.1:4998/services/")
    assert variables["catalog_cdn_host"].endswith(".test")
    assert (variables["region"], variables["name_prefix"]) == (settings.region, "side")
    assert set(functions.tf_variables(packages)) <= set(variables)
    declared = (settings.project_dir / "infra/envs/aws/variables.tf").read_text()
    assert all(f'variable "{name}"' in declared for name in variables)

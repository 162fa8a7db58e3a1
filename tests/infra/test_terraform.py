"""Offline proof of the Terraform: `terraform test` (mock_provider "aws"), which validates
first, for every module and environment under infra/, and `fmt`.

Folders are discovered, not named, so a new module (system B's catalog) is checked as
soon as it lands. Terraform runs on a staged copy of infra/ with its data folder in a
temporary directory, so nothing is written into the source tree, and with the
harness's CLI config, so providers come from the offline mirror when there is one.
The folders run in parallel: a few seconds each, mostly provider start-up.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import config
from harness.build import terraform
from harness.build.terraform import stage_infra
from harness.util.errors import HarnessError

PROJECT = Path(__file__).resolve().parents[2]
INFRA = PROJECT / "infra"
FOLDERS = sorted(
    p.relative_to(INFRA).as_posix()
    for p in [*INFRA.glob("modules/*"), *INFRA.glob("envs/*")]
    if p.is_dir() and any(p.glob("*.tf"))
)


def _environment(settings: config.Settings, data: Path, folder: str) -> dict[str, str]:
    return terraform.environment(settings, data / folder.replace("/", "_"), endpoint=None)


def _run_steps(root: Path, env: dict[str, str], folder: str, steps) -> tuple[str, str]:
    """(outcome, output): outcome is "ok" or the step that failed."""
    output = ""
    for step, args in steps:
        try:
            output = terraform.run(args, root / folder, env, local=False, capture=True)
        except HarnessError as exc:
            return step, str(exc)
    return "ok", output


INIT = [("init", ["init", "-backend=false", "-input=false", "-no-color"])]
# `terraform test` validates the configuration before its first run (an argument the
# provider's schema lacks fails the file, every run skipped), so a `terraform validate`
# before it would repeat that at 1.7 CPU-s of Terraform's own per folder.
CHECKS = [("test", ["test", "-no-color"])]
VALIDATE = [("validate", ["validate", "-no-color"])]


@pytest.fixture(scope="module")
def terraform_results(tmp_path_factory) -> dict[str, tuple[str, str]]:
    """Every folder initialised, then tested (validated first), in parallel; the tests use
    one AWS provider process between them (`terraform.shared_provider`) when every folder
    installed the same one, which takes a third of their CPU off."""
    terraform.require_terraform()
    base = tmp_path_factory.mktemp("tf")
    root = stage_infra(PROJECT, base / "infra")
    settings = config.load()
    envs = {folder: _environment(settings, base / "data", folder) for folder in FOLDERS}

    def each(steps, extra: dict[str, str]) -> dict[str, tuple[str, str]]:
        with ThreadPoolExecutor(max_workers=len(FOLDERS)) as pool:
            futures = {f: pool.submit(_run_steps, root, envs[f] | extra, f, steps) for f in FOLDERS}
            return {folder: future.result() for folder, future in futures.items()}

    results = each(INIT, {})
    if any(outcome != "ok" for outcome, _ in results.values()):
        return results
    binaries = {terraform.installed_provider(Path(env["TF_DATA_DIR"])) for env in envs.values()}
    if len(binaries) != 1 or None in binaries:  # not one provider to share: one per run
        return each(CHECKS, {})
    with terraform.shared_provider(binaries.pop()) as reattach:
        return each(CHECKS, {"TF_REATTACH_PROVIDERS": reattach})


def test_modules_and_environments_are_discovered():
    assert {"modules/labeling", "modules/alerting", "envs/local", "envs/aws"} <= set(FOLDERS)


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_folder_has_terraform_tests(folder):
    tests = list((INFRA / folder / "tests").glob("*.tftest.hcl"))
    assert tests, f'infra/{folder} has no tests/*.tftest.hcl (plan-only, mock_provider "aws")'
    for path in tests:
        assert 'mock_provider "aws"' in path.read_text(), f"{path} must run offline"


@pytest.mark.parametrize("folder", FOLDERS)
def test_validate_and_terraform_test_pass(terraform_results, folder):
    outcome, output = terraform_results[folder]
    assert outcome == "ok", f"infra/{folder}: terraform {outcome} failed:\n{output}"
    summary = re.search(r"Success! (\d+) passed, 0 failed", output)
    assert summary and int(summary[1]) > 0, output[-2000:]


def test_terraform_fmt(tmp_path):
    settings = config.load()
    env = terraform.environment(settings, tmp_path / "data", endpoint=None)
    try:
        terraform.run(
            ["fmt", "-check", "-recursive", "-no-color"], INFRA, env, local=False, capture=True
        )
    except HarnessError as exc:
        pytest.fail(f"run `terraform fmt -recursive infra`: {exc}")


# --- envs/aws: production only --------------------------------------------------

AWS_ENV = INFRA / "envs" / "aws"
# What tflocal or a hand-made LocalStack setup would put in: none of it belongs on AWS.
EMULATOR_MARKERS = re.compile(
    r"endpoints\s*\{|skip_credentials_validation|skip_requesting_account_id|"
    r"skip_metadata_api_check|s3_use_path_style|access_key\s*=|secret_key\s*=|"
    r"localstack|localhost|127\.0\.0\.1|:4566|AWS_ENDPOINT_URL|rekognition_endpoint|"
    r"\bstub\b|force_destroy\s*=\s*true",
    re.IGNORECASE,
)


def _aws_env_sources() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(AWS_ENV.glob("*.tf"))}


def test_aws_env_has_no_endpoint_overrides_or_stub_settings():
    hits = [
        f"{name}:{text[: m.start()].count(chr(10)) + 1}: {m.group(0)}"
        for name, text in _aws_env_sources().items()
        for m in EMULATOR_MARKERS.finditer(text)
        if not text[: m.start()].rsplit("\n", 1)[-1].lstrip().startswith(("#", "//"))
    ]
    assert hits == []


def test_aws_env_variables_are_production_only():
    names = set(re.findall(r'variable\s+"([\w-]+)"', "".join(_aws_env_sources().values())))
    assert not {n for n in names if re.search(r"endpoint|stub|localstack|encrypt_topic", n)}
    assert "slack_webhook_url" in names


def test_aws_env_has_an_encrypted_s3_backend_with_locking():
    versions = (AWS_ENV / "versions.tf").read_text()
    backend = re.search(r'backend\s+"(\w+)"\s*\{(.*?)\}', versions, re.S)
    assert backend and backend[1] == "s3"
    settings = dict(re.findall(r"(\w+)\s*=\s*(\S+)", backend[2]))
    assert settings.get("use_lockfile") == "true" and settings.get("encrypt") == "true"
    # Partial configuration: where the state lives is the user's, given at init.
    assert "bucket" not in settings and "key" not in settings


def test_a_schedule_hour_outside_0_to_23_fails_validate_with_its_message(tmp_path):
    """The seed's window is whole hours in one day: `terraform validate` of an env that
    sets the loader's last hour to 24 stops there, saying what is allowed."""
    terraform.require_terraform()
    root = stage_infra(PROJECT, tmp_path / "infra")
    main_tf = root / "envs" / "local" / "main.tf"
    text = main_tf.read_text(encoding="utf-8")
    assert text.count("  catalog = {\n") == 1, "the local env's catalog block moved"
    main_tf.write_text(
        text.replace("  catalog = {\n", "  catalog = {\n    schedule_last_hour = 24\n"),
        encoding="utf-8",
    )
    env = _environment(config.load(), tmp_path / "data", "envs/local")
    outcome = _run_steps(root, env, "envs/local", INIT + VALIDATE)
    assert outcome[0] == "validate", outcome
    message = " ".join(outcome[1].split())  # Terraform wraps its diagnostics
    assert "must be whole hours from 0 to 23" in message and "got 7 and 24" in message

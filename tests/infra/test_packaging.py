"""Lambda packages are reproducible, and only a code change redeploys a function.

Two clean builds (fresh build folders, dependencies installed again from the Lambda
platform's wheels) give byte-identical zips; the zip's hash is the function's
`source_code_hash`, so against the deployed local stack a plan with one changed hash
updates exactly that function's code and nothing else.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from harness.build import deploy, functions, packaging, terraform
from harness.runtime import backends
from harness.util.errors import HarnessError

PROJECT = Path(__file__).resolve().parents[2]
LABELER = PROJECT / "lambdas" / "labeler"


def test_clean_builds_with_dependencies_are_byte_identical(tmp_path):
    first = packaging.build_function(LABELER, tmp_path / "one")
    second = packaging.build_function(LABELER, tmp_path / "two")
    assert first.path != second.path
    assert first.sha256_base64 == second.sha256_base64
    assert first.path.read_bytes() == second.path.read_bytes()
    with zipfile.ZipFile(first.path) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert {"app.py", "labeling.py", "s3_notification.py"} <= set(names)
    assert any(n.startswith("aws_lambda_powertools/") for n in names), "dependencies bundled"
    assert not [n for n in names if n.endswith((".pyc", "/RECORD")) or n.startswith("bin/")]
    assert {info.date_time for info in infos} == {packaging.FIXED_TIME}
    assert {info.external_attr >> 16 for info in infos} == {0o644}


def test_dependencies_are_lambda_platform_wheels(tmp_path):
    package = packaging.build_function(LABELER, tmp_path, python_version="3.12")
    with zipfile.ZipFile(package.path) as archive:
        wheels = [archive.read(n).decode() for n in archive.namelist() if n.endswith("/WHEEL")]
    assert wheels
    for wheel in wheels:
        tags = [line.split(": ", 1)[1] for line in wheel.splitlines() if line.startswith("Tag: ")]
        # Pure wheels, or binary ones for CPython 3.12 on manylinux x86_64.
        assert all(t.endswith("none-any") or ("cp312" in t and "x86_64" in t) for t in tags)


def test_platform_is_checked(tmp_path):
    with pytest.raises(HarnessError, match="x86_64 or arm64"):
        packaging.build_function(LABELER, tmp_path, architecture="aarch64")
    with pytest.raises(HarnessError, match=r"like 3\.12"):
        packaging.build_function(LABELER, tmp_path, python_version="python3.12")


@pytest.mark.e2e
def test_only_a_code_change_redeploys(local_deployment, harness_settings, tmp_path):
    """Plan the deployed local stack with the labeler's hash changed: one update, in place,
    of the labeler function; nothing else drifts."""
    work = deploy._work_dir(harness_settings, "local")
    source, env = deploy.initialised_root(harness_settings)
    variables = json.loads((work / deploy.TFVARS).read_text())
    python_version = backends.functions_python(harness_settings)
    architecture = harness_settings.lambda_build_architecture
    rebuilt = packaging.build_function(  # where the deploy built it, its dependencies cached
        LABELER,
        functions.zip_dir(PROJECT, architecture, python_version, local=True),
        python_version,
        architecture,
    )
    assert rebuilt.sha256_base64 == variables["labeler_zip_sha256"], "same source, same hash"
    changed = tmp_path / "changed.tfvars.json"
    changed.write_text(json.dumps(variables | {"labeler_zip_sha256": "A" * 43 + "="}))
    plan_file = tmp_path / "changed.tfplan"
    terraform.run(
        [
            "plan",
            "-input=false",
            "-no-color",
            "-lock=false",
            f"-var-file={changed}",
            f"-state={work / 'terraform.tfstate'}",
            f"-out={plan_file}",
        ],
        source,
        env,
        capture=True,
    )
    document = json.loads(
        terraform.run(["show", "-json", str(plan_file)], source, env, local=False, capture=True)
    )
    changes = {
        c["address"]: c["change"]["actions"]
        for c in document["resource_changes"]
        if c["change"]["actions"] != ["no-op"]
    }
    assert changes == {
        "module.pipeline.module.labeling.module.function.aws_lambda_function.this": ["update"]
    }
    assert functions.FUNCTIONS  # the deployment built its functions the same way

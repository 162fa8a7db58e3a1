"""The function registry (harness/build/functions.py) agrees with lambdas/ and infra/envs/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.build import functions
from harness.build.packaging import Package
from harness.util.errors import HarnessError

PROJECT = Path(__file__).resolve().parents[2]
ENVS = sorted(p for p in (PROJECT / "infra" / "envs").iterdir() if any(p.glob("*.tf")))


def _text(paths) -> str:
    return "".join(p.read_text() for p in sorted(paths))


def test_every_function_folder_is_registered_and_every_registered_folder_exists():
    folders = {p.parent.name for p in (PROJECT / "lambdas").glob("*/app.py")}
    assert folders == set(functions.BY_NAME)
    assert {f.system for f in functions.FUNCTIONS} <= set(functions.SYSTEMS)
    assert len(functions.BY_SHORT) == len(functions.FUNCTIONS), "short names are unique"


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_each_env_declares_exactly_the_registered_zip_variables(env):
    text = _text(env.glob("*.tf"))
    for suffix in ("zip_path", "zip_sha256"):
        declared = set(re.findall(rf'variable\s+"([\w-]+)_{suffix}"', text))
        assert declared == set(functions.BY_SHORT), suffix


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_each_env_has_the_outputs_naming_functions_and_log_groups(env):
    env_text = _text(env.glob("*.tf"))
    outputs_text = _text((PROJECT / "infra").rglob("outputs.tf"))
    for function in functions.FUNCTIONS:
        for path in (function.function_output, function.log_group_output):
            assert re.search(rf'output\s+"{path[0]}"', env_text), (function.name, path)
            if len(path) > 1:  # a key of a map output
                assert re.search(rf"\b{path[-1]}\s*=", outputs_text), (function.name, path)


def test_names_and_outputs():
    outputs = {
        "notifier_function": "p-notifier",
        "notifier_log_group": "/aws/lambda/p-notifier",
        "catalog_loader_function": "p-loader",
        "catalog": {"loader_log_group": "/aws/lambda/p-loader"},
    }
    notifier = functions.get("notifier")
    assert notifier is functions.get("slack_notifier")
    assert notifier.deployed_name(outputs) == "p-notifier"
    assert notifier.log_group(outputs) == "/aws/lambda/p-notifier"
    loader = functions.get("catalog_loader")
    assert (loader.short, loader.system) == ("loader", "catalog")
    assert loader.deployed_name(outputs) == "p-loader"
    assert loader.log_group(outputs) == "/aws/lambda/p-loader"
    with pytest.raises(HarnessError, match=r"no output catalog\.resize_log_group"):
        functions.get("resize").log_group(outputs)
    with pytest.raises(HarnessError, match="no Lambda function 'nope'"):
        functions.get("nope")


def test_terraform_variables_of_built_packages(tmp_path):
    packages = {
        name: Package(name, tmp_path / "build" / f"{name}.zip", f"sha-{name}")
        for name in ("labeler", "slack_notifier")
    }
    assert functions.tf_variables(packages) == {
        "labeler_zip_path": str(tmp_path / "build" / "labeler.zip"),
        "labeler_zip_sha256": "sha-labeler",
        "notifier_zip_path": str(tmp_path / "build" / "slack_notifier.zip"),
        "notifier_zip_sha256": "sha-slack_notifier",
    }
    relative = functions.tf_variables(packages, relative_to=tmp_path / "infra" / "envs" / "aws")
    assert relative["notifier_zip_path"] == "../../../build/slack_notifier.zip"


def test_each_platform_has_a_zip_folder_of_its_own(tmp_path):
    """The embedded stack (the runtime's Python) and the docker backend (the image's)
    build side by side in one test run: one shared folder let one's resize.zip replace
    the other's under its deploy."""
    embedded = functions.zip_dir(tmp_path, "x86_64", "3.12", local=True)
    docker = functions.zip_dir(tmp_path, "x86_64", "3.11", local=True)
    arm = functions.zip_dir(tmp_path, "arm64", "3.12", local=True)
    promoted = functions.zip_dir(tmp_path, "x86_64", "3.12")  # reviewed in a plan: apart
    assert len({embedded, docker, arm, promoted}) == 4
    assert embedded == tmp_path / "build" / "local" / "lambdas-x86_64-py3.12"
    assert promoted == tmp_path / "build" / "lambdas-x86_64-py3.12"

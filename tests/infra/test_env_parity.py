"""Local = AWS, or written down: every difference between `infra/envs/local` and
`infra/envs/aws` is listed, with its reason, in `infra/envs/differences.yaml`.

The comparison is on plans, not on the text of the two main.tf files: a value left to
a module's default and the same value given explicitly are equal here, and a value
that differs shows wherever it lands (a timeout, the visibility derived from it, an
environment variable). Each env is planned offline with `terraform test -verbose
-json` (one plan-only run, `mock_provider "aws"`, the same mocked account and region
for both, the same deployment inputs: zips, webhook, CDN host), and the planned values
of every resource are compared attribute by attribute (JSON policies decoded, so a
difference names the statement). Values known only after apply are compared as
such.

What the file lists, and this test checks:
- `renames`: names that differ by design (bucket names are global on AWS); each is
  replaced by its token in both plans before they are compared;
- `plan`: the remaining differences, each with where it shows (resource address and
  attribute path globs, `*` for anything), the local and AWS values when they are
  simple, and why. A difference no entry covers fails the test; so does an entry that
  covers nothing any more (the difference is gone: remove it);
- `variables`: the variables only one env declares, and those whose defaults differ;
- `localstack`: what the emulator does differently from AWS (documentation: each
  entry needs its fields, nothing is compared).
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from harness import config
from harness.build import terraform
from harness.build.terraform import stage_infra
from harness.promote.offline_plan import placeholder_packages
from harness.util.errors import HarnessError

PROJECT = Path(__file__).resolve().parents[2]
ENVS_DIR = PROJECT / "infra" / "envs"
DIFFERENCES = ENVS_DIR / "differences.yaml"
ENVS = ("local", "aws")
ACCOUNT = "123456789012"
REGION = "ap-northeast-2"
WEBHOOK = "https://hooks.slack.com/services/TPARITY00/BPARITY00/parity-sentinel"
UNKNOWN = "(known after apply)"
ABSENT = "(absent)"
REQUIRED = "(required)"  # the default of a variable without one
TEST_FILE = "zz_parity.tftest.hcl"


# --- the env's declared variables -------------------------------------------------


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps string literals quoted: `'"us-east-1"'`."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def declared_variables(env: str) -> dict[str, dict]:
    """{name: {"default": value or REQUIRED}} of infra/envs/<env>/*.tf."""
    found: dict[str, dict] = {}
    for path in sorted((ENVS_DIR / env).glob("*.tf")):
        with path.open() as handle:
            document = hcl2.load(handle)
        for block in document.get("variable", []):
            for name, body in block.items():
                found[_unquote(name)] = {"default": _unquote(body.get("default", REQUIRED))}
    return found


# --- planning ---------------------------------------------------------------------


def _hcl(value: Any) -> str:
    return json.dumps(value)  # strings, numbers and lists of them are valid HCL as JSON


def parity_test_file(env: str) -> str:
    """A plan-only test of the env with the inputs every deployment gives."""
    declared = declared_variables(env)
    inputs = {**placeholder_packages(), "slack_webhook_url": WEBHOOK}
    # What AWS requires of the deployer: the CDN host (both plans get envs/local's) and
    # the region (the mocked one; envs/local's default is never used by the mocks).
    inputs["catalog_cdn_host"] = declared_variables("local")["cdn_host"]["default"]
    if declared.get("region", {}).get("default") == REQUIRED:
        inputs["region"] = REGION
    lines = [f"  {name} = {_hcl(value)}" for name, value in inputs.items() if name in declared]
    return "\n".join(
        [
            'mock_provider "aws" {',
            '  mock_data "aws_caller_identity" {',
            f'    defaults = {{ account_id = "{ACCOUNT}" }}',
            "  }",
            '  mock_data "aws_partition" {\n    defaults = { partition = "aws" }\n  }',
            f'  mock_data "aws_region" {{\n    defaults = {{ name = "{REGION}" }}\n  }}',
            "}",
            "",
            "variables {",
            *lines,
            "}",
            "",
            'run "parity" {\n  command = plan\n}',
            "",
        ]
    )


def plan_of(root: Path, data: Path, env: str) -> list[dict]:
    """The resource_changes of the env's plan, from `terraform test -verbose -json`."""
    settings = config.load()
    tf_env = terraform.environment(settings, data / env, endpoint=None)
    cwd = root / "envs" / env
    (cwd / "tests" / TEST_FILE).write_text(parity_test_file(env))
    terraform.run(
        ["init", "-backend=false", "-input=false", "-no-color"],
        cwd,
        tf_env,
        local=False,
        capture=True,
    )
    try:
        output = terraform.run(
            ["test", "-json", "-verbose", "-no-color", f"-filter=tests/{TEST_FILE}"],
            cwd,
            tf_env,
            local=False,
            capture=True,
        )
    except HarnessError as exc:
        raise AssertionError(
            f"infra/envs/{env}: the parity plan failed:\n{str(exc)[-4000:]}"
        ) from exc
    for line in output.splitlines():
        if line.startswith("{") and '"test_plan"' in line[:400]:
            message = json.loads(line)
            if message.get("type") == "test_plan":
                return message["test_plan"]["resource_changes"]
    raise AssertionError(
        f"infra/envs/{env}: no plan in the output of terraform test:\n{output[-3000:]}"
    )


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, list[dict]]:
    terraform.require_terraform()
    base = tmp_path_factory.mktemp("parity")
    root = stage_infra(PROJECT, base / "infra")
    with ThreadPoolExecutor(max_workers=len(ENVS)) as pool:
        futures = {env: pool.submit(plan_of, root, base / "data", env) for env in ENVS}
        return {env: future.result() for env, future in futures.items()}


# --- comparing --------------------------------------------------------------------


def _fill(text: str) -> str:
    return text.replace("{account}", ACCOUNT).replace("{region}", REGION)


def _renamer(renames: list[dict], env: str):
    """Replace each whole name (not a part of a longer name) by its token."""
    patterns = [
        (
            re.compile(rf"(?<![A-Za-z0-9-]){re.escape(_fill(str(r[env])))}(?![A-Za-z0-9-])"),
            r["token"],
        )
        for r in renames
    ]

    def rename(text: str) -> str:
        for pattern, token in patterns:
            text = pattern.sub(token, text)
        return text

    return rename


def _decoded(text: str) -> Any:
    if text[:1] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def flatten(value: Any, unknown: Any, rename, path: str = "") -> dict[str, Any]:
    """{attribute path: leaf value} of a planned value; unknown leaves as UNKNOWN."""
    if unknown is True:
        return {path: UNKNOWN}
    if isinstance(value, str):
        value = _decoded(rename(value))
    if isinstance(value, dict):
        found: dict[str, Any] = {}
        for key, item in value.items():
            below = unknown.get(key) if isinstance(unknown, dict) else None
            found |= flatten(item, below, rename, f"{path}.{key}" if path else key)
        for key, flag in (unknown or {}).items() if isinstance(unknown, dict) else []:
            if key not in value and flag is True:
                found[f"{path}.{key}" if path else key] = UNKNOWN
        return found or {path: {}}
    if isinstance(value, list):
        found = {}
        for index, item in enumerate(value):
            below = unknown[index] if isinstance(unknown, list) and index < len(unknown) else None
            found |= flatten(item, below, rename, f"{path}[{index}]")
        return found or {path: []}
    return {path: value}


def planned_values(changes: list[dict], rename) -> dict[str, dict[str, Any]]:
    return {
        change["address"]: flatten(
            change["change"].get("after") or {}, change["change"].get("after_unknown"), rename
        )
        for change in changes
        if change.get("mode") == "managed"
    }


@dataclass(frozen=True)
class Difference:
    address: str
    path: str  # "" when the whole resource exists in one env only
    local: Any
    aws: Any

    def __str__(self) -> str:
        where = f"{self.address} {self.path}".strip()
        return f"{where}: local={self.local!r} aws={self.aws!r}"


def differences(local: dict[str, dict], aws: dict[str, dict]) -> list[Difference]:
    found = []
    for address in sorted(set(local) | set(aws)):
        if address not in aws or address not in local:
            found.append(
                Difference(
                    address,
                    "",
                    "declared" if address in local else ABSENT,
                    "declared" if address in aws else ABSENT,
                )
            )
            continue
        for path in sorted(set(local[address]) | set(aws[address])):
            left, right = local[address].get(path, ABSENT), aws[address].get(path, ABSENT)
            if left != right:
                found.append(Difference(address, path, left, right))
    return found


def _glob(pattern: str) -> re.Pattern:
    return re.compile("^" + re.escape(pattern).replace(r"\*", ".*") + "$")


def covers(entry: dict, difference: Difference) -> bool:
    return any(
        _glob(where["resource"]).match(difference.address)
        and _glob(where.get("path", "")).match(difference.path)
        for where in entry["where"]
    )


def check(listed: dict, found: list[Difference]) -> list[str]:
    """Problems: differences no entry covers, entries covering none, wrong values."""
    problems = []
    entries = listed["plan"]
    for difference in found:
        if not any(covers(entry, difference) for entry in entries):
            problems.append(f"not in differences.yaml: {difference}")
    for entry in entries:
        matched = [d for d in found if covers(entry, d)]
        if not matched:
            problems.append(f"{entry['id']}: listed, but no longer a difference (remove it)")
        for side in ("local", "aws"):
            if side in entry:
                expected = _fill(entry[side]) if isinstance(entry[side], str) else entry[side]
                wrong = [d for d in matched if getattr(d, side) != expected]
                if wrong:
                    problems.append(f"{entry['id']}: {side} is not {expected!r} at {wrong[0]}")
    return problems


# --- the file itself --------------------------------------------------------------


@pytest.fixture(scope="module")
def listed() -> dict:
    return yaml.safe_load(DIFFERENCES.read_text())


def test_every_entry_says_what_and_why(listed):
    assert listed["version"] == 1
    ids = [entry["id"] for entry in listed["plan"]]
    assert len(ids) == len(set(ids)), "ids must be unique"
    for entry in listed["plan"]:
        assert entry.get("what") and entry.get("reason") and entry.get("where"), entry["id"]
        for where in entry["where"]:
            assert set(where) <= {"resource", "path"} and where["resource"], entry["id"]
    for rename in listed["renames"]:
        assert {"token", "local", "aws", "reason"} <= set(rename), rename
    for section in ("only_local", "only_aws", "defaults"):
        for name, item in listed["variables"][section].items():
            assert item.get("reason"), f"variables.{section}.{name}"
    for entry in listed["localstack"]:
        assert {"what", "local", "aws", "consequence"} <= set(entry), entry


def test_variables_only_one_env_declares_and_defaults_that_differ(listed):
    local, aws = declared_variables("local"), declared_variables("aws")
    assert set(listed["variables"]["only_local"]) == set(local) - set(aws)
    assert set(listed["variables"]["only_aws"]) == set(aws) - set(local)
    differing = {n for n in set(local) & set(aws) if local[n]["default"] != aws[n]["default"]}
    assert set(listed["variables"]["defaults"]) == differing
    for name, item in listed["variables"]["defaults"].items():
        assert (item["local"], item["aws"]) == (local[name]["default"], aws[name]["default"]), name


# --- the plans --------------------------------------------------------------------


def test_plans_differ_only_where_listed(plans, listed):
    local = planned_values(plans["local"], _renamer(listed["renames"], "local"))
    aws = planned_values(plans["aws"], _renamer(listed["renames"], "aws"))
    assert len(local) > 50 and len(aws) > 50
    problems = check(listed, differences(local, aws))
    assert problems == [], "\n".join(problems)


def test_the_alarm_differs_in_its_period_only(plans):
    """Item 5 of issue 13 on the plans themselves: the local alarm is the AWS alarm
    scaled in time."""
    kept = (
        "namespace",
        "metric_name",
        "statistic",
        "comparison_operator",
        "threshold",
        "datapoints_to_alarm",
        "evaluation_periods",
        "treat_missing_data",
    )
    alarms = {
        env: {
            c["address"]: c["change"]["after"]
            for c in plans[env]
            if c["type"] == "aws_cloudwatch_metric_alarm"
        }
        for env in ENVS
    }
    assert set(alarms["local"]) == set(alarms["aws"]) and len(alarms["local"]) == 4
    for address, local in alarms["local"].items():
        aws = alarms["aws"][address]
        assert {k: local[k] for k in kept} == {k: aws[k] for k in kept}, address
        assert (local["statistic"], local["datapoints_to_alarm"], local["treat_missing_data"]) == (
            "Average",
            2,
            "notBreaching",
        )
        assert (local["period"], aws["period"]) == (10, 300), address


def test_queues_that_trigger_a_function_follow_the_aws_rule(plans):
    """visibility >= 6 x function timeout + batching window, in both envs."""
    for env in ENVS:
        by_address = {c["address"]: c["change"]["after"] for c in plans[env]}
        queue = by_address["module.pipeline.module.labeling.module.queue.aws_sqs_queue.this"]
        function = by_address[
            "module.pipeline.module.labeling.module.function.aws_lambda_function.this"
        ]
        mapping = by_address["module.pipeline.module.labeling.aws_lambda_event_source_mapping.this"]
        rule = 6 * function["timeout"] + mapping["maximum_batching_window_in_seconds"]
        assert queue["visibility_timeout_seconds"] >= rule, env
        margin = int(function["environment"][0]["variables"]["SAFETY_MARGIN_MS"])
        assert margin < function["timeout"] * 1000, env


# --- the comparison itself catches what it must -----------------------------------


def test_an_unlisted_difference_is_reported():
    listed = {"plan": [{"id": "a", "where": [{"resource": "x.*", "path": "period"}]}]}
    found = [Difference("x.y", "period", 10, 300), Difference("x.y", "timeout", 3, 60)]
    assert check(listed, found) == ["not in differences.yaml: x.y timeout: local=3 aws=60"]


def test_a_stale_entry_and_a_wrong_value_are_reported():
    listed = {
        "plan": [
            {"id": "gone", "where": [{"resource": "z", "path": "*"}]},
            {"id": "period", "where": [{"resource": "x.*", "path": "period"}], "local": 30},
        ]
    }
    problems = check(listed, [Difference("x.y", "period", 10, 300)])
    assert problems == [
        "gone: listed, but no longer a difference (remove it)",
        "period: local is not 30 at x.y period: local=10 aws=300",
    ]


def test_json_attributes_are_compared_statement_by_statement():
    rename = _renamer([{"token": "<b>", "local": "imgpipe-images", "aws": "x"}], "local")
    policy = json.dumps({"Statement": [{"Resource": "arn:aws:s3:::imgpipe-images/*"}]})
    assert flatten({"policy": policy, "tags": None}, {"arn": True}, rename) == {
        "policy.Statement[0].Resource": "arn:aws:s3:::<b>/*",
        "tags": None,
        "arn": UNKNOWN,
    }
    # A longer name that starts with a renamed one is left alone.
    assert rename("imgpipe-images-extra imgpipe-images") == "imgpipe-images-extra <b>"

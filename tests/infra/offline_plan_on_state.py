"""Real `terraform plan -refresh=false` runs of an environment on a given state, offline.

Why a fake STS and not `terraform test` with `mock_provider`: whether a change is an
update in place or a replacement is the provider's call (its `RequiresReplace`
attributes and CustomizeDiff), and a mocked provider never makes it; neither can a
`terraform test` run start from a state of our own. The real AWS provider plans here,
from the offline mirror like every other Terraform run of the tests. A plan without
refresh reads no resource; it calls AWS only for the provider's own account lookup and
the `aws_caller_identity` data sources, both STS `GetCallerIdentity`, which the fake
answers on 127.0.0.1. Every other request is refused and recorded, so a plan that
needs more fails loudly instead of reaching out. No LocalStack, a few seconds a plan.

Also the generator of tests/infra/data/state_before_pipeline.json (see `make_state`):
`.venv/bin/python tests/infra/offline_plan_on_state.py` plans the old code (commit 81aeb7a) on an
empty state, builds a state from the planned values, and corrects it until the old
code plans no change on it: the state a deployment of the old code would have.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from harness import config
from harness.build import terraform
from harness.promote.offline_plan import placeholder_packages

PROJECT = Path(__file__).resolve().parents[2]
STATE_BEFORE_PIPELINE = Path(__file__).resolve().parent / "data" / "state_before_pipeline.json"
OLD_COMMIT = "81aeb7a"  # the last commit whose roots declared every resource themselves
ACCOUNT = "123456789012"
AWS_PROVIDER = 'provider["registry.terraform.io/hashicorp/aws"]'
CALLER_IDENTITY = (
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    "<GetCallerIdentityResult>"
    f"<Arn>arn:aws:iam::{ACCOUNT}:user/plan</Arn><UserId>AIDAPLAN</UserId>"
    f"<Account>{ACCOUNT}</Account>"
    "</GetCallerIdentityResult>"
    "<ResponseMetadata><RequestId>plan</RequestId></ResponseMetadata>"
    "</GetCallerIdentityResponse>"
)


class _StsHandler(BaseHTTPRequestHandler):
    server: _FakeStsServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if "Action=GetCallerIdentity" in body:
            self._answer(200, CALLER_IDENTITY)
            return
        self.server.refused.append(f"{self.path} {body[:200]}")
        self._answer(
            400,
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code>"
            "<Message>the offline plan answers GetCallerIdentity only</Message>"
            "</Error></ErrorResponse>",
        )

    def _answer(self, status: int, text: str) -> None:
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:  # quiet: the test reports what matters
        pass


class _FakeStsServer(ThreadingHTTPServer):
    refused: list[str]


@contextlib.contextmanager
def fake_sts() -> Iterator[_FakeStsServer]:
    """An STS on a free port of 127.0.0.1 for as long as the block runs."""
    server = _FakeStsServer(("127.0.0.1", 0), _StsHandler)
    server.refused = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def plan_on_state(
    infra: Path, env: str, state: Path, work: Path, variables: dict | None = None
) -> dict:
    """`terraform show -json` of a plan of `infra/envs/<env>` (a staged copy: a local
    backend is written into it) on `state`, without refresh; the state is not changed."""
    env_dir = infra / "envs" / env
    terraform.use_local_backend(env_dir)
    work.mkdir(parents=True, exist_ok=True)
    var_file = work / f"{env}.tfvars.json"
    var_file.write_text(json.dumps(variables or placeholder_packages(), indent=2))
    plan_file = work / f"{env}.tfplan"
    with fake_sts() as sts:
        endpoint = f"http://127.0.0.1:{sts.server_address[1]}"
        tf_env = terraform.environment(config.load(), work / f"data-{env}", endpoint)
        tf_env["AWS_EC2_METADATA_DISABLED"] = "true"
        plan = [
            "plan",
            "-input=false",
            "-no-color",
            "-refresh=false",
            "-lock=false",
            f"-var-file={var_file}",
            f"-state={state}",
            f"-out={plan_file}",
        ]
        for args in (["init", "-input=false", "-no-color"], plan):
            terraform.run(args, env_dir, tf_env, local=False, capture=True)
        assert sts.refused == [], f"the plan called more than STS: {sts.refused}"
        document = terraform.run(
            ["show", "-json", str(plan_file)], env_dir, tf_env, local=False, capture=True
        )
    return json.loads(document)


# --- the generator of the committed state ------------------------------------------


def _instances(module: dict) -> Iterator[dict]:
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from _instances(child)


def _empty(kind: object) -> object:
    """A value of a schema type: what a fresh resource shows for an unset attribute."""
    if kind == "bool":
        return False
    if kind == "number":
        return 0
    if kind == "string":
        return ""
    if isinstance(kind, list) and kind[0] in ("map", "object"):
        return {}
    return []


def _identifiers(kind: str, values: dict, address: str) -> dict[str, str]:
    """The identifiers AWS gives a new resource of type `kind`, formed as AWS forms them
    (the modules' postconditions compare ARNs with the ones they derive)."""
    region, prefix = "us-east-1", f"arn:aws:{{}}:us-east-1:{ACCOUNT}:"
    names = [values.get(k) for k in ("name", "bucket", "function_name", "alarm_name")]
    name = str(next(filter(None, names), ""))
    key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, address))
    arn = {
        "aws_sqs_queue": prefix.format("sqs") + name,
        "aws_sns_topic": prefix.format("sns") + name,
        "aws_s3_bucket": f"arn:aws:s3:::{name}",
        "aws_iam_role": f"arn:aws:iam::{ACCOUNT}:role/{name}",
        "aws_lambda_function": prefix.format("lambda") + f"function:{name}",
        "aws_cloudwatch_log_group": prefix.format("logs") + f"log-group:{name}",
        "aws_cloudwatch_metric_alarm": prefix.format("cloudwatch") + f"alarm:{name}",
        "aws_kms_key": prefix.format("kms") + f"key/{key_id}",
        "aws_kms_alias": prefix.format("kms") + name,
        "aws_secretsmanager_secret": prefix.format("secretsmanager") + f"secret:{name}-AbCdEf",
        "aws_ssm_parameter": prefix.format("ssm") + f"parameter/{name.lstrip('/')}",
        "aws_scheduler_schedule": prefix.format("scheduler") + f"schedule/default/{name}",
    }.get(kind, prefix.format("synthetic") + address)
    url = f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{name}"
    ids = {"aws_sqs_queue": url, "aws_kms_key": key_id, "aws_s3_bucket": name}
    ids |= dict.fromkeys(("aws_sns_topic", "aws_secretsmanager_secret"), arn)
    return {
        "arn": arn,
        "id": ids.get(kind, name or key_id),
        "url": url,
        "key_id": key_id,
        "invoke_arn": f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}"
        "/invocations",
        "qualified_arn": f"{arn}:$LATEST",
        "qualified_invoke_arn": f"{arn}:$LATEST",
        "version": "$LATEST",
        "unique_id": "AROAPLAN",
        "owner": ACCOUNT,
        "target_key_arn": prefix.format("kms") + "key/target",
    }


def _fill(value: object, unknown: object, name: str, schema: dict, known: dict) -> object:
    """`value` with what the plan left unknown filled in from the provider schema:
    identifiers (`known`) as AWS forms them, zeros and empty values otherwise. The
    correction rounds of make_state then make every reference agree."""
    if unknown is True:
        if "nesting_mode" in schema:  # a nested block
            return value if value is not None else _empty(["list"])
        kind = schema.get("type", "string")
        if kind != "string":
            return value if value is not None else _empty(kind)
        return known.get(name, "")
    if isinstance(unknown, dict) and isinstance(value, dict | type(None)):
        block = schema.get("block", schema)
        fields = {**block.get("attributes", {}), **block.get("block_types", {})}
        filled = dict(value or {})
        for key, inner in unknown.items():
            filled[key] = _fill(filled.get(key), inner, key, fields.get(key, {}), known)
        return filled
    if isinstance(unknown, list) and isinstance(value, list):
        return [
            _fill(item, unknown[i] if i < len(unknown) else False, name, schema, {})
            for i, item in enumerate(value)
        ]
    return value


def _sensitive_paths(marks: object, path: tuple = ()) -> list[list[dict]]:
    """A plan's `after_sensitive` tree as the state's `sensitive_attributes` paths:
    without them the state's values look public and the plan updates their marks."""
    if marks is True:
        return [list(path)]
    steps: list[tuple[dict, object]] = []
    if isinstance(marks, dict):
        steps = [({"type": "get_attr", "value": k}, v) for k, v in marks.items()]
    elif isinstance(marks, list):
        steps = [
            ({"type": "index", "value": {"value": i, "type": "number"}}, v)
            for i, v in enumerate(marks)
        ]
    return [found for step, inner in steps for found in _sensitive_paths(inner, (*path, step))]


def _state_from(plan: dict, previous: dict | None, schemas: dict) -> dict:
    """A v4 state of every managed instance the plan names: its planned values, with
    what stays unknown taken from the previous state (or filled in)."""
    before = {}
    for resource in (previous or {}).get("resources", []):
        for instance in resource["instances"]:
            index = json.dumps(instance.get("index_key"))
            key = (resource.get("module", ""), resource["type"], resource["name"], index)
            before[key] = instance["attributes"]
    changes = {c["address"]: c for c in plan["resource_changes"]}
    grouped: dict[tuple[str, str, str], dict] = {}
    for item in _instances(plan["planned_values"]["root_module"]):
        if item["mode"] != "managed":
            continue
        address = item["address"]
        module = address.rsplit(f".{item['type']}.", 1)[0] if address.startswith("module.") else ""
        key = (module, item["type"], item["name"])
        index = item.get("index")
        unknown = changes[address]["change"]["after_unknown"]
        known = _identifiers(item["type"], item["values"], address)
        values = _fill(item["values"], unknown, "", schemas[item["type"]], known)
        old = before.get((*key, json.dumps(index)))
        if old is not None:  # keep what the old state knew where the plan does not
            values = {k: old.get(k, v) if unknown.get(k) is True else v for k, v in values.items()}
        instance = {"schema_version": item["schema_version"], "attributes": values}
        if index is not None:
            instance["index_key"] = index
        instance["sensitive_attributes"] = _sensitive_paths(
            changes[address]["change"]["after_sensitive"]
        )
        resource = grouped.setdefault(
            key,
            {
                "mode": "managed",
                "type": item["type"],
                "name": item["name"],
                "provider": AWS_PROVIDER,
                "instances": [],
            },
        )
        if module:
            resource["module"] = module
        resource["instances"].append(instance)
    return {
        "version": 4,
        "terraform_version": "1.7.0",
        "serial": 1,
        "lineage": (previous or {}).get("lineage", str(uuid.uuid4())),
        "outputs": {},
        "resources": list(grouped.values()),
        "check_results": None,
    }


def _resource_schemas(infra: Path, env: str, work: Path) -> dict:
    """The AWS provider's resource schemas (after plan_on_state initialised `env`)."""
    tf_env = terraform.environment(config.load(), work / f"data-{env}", endpoint=None)
    document = terraform.run(
        ["providers", "schema", "-json"], infra / "envs" / env, tf_env, local=False, capture=True
    )
    schemas = json.loads(document)["provider_schemas"]
    return schemas["registry.terraform.io/hashicorp/aws"]["resource_schemas"]


def make_state(env: str = "local", rounds: int = 6) -> dict:
    """The state of a deployment of the old code of `env`, made from plans (see the
    module docstring); raises if the old code still plans a change after `rounds`."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(
            f"git -C {PROJECT} archive {OLD_COMMIT} infra | tar -x -C {work}",
            shell=True,
            check=True,
        )
        state_path = work / "state.json"
        state: dict | None = None
        schemas: dict = {}
        for _ in range(rounds):
            if state is not None:
                state_path.write_text(json.dumps(state))
            plan = plan_on_state(
                work / "infra", env, state_path if state else work / "empty.tfstate", work
            )
            actions = {
                c["address"]: c["change"]["actions"]
                for c in plan["resource_changes"]
                if c["mode"] == "managed"
            }
            if state is not None and all(a == ["no-op"] for a in actions.values()):
                state["about"] = (
                    f"A state of infra/envs/{env} as the code of commit {OLD_COMMIT} deployed "
                    "it (its defaults, placeholder zips, account 123456789012): made by "
                    "tests/infra/offline_plan_on_state.py, on which that code plans "
                    "no change. tests/infra/test_moved_plan.py plans today's code on it."
                )
                return state
            schemas = schemas or _resource_schemas(work / "infra", env, work)
            state = _state_from(plan, state, schemas)
    raise RuntimeError(f"the old code still plans changes: {actions}")


if __name__ == "__main__":
    STATE_BEFORE_PIPELINE.write_text(json.dumps(make_state(*sys.argv[1:]), indent=1) + "\n")

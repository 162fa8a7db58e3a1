"""Security review of a Terraform plan (`terraform show -json`), as plain checks.

Each check walks every planned resource of its kind, so a new module (system B's
catalog, or anything later) is reviewed without being named here. A check returns
findings, one readable line each; an empty list means it passed. Used by the
security tests (plans of both environments, made offline) and by
`harness promote plan`, which refuses to go on with findings.

The policies of this project are built with jsonencode() from derived ARNs, so they
are known at plan time; a policy that is not known cannot be reviewed, which is a
finding too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

# Actions for which AWS offers no resource-level permission: `Resource: "*"` is the
# narrowest grant possible. Keep the reason next to each.
NO_RESOURCE_LEVEL_ACTIONS = {
    "rekognition:DetectLabels": "images are passed in the request; no resource to name",
    "cloudwatch:PutMetricData": "scoped by the cloudwatch:namespace condition only",
    "xray:PutTraceSegments": "X-Ray supports no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray supports no resource-level permissions",
}

# Resource policies: (resource type, attribute holding the policy document).
RESOURCE_POLICIES = (
    ("aws_sns_topic", "policy"),
    ("aws_sns_topic_policy", "policy"),
    ("aws_sqs_queue", "policy"),
    ("aws_sqs_queue_policy", "policy"),
    ("aws_s3_bucket_policy", "policy"),
    ("aws_kms_key", "policy"),
    ("aws_secretsmanager_secret_policy", "policy"),
)
# Service principals that assume a Lambda execution role: only principals of this
# account holding iam:PassRole can attach the role to a function, and Lambda does
# not document source conditions for it.
EXECUTION_ROLE_SERVICES = {"lambda.amazonaws.com"}
# Variable names that hold secrets (names and ARNs of secrets, e.g.
# webhook_parameter_name, are not secrets).
SECRET_NAME = re.compile(r"(secret|token|password|passwd|webhook_url|private_key|api_key)$", re.I)
SOURCE_KEYS = {"aws:sourcearn", "aws:sourceaccount", "aws:sourceowner"}
MAX_MODULE_HOPS = 10  # module outputs and inputs followed from one reference, at most


@dataclass(frozen=True)
class Resource:
    """One planned resource instance: its values after the plan, and what is unknown."""

    address: str
    module: str  # "" for the root module, else e.g. "module.labeling"
    type: str
    name: str
    index: Any
    values: dict
    unknown: dict
    sensitive: dict

    def known(self, attribute: str) -> bool:
        return not self.unknown.get(attribute)


@dataclass
class Plan:
    """A `terraform show -json` document with the lookups the checks need."""

    document: dict
    resources: list[Resource] = field(init=False)

    def __post_init__(self) -> None:
        self.resources = []
        for change in self.document.get("resource_changes", []):
            if change.get("mode") != "managed" or change["change"]["actions"] == ["delete"]:
                continue
            self.resources.append(
                Resource(
                    address=change["address"],
                    module=change.get("module_address", ""),
                    type=change["type"],
                    name=change["name"],
                    index=change.get("index"),
                    values=change["change"].get("after") or {},
                    unknown=change["change"].get("after_unknown") or {},
                    sensitive=change["change"].get("after_sensitive") or {},
                )
            )

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    @property
    def account_id(self) -> str:
        for data in _walk_modules(self.document.get("prior_state", {}).get("values", {})):
            for res in data.get("resources", []):
                if res.get("type") == "aws_caller_identity":
                    return res["values"]["account_id"]
        output = self.document.get("planned_values", {}).get("outputs", {}).get("account_id")
        if output and isinstance(output.get("value"), str):
            return output["value"]
        raise ValueError("the plan names no account (no aws_caller_identity, no account_id)")

    def config_module(self, module: str) -> dict:
        """Configuration of a module instance address (`module.a[0].module.b` -> a, b)."""
        config = self.document.get("configuration", {}).get("root_module", {})
        for call in re.findall(r"module\.([\w-]+)", module):
            config = config.get("module_calls", {}).get(call, {}).get("module", {})
        return config

    def _expression_refs(self, resource: Resource, attribute: str) -> list[str]:
        for config in self.config_module(resource.module).get("resources", []):
            if config.get("address") == f"{resource.type}.{resource.name}":
                return config.get("expressions", {}).get(attribute, {}).get("references", [])
        return []

    def _follow(self, module: str, refs: list[str], depth: int = 0) -> list[tuple[str, str]]:
        """(module address, `type.name`) of the resources that references written in
        `module` lead to: directly, through a child module's output (`module.f.arn`), or
        through this module's input variable (`var.function_arn`), as far as it goes."""
        found: list[tuple[str, str]] = []
        if depth > MAX_MODULE_HOPS:
            return found
        for ref in refs:
            targets: list[tuple[str, str]] = []
            if match := re.match(r"^(aws_\w+)\.([\w-]+)", ref):
                targets = [(module, f"{match[1]}.{match[2]}")]
            elif match := re.match(r"^module\.([\w-]+)(\[[^\]]+\])?\.([\w-]+)", ref):
                child = f"{module}.module.{match[1]}{match[2] or ''}".lstrip(".")
                output = self.config_module(child).get("outputs", {}).get(match[3], {})
                targets = self._follow(
                    child, output.get("expression", {}).get("references", []), depth + 1
                )
            elif (match := re.match(r"^var\.([\w-]+)", ref)) and (
                call := re.fullmatch(r"(?:(.*)\.)?module\.([\w-]+)(?:\[[^\]]+\])?", module)
            ):
                parent = call[1] or ""
                given = self.config_module(parent).get("module_calls", {}).get(call[2], {})
                expression = given.get("expressions", {}).get(match[1], {})
                targets = self._follow(parent, expression.get("references", []), depth + 1)
            found += [t for t in targets if t not in found]
        return found

    def references(self, resource: Resource, attribute: str) -> list[str]:
        """Addresses (module and `type.name`, no attribute) of the resources the attribute's
        expression uses, followed through module outputs and input variables."""
        return [
            f"{module}.{name}".lstrip(".")
            for module, name in self._follow(
                resource.module, self._expression_refs(resource, attribute)
            )
        ]

    def referenced(self, resource: Resource, attribute: str, target_type: str) -> Resource | None:
        """The `target_type` instance an attribute refers to, in its module or, through
        module outputs and inputs, in another.

        Instances of a counted or for_each'd target pair up by index.
        """
        for module, ref in self._follow(
            resource.module, self._expression_refs(resource, attribute)
        ):
            rtype, rname = ref.split(".")
            if rtype != target_type:
                continue
            candidates = [
                r
                for r in self.resources
                if _same_module(r.module, module) and r.type == rtype and r.name == rname
            ]
            if len(candidates) == 1:
                return candidates[0]
            for candidate in candidates:
                if candidate.index == resource.index:
                    return candidate
        return None


def _same_module(address: str, wanted: str) -> bool:
    """`address` is the module `wanted` names (any instance of it, if it names no key)."""
    if address == wanted:
        return True
    return "[" not in wanted and re.sub(r"\[[^\]]+\]", "", address) == wanted


def _walk_modules(module: dict) -> Iterator[dict]:
    if not module:
        return
    yield module.get("root_module", module)
    stack = list(module.get("root_module", module).get("child_modules", []))
    while stack:
        child = stack.pop()
        yield child
        stack.extend(child.get("child_modules", []))


def load(text: str) -> Plan:
    return Plan(json.loads(text))


# --- policy documents ---------------------------------------------------------


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements(document: str | dict) -> list[dict]:
    doc = json.loads(document) if isinstance(document, str) else document
    return _as_list(doc.get("Statement"))


def principals(statement: dict) -> list[tuple[str, str]]:
    """[(kind, value)], e.g. [("Service", "sns.amazonaws.com")]; "*" is ("*", "*")."""
    principal = statement.get("Principal")
    if principal == "*":
        return [("*", "*")]
    if not isinstance(principal, dict):
        return []
    return [(kind, value) for kind, values in principal.items() for value in _as_list(values)]


def condition_values(statement: dict, key: str) -> list[str]:
    """Values of a condition key under any operator (keys compare case-insensitively)."""
    found: list[str] = []
    for operator in (statement.get("Condition") or {}).values():
        for name, values in operator.items():
            if name.lower() == key.lower():
                found += [str(v) for v in _as_list(values)]
    return found


def _policy_documents(plan: Plan) -> Iterator[tuple[Resource, str, Any]]:
    for rtype, attribute in RESOURCE_POLICIES:
        for resource in plan.of_type(rtype):
            yield resource, attribute, resource.values.get(attribute)


# --- Lambda execution roles ---------------------------------------------------


@dataclass
class LambdaRole:
    function: Resource
    role: Resource | None
    statements: list[dict]
    problems: list[str]


def lambda_roles(plan: Plan) -> list[LambdaRole]:
    """Each planned function with the statements of its execution role."""
    found = []
    for function in plan.of_type("aws_lambda_function"):
        role = plan.referenced(function, "role", "aws_iam_role")
        problems: list[str] = []
        collected: list[dict] = []
        if role is None:
            problems.append(f"{function.address}: its role is not a role of this stack")
        else:
            for policy in plan.of_type("aws_iam_role_policy"):
                if plan.referenced(policy, "role", "aws_iam_role") is role:
                    if not policy.known("policy"):
                        problems.append(f"{policy.address}: policy unknown at plan time")
                        continue
                    collected += statements(policy.values["policy"])
            for inline in _as_list(role.values.get("inline_policy")):
                if inline.get("policy"):
                    collected += statements(inline["policy"])
            for attachment in plan.of_type("aws_iam_role_policy_attachment"):
                if plan.referenced(attachment, "role", "aws_iam_role") is role:
                    problems.append(
                        f"{attachment.address}: managed policy "
                        f"{attachment.values.get('policy_arn')} attached (grants are not "
                        "reviewable here; write an inline policy scoped to this stack)"
                    )
        found.append(LambdaRole(function, role, collected, problems))
    return found


def _stack_names(plan: Plan) -> dict[str, set[str]]:
    """Names of the resources this plan creates, by ARN service."""
    names: dict[str, set[str]] = {k: set() for k in ("s3", "sqs", "sns", "logs", "ssm", "lambda")}
    pairs = (
        ("aws_s3_bucket", "bucket", "s3"),
        ("aws_sqs_queue", "name", "sqs"),
        ("aws_sns_topic", "name", "sns"),
        ("aws_cloudwatch_log_group", "name", "logs"),
        ("aws_ssm_parameter", "name", "ssm"),
        ("aws_lambda_function", "function_name", "lambda"),
    )
    for rtype, attribute, service in pairs:
        for resource in plan.of_type(rtype):
            value = resource.values.get(attribute)
            if isinstance(value, str):
                names[service].add(value)
    names["secretsmanager"] = {
        r.values["name"] for r in plan.of_type("aws_secretsmanager_secret") if r.values.get("name")
    }
    names["dynamodb"] = {
        r.values["name"] for r in plan.of_type("aws_dynamodb_table") if r.values.get("name")
    }
    return names


def _resource_finding(arn: str, account: str, names: dict[str, set[str]]) -> str | None:
    """Why an ARN in an execution role is broader than this stack, or None."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return f"{arn!r} is not an ARN"
    _, _, service, region, arn_account, rest = parts
    if service != "s3" and arn_account != account:
        return f"{arn} is not in account {account}"
    if "*" in region:
        return f"{arn} spans regions"
    if service == "s3":
        bucket, _, path = rest.partition("/")
        if bucket not in names["s3"]:
            return f"{arn} names no bucket of this stack"
        if "*" in path.rstrip("*"):
            return f"{arn} has a wildcard inside the object path"
        return None
    if service in ("sqs", "sns"):
        return None if rest in names[service] else f"{arn} names no {service} of this stack"
    if service == "logs":
        group = rest.removeprefix("log-group:").removesuffix(":*")
        return None if group in names["logs"] else f"{arn} names no log group of this stack"
    if service == "ssm":
        parameter = rest.removeprefix("parameter")
        known = {n if n.startswith("/") else f"/{n}" for n in names["ssm"]}
        return None if parameter in known else f"{arn} names no parameter of this stack"
    if service == "lambda":
        function = rest.removeprefix("function:").split(":")[0]
        return None if function in names["lambda"] else f"{arn} names no function of this stack"
    if service == "dynamodb":
        table = rest.removeprefix("table/").split("/")[0]
        return None if table in names["dynamodb"] else f"{arn} names no table of this stack"
    if service == "secretsmanager":
        # A secret's ARN ends in 6 random characters: `-??????` names exactly one.
        secret = rest.removeprefix("secret:").removesuffix("-??????")
        known = secret in names["secretsmanager"]
        return None if known else f"{arn} names no secret of this stack"
    if service == "kms":
        return None if rest.startswith(("key/", "alias/")) and "*" not in rest else f"{arn}"
    return f"{arn}: service {service} is not reviewed here; add it to plan_audit"


def iam_findings(plan: Plan) -> list[str]:
    """Execution roles grant named actions on this stack's resources only.

    No `*` in an action, no NotAction/NotResource, `Resource: "*"` only for actions
    AWS cannot scope (NO_RESOURCE_LEVEL_ACTIONS), every other ARN names a resource
    this plan creates, in this account.
    """
    account = plan.account_id
    names = _stack_names(plan)
    findings: list[str] = []
    for role in lambda_roles(plan):
        findings += role.problems
        where = role.function.address
        for statement in role.statements:
            sid = statement.get("Sid", "?")
            if statement.get("Effect") != "Allow":
                continue
            if "NotAction" in statement or "NotResource" in statement:
                findings.append(f"{where} [{sid}]: NotAction/NotResource grant everything else")
            actions = _as_list(statement.get("Action"))
            for action in actions:
                if "*" in action:
                    findings.append(f"{where} [{sid}]: wildcard action {action!r}")
            for arn in _as_list(statement.get("Resource")):
                if arn == "*":
                    broad = [a for a in actions if a not in NO_RESOURCE_LEVEL_ACTIONS]
                    if broad:
                        findings.append(
                            f"{where} [{sid}]: Resource '*' for {broad}, which AWS can scope"
                        )
                    continue
                problem = _resource_finding(arn, account, names)
                if problem:
                    findings.append(f"{where} [{sid}]: {problem}")
    return findings


# --- resource policies, trust policies, permissions ---------------------------


def _source_findings(statement: dict, account: str) -> list[str]:
    """A service principal must be tied to one source: our resource, in our account."""
    arns = condition_values(statement, "aws:SourceArn")
    accounts = condition_values(statement, "aws:SourceAccount") + condition_values(
        statement, "aws:SourceOwner"
    )
    problems = []
    if not arns and not accounts:
        problems.append("no aws:SourceArn / aws:SourceAccount condition")
    for value in accounts:
        if value != account:
            problems.append(f"source account {value} is not {account}")
    for arn in arns:
        parts = arn.split(":")
        if len(parts) < 6 or "*" in arn or "?" in arn:
            problems.append(f"source ARN {arn!r} is not one resource")
        elif parts[4] == "" and not accounts:
            problems.append(f"source ARN {arn} has no account: add aws:SourceAccount")
        elif parts[4] not in ("", account):
            problems.append(f"source ARN {arn} is not in account {account}")
    return problems


def _allow_statement_findings(statement: dict, account: str) -> list[str]:
    found = principals(statement)
    if len(found) != 1:
        return [f"names {len(found)} principals, not one"]
    kind, value = found[0]
    if kind == "*" or value == "*":
        return ["allows any principal"]
    if kind == "Service":
        return _source_findings(statement, account)
    if kind == "AWS":
        in_account = value == account or re.match(rf"^arn:[\w-]+:iam::{account}:", value)
        return [] if in_account else [f"principal {value} is outside account {account}"]
    return [f"principal kind {kind} is not reviewed here"]


def resource_policy_findings(plan: Plan) -> list[str]:
    """Every Allow of a resource policy names one principal and ties it to one source."""
    account = plan.account_id
    findings: list[str] = []
    for resource, attribute, document in _policy_documents(plan):
        if not resource.known(attribute):
            findings.append(f"{resource.address}.{attribute}: unknown at plan time")
            continue
        if not document:
            continue
        try:
            parsed = statements(document)
        except (ValueError, AttributeError) as exc:
            findings.append(f"{resource.address}.{attribute}: not a policy document ({exc})")
            continue
        for statement in parsed:
            sid = statement.get("Sid", "?")
            if "Principal" not in statement:
                findings.append(f"{resource.address} [{sid}]: statement has no Principal")
                continue
            if statement.get("Effect") == "Allow":
                for problem in _allow_statement_findings(statement, account):
                    findings.append(f"{resource.address} [{sid}]: {problem}")
    for permission in plan.of_type("aws_lambda_permission"):
        principal = permission.values.get("principal") or ""
        source_arn = permission.values.get("source_arn")
        where = permission.address
        if principal == "*" or "," in principal:
            findings.append(f"{where}: principal {principal!r} is not one principal")
        if principal.endswith(".amazonaws.com"):
            if not source_arn and permission.known("source_arn"):
                findings.append(f"{where}: {principal} may invoke from any source (no source_arn)")
            elif isinstance(source_arn, str) and "*" in source_arn:
                findings.append(f"{where}: source_arn {source_arn} is a pattern")
            if principal == "s3.amazonaws.com" and permission.values.get("source_account") in (
                None,
                "",
            ):
                findings.append(f"{where}: S3 permission without source_account")
    for role in plan.of_type("aws_iam_role"):
        if not role.known("assume_role_policy"):
            findings.append(f"{role.address}.assume_role_policy: unknown at plan time")
            continue
        for statement in statements(role.values["assume_role_policy"]):
            if statement.get("Effect") != "Allow":
                continue
            found = principals(statement)
            sid = statement.get("Sid", "trust")
            if len(found) != 1 or found[0][0] != "Service":
                findings.append(f"{role.address} [{sid}]: trust names {found}, not one service")
            elif found[0][1] not in EXECUTION_ROLE_SERVICES:
                for problem in _source_findings(statement, account):
                    findings.append(f"{role.address} [{sid}]: {problem}")
    return findings


# --- S3, encryption, secrets --------------------------------------------------


def _bucket_of(plan: Plan, resource: Resource) -> str | None:
    value = resource.values.get("bucket")
    if isinstance(value, str) and resource.known("bucket"):
        return value
    bucket = plan.referenced(resource, "bucket", "aws_s3_bucket")
    return bucket.values.get("bucket") if bucket else None


def _denies_plain_http(document: str, bucket: str) -> bool:
    wanted = {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    for statement in statements(document):
        if statement.get("Effect") != "Deny" or principals(statement) != [("*", "*")]:
            continue
        resources = {
            re.sub(r"^arn:[\w-]+:", "arn:aws:", r) for r in _as_list(statement["Resource"])
        }
        if condition_values(statement, "aws:SecureTransport") == ["false"] and wanted <= resources:
            return True
    return False


def s3_findings(plan: Plan) -> list[str]:
    """Every bucket: public access fully blocked, default encryption, TLS required."""
    findings: list[str] = []
    for bucket in plan.of_type("aws_s3_bucket"):
        name = bucket.values.get("bucket")
        blocks = [
            b
            for b in plan.of_type("aws_s3_bucket_public_access_block")
            if _bucket_of(plan, b) == name
        ]
        flags = (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
        if not any(all(b.values.get(f) is True for f in flags) for b in blocks):
            findings.append(f"{bucket.address}: public access is not fully blocked")
        sse = [
            rule.get("apply_server_side_encryption_by_default", [{}])[0].get("sse_algorithm")
            for s in plan.of_type("aws_s3_bucket_server_side_encryption_configuration")
            if _bucket_of(plan, s) == name
            for rule in _as_list(s.values.get("rule"))
        ]
        if not any(a in ("AES256", "aws:kms", "aws:kms:dsse") for a in sse):
            findings.append(f"{bucket.address}: no default encryption")
        policies = [p for p in plan.of_type("aws_s3_bucket_policy") if _bucket_of(plan, p) == name]
        if not any(
            p.values.get("policy") and _denies_plain_http(p.values["policy"], name)
            for p in policies
        ):
            findings.append(f"{bucket.address}: no policy denying requests without TLS")
    return findings


def encryption_findings(plan: Plan) -> list[str]:
    """Queues, topics and secrets are encrypted at rest."""
    findings: list[str] = []
    for queue in plan.of_type("aws_sqs_queue"):
        if queue.values.get("sqs_managed_sse_enabled") is not True and not queue.values.get(
            "kms_master_key_id"
        ):
            findings.append(f"{queue.address}: neither SSE-SQS nor a KMS key")
    for topic in plan.of_type("aws_sns_topic"):
        if not topic.values.get("kms_master_key_id") and topic.known("kms_master_key_id"):
            findings.append(f"{topic.address}: not encrypted (kms_master_key_id)")
    for parameter in plan.of_type("aws_ssm_parameter"):
        if parameter.sensitive.get("value") and parameter.values.get("type") != "SecureString":
            findings.append(f"{parameter.address}: holds a secret but is not a SecureString")
    return findings


def _strings(value: Any, sensitive: Any, path: str = "") -> Iterator[tuple[str, str, bool]]:
    """(path, string, marked sensitive) for every string leaf of a planned value."""
    marked = sensitive is True
    if isinstance(value, str):
        yield path, value, marked
    elif isinstance(value, dict):
        for key, item in value.items():
            sub = sensitive.get(key, False) if isinstance(sensitive, dict) else sensitive
            yield from _strings(item, sub, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            sub = sensitive[i] if isinstance(sensitive, list) and i < len(sensitive) else sensitive
            yield from _strings(item, sub, f"{path}[{i}]")


def _variables(config: dict) -> dict[str, dict]:
    return config.get("variables", {}) or {}


def secret_findings(plan: Plan) -> list[str]:
    """Secrets are sensitive variables, stored only in SecureString/secret values.

    Every variable whose name says secret (webhook, token, ...) is `sensitive`, in
    the root and in each module; no output is sensitive (a secret must not be an
    output at all); the value of each sensitive root variable appears in no output
    and in no attribute other than an SSM SecureString or Secrets Manager value.
    """
    findings: list[str] = []
    root = plan.config_module("")
    modules = [("", root)]
    stack = [("", root)]
    while stack:
        prefix, config = stack.pop()
        for name, call in config.get("module_calls", {}).items():
            entry = (f"{prefix}module.{name}.", call.get("module", {}))
            modules.append(entry)
            stack.append(entry)
    for prefix, config in modules:
        for name, variable in _variables(config).items():
            if SECRET_NAME.search(name) and not variable.get("sensitive"):
                findings.append(f"variable {prefix}{name} looks secret but is not sensitive")
        for name, output in (config.get("outputs") or {}).items():
            if output.get("sensitive"):
                findings.append(f"output {prefix}{name} is sensitive: secrets are not outputs")
    secrets = [
        str(plan.document.get("variables", {}).get(name, {}).get("value"))
        for name, variable in _variables(root).items()
        if variable.get("sensitive")
    ]
    secrets = [s for s in secrets if s and s != "None" and len(s) >= 8]
    for name, output in plan.document.get("planned_values", {}).get("outputs", {}).items():
        text = json.dumps(output.get("value"))
        if any(secret in text for secret in secrets):
            findings.append(f"output {name} contains a secret value")
    for resource in plan.resources:
        for path, text, marked in _strings(resource.values, resource.sensitive):
            if not any(secret in text for secret in secrets):
                continue
            allowed = (
                resource.type == "aws_ssm_parameter"
                and path == "value"
                and resource.values.get("type") == "SecureString"
            ) or (resource.type == "aws_secretsmanager_secret_version" and path == "secret_string")
            if not (allowed and marked):
                findings.append(f"{resource.address}.{path} holds a secret value")
    return findings


def all_findings(plan: Plan) -> dict[str, list[str]]:
    return {
        "least privilege": iam_findings(plan),
        "resource policies": resource_policy_findings(plan),
        "s3": s3_findings(plan),
        "encryption": encryption_findings(plan),
        "secrets": secret_findings(plan),
    }


def summary(findings: dict[str, list[str]]) -> Iterable[str]:
    for area, items in findings.items():
        for item in items:
            yield f"{area}: {item}"

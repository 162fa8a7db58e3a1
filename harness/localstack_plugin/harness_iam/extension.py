"""The LocalStack side: a gateway request handler that enforces IAM for role sessions.

Settings (environment of the LocalStack process):
- `HARNESS_IAM`: `enforce` (deny), `audit` (allow, log would-be denials) or `off`
  (default: nothing is installed);
- `HARNESS_IAM_DENIALS`: a file; every denial (or would-be denial) is appended to it as
  one JSON line;
- `HARNESS_IAM_SECURE_TRANSPORT`: `assume` (default: `aws:SecureTransport` is true, as
  for every AWS SDK call on AWS) or `request` (true only for requests over https);
- `HARNESS_IAM_DELIVERIES`: `1` (default) also checks the calls LocalStack makes as a
  service principal (S3 -> SNS/SQS/Lambda, SNS -> SQS/Lambda, CloudWatch alarm actions ->
  SNS/Lambda, Lambda's AssumeRole of an execution role) against the resource policy and,
  for an encrypted topic or queue, the key policy, with `aws:SourceArn` and
  `aws:SourceAccount`: a delivery AWS would refuse is refused and logged. `0` turns that
  off (only role sessions are checked).

Who is checked: requests signed with the credentials of an assumed-role session (what
LocalStack's Lambda service gives every function process: `sts:AssumeRole` of its
execution role, and what its event source mappings and log shipping use), and, with
deliveries on, LocalStack's internal calls that name a service principal. Requests
signed with any other key (the shared test keys of the operator, Terraform and the tests;
LocalStack's other internal calls) pass untouched.

A denial raises the protocol's own error (`responses.py`) with AWS's message text, and is
appended to the denial log. LocalStack community does not load `localstack.extensions`
plugins itself (that manager is in the paid edition), so the package also registers an
`on_infra_start` hook that installs the same handler; installing twice is a no-op.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
import urllib.parse
from typing import Any

from localstack.aws.accounts import get_account_id_from_access_key_id
from localstack.aws.api import CommonServiceException, RequestContext
from localstack.aws.chain import CompositeHandler, HandlerChain
from localstack.extensions.api import Extension
from localstack.http import Request, Response, Router, route
from localstack.runtime import hooks

from .actions import Call
from .alarm_actions import AlarmActionClients
from .authorizer import CallDecision, authorize
from .denial_log import DenialLog
from .evaluation import Principal
from .log_shipping import RoleLogClients
from .responses import error_for
from .stores import Sessions, StoreFacts, StorePolicies

LOG = logging.getLogger("harness_iam")

MODE_VAR = "HARNESS_IAM"
SECURE_TRANSPORT_VAR = "HARNESS_IAM_SECURE_TRANSPORT"
DELIVERIES_VAR = "HARNESS_IAM_DELIVERIES"
MODES = ("enforce", "audit", "off")


def mode() -> str:
    value = os.environ.get(MODE_VAR, "off").strip().lower() or "off"
    if value not in MODES:
        raise ValueError(f"{MODE_VAR}={value!r}: use one of {', '.join(MODES)}")
    return value


def _access_key(context: RequestContext) -> str | None:
    headers = context.request.headers
    authorization = headers.get("Authorization", "")
    if "Credential=" in authorization:
        return authorization.split("Credential=", 1)[1].split("/", 1)[0].strip()
    if authorization.startswith("AWS "):  # SigV2
        return authorization[4:].split(":", 1)[0].strip()
    args = context.request.args
    credential = args.get("X-Amz-Credential")
    if credential:
        return urllib.parse.unquote(credential).split("/", 1)[0]
    return args.get("AWSAccessKeyId")


class IamEnforcer:
    """The request handler (LocalStack's `Handler` protocol)."""

    def __init__(
        self,
        mode: str,
        log: DenialLog,
        secure_transport: str = "assume",
        deliveries: bool = False,
    ) -> None:
        self.mode = mode
        self.log = log
        self.secure_transport = secure_transport
        self.deliveries = deliveries
        self.sessions = Sessions()
        self.policies = StorePolicies()
        self.facts = StoreFacts()
        self._lock = threading.Lock()
        self.checked = 0
        self.denied = 0

    @classmethod
    def from_env(cls) -> IamEnforcer:
        return cls(
            mode=mode(),
            log=DenialLog.from_env(),
            secure_transport=os.environ.get(SECURE_TRANSPORT_VAR, "assume").strip().lower(),
            # On unless opted out, as on AWS, where every delivery is checked.
            deliveries=os.environ.get(DELIVERIES_VAR, "1").strip().lower()
            not in ("0", "false", "no", "off"),
        )

    def __call__(self, chain: HandlerChain, context: RequestContext, response: Response) -> None:
        if self.mode == "off" or context.service is None or context.operation is None:
            return
        principal, keys = self.caller(context)
        if principal is None:
            return
        call = Call(
            service=context.service.service_name,
            operation=context.operation.name,
            params=context.service_request or {},
            region=context.region,
            account=context.account_id,
            partition=context.partition or "aws",
        )
        decision = authorize(call, principal, self.policies, self.facts, keys)
        with self._lock:
            self.checked += 1
        if decision.allowed:
            return
        self._tolerate(decision, context)
        with self._lock:
            self.denied += 1
        self.log.append(decision.record(self.mode))
        verb = "denied" if self.mode == "enforce" else "would deny (audit)"
        LOG.warning("harness_iam %s: %s [%s]", verb, decision.aws_message(), decision.reason())
        if self.mode == "enforce":
            code, status = error_for(call.service, context.service.protocol)
            raise CommonServiceException(
                code, decision.aws_message(), status_code=status, sender_fault=True
            )

    # --- who is calling ------------------------------------------------------------------

    def caller(self, context: RequestContext) -> tuple[Principal | None, dict[str, object]]:
        key = _access_key(context)
        dto = context.internal_request_params or {}
        keys: dict[str, object] = {
            "aws:SecureTransport": self.secure_transport != "request"
            or context.request.scheme == "https",
            "aws:CurrentTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "aws:EpochTime": int(time.time()),
            "aws:ViaAWSService": bool(dto),
        }
        if context.request.remote_addr:
            keys["aws:SourceIp"] = context.request.remote_addr
        if key:
            principal = self.sessions.principal(key, context.account_id, context.partition or "aws")
            if principal is not None:
                return principal, keys
        service = dto.get("service_principal")
        if self.deliveries and service:
            name = service if "." in service else f"{service}.amazonaws.com"
            source_arn = dto.get("source_arn")
            if source_arn:
                keys["aws:SourceArn"] = source_arn
                parts = source_arn.split(":")
                keys["aws:SourceAccount"] = (
                    parts[4] if len(parts) > 4 and parts[4] else context.account_id
                )
            return Principal.service_principal(name), keys
        return None, {}

    # --- what LocalStack's own service code cannot take -------------------------------------

    def _tolerate(self, decision: CallDecision, context: RequestContext) -> None:
        """Lambda's log shipping (with the function's role) calls CreateLogGroup after a
        PutLogEvents to a new stream and gives up on any error but "already exists". AWS's
        Lambda service ignores the denial when the group exists; so do we, by answering
        what the call would answer if it were allowed."""
        if decision.call.service != "logs" or decision.call.operation != "CreateLogGroup":
            return
        group = (context.service_request or {}).get("logGroupName")
        if group and _log_group_exists(context.account_id, context.region, group):
            raise CommonServiceException(
                "ResourceAlreadyExistsException",
                "The specified log group already exists",
                status_code=400,
                sender_fault=True,
            )


class AuthorizeEndpoint:
    """`POST /_harness/iam/authorize`: the same decision for calls LocalStack never sees.

    For the harness's stubs of services LocalStack does not emulate (the Rekognition stub):
    is the caller behind this access key allowed these calls? One request carries every
    check of one API call of the stub (DetectLabels, then its S3 read as the caller), so
    the stub's hot path makes one round trip. Body (JSON): `access_key`, `region`, and
    `calls`, each with `service`, `operation`, `params` and optional `via` (the calling
    service, e.g. `rekognition` when Rekognition reads S3 as the caller). The calls are
    decided in order and the first denial ends the list, as the service itself would stop
    there. Answer: `checked` (false: not a role session, nothing to check), `allowed`
    (all of them), and `results`, one per decided call: `allowed`, and for a denial
    `action`, `resource`, `message`, `reason`, `code`, `status`. Denials are logged like
    any other.
    """

    def __init__(self, enforcer: IamEnforcer) -> None:
        self.enforcer = enforcer

    @route("/_harness/iam/authorize", methods=["POST"])
    def authorize(self, request: Request) -> dict[str, object]:
        body = request.get_json(force=True) or {}
        key = str(body.get("access_key") or "")
        account = get_account_id_from_access_key_id(key) if key else ""
        principal = self.enforcer.sessions.principal(key, account) if key else None
        if principal is None:
            return {"checked": False, "allowed": True, "mode": self.enforcer.mode, "results": []}
        results: list[dict[str, object]] = []
        for item in body.get("calls") or []:
            results.append(self._decide(principal, account, body.get("region"), item))
            if results[-1].get("would_deny"):
                break
        allowed = all(bool(r["allowed"]) for r in results)
        return {"checked": True, "allowed": allowed, "mode": self.enforcer.mode, "results": results}

    def _decide(
        self, principal: Principal, account: str, region: str | None, item: dict[str, Any]
    ) -> dict[str, object]:
        call = Call(
            service=item["service"],
            operation=item["operation"],
            params=item.get("params") or {},
            region=region or "us-east-1",
            account=account,
        )
        via = item.get("via")
        keys: dict[str, object] = {
            "aws:SecureTransport": True,
            "aws:CurrentTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "aws:EpochTime": int(time.time()),
            "aws:ViaAWSService": bool(via),
        }
        if via:
            keys["aws:CalledVia"] = [f"{via}.amazonaws.com"]
        decision = authorize(call, principal, self.enforcer.policies, self.enforcer.facts, keys)
        if decision.allowed:
            return {"allowed": True}
        self.enforcer.log.append(decision.record(self.enforcer.mode) | {"via": via})
        code, status = error_for(call.service, None)
        return {
            "allowed": self.enforcer.mode != "enforce",
            "would_deny": True,
            "action": decision.action,
            "resource": decision.resource,
            "message": decision.aws_message(),
            "reason": decision.reason(),
            "code": code,
            "status": status,
        }


def _log_group_exists(account: str, region: str, group: str) -> bool:
    try:
        from moto.logs.models import logs_backends

        return group in logs_backends[account][region].groups
    except Exception:
        return False


# --- installation ------------------------------------------------------------------------


# LocalStack modules whose internal client factory (`connect_to`) is wrapped when
# deliveries are checked: module, wrapper, what stays unmended if the module is missing.
CLIENT_WRAPPERS: tuple[tuple[str, type, str], ...] = (
    # Alarm actions become deliveries of cloudwatch.amazonaws.com (alarm_actions.py).
    ("localstack.services.cloudwatch.provider_v2", AlarmActionClients, "alarm actions"),
    # Log shipping assumes the role again after a refusal (log_shipping.py).
    ("localstack.services.lambda_.invocation.logs", RoleLogClients, "Lambda log shipping"),
)


def _wrap_internal_clients() -> None:
    """Put each of `CLIENT_WRAPPERS` around its module's `connect_to` (once)."""
    for module_name, wrapper, what in CLIENT_WRAPPERS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # another LocalStack layout: say what is left as it was
            LOG.warning("harness_iam: %s left as LocalStack has them (no %s)", what, module_name)
            continue
        if not isinstance(module.connect_to, wrapper):
            module.connect_to = wrapper(module.connect_to)


_installed: IamEnforcer | None = None
_install_lock = threading.Lock()


def install(
    handlers: CompositeHandler | None = None, router: Router | None = None
) -> IamEnforcer | None:
    """Add the enforcer to the gateway's custom request handlers and its endpoint to the
    edge router (once)."""
    global _installed
    with _install_lock:
        if _installed is not None:
            return _installed
        enforcer = IamEnforcer.from_env()
        if enforcer.mode == "off":
            return None
        if handlers is None:
            from localstack.aws.handlers import serve_custom_service_request_handlers

            handlers = serve_custom_service_request_handlers
        if router is None:
            from localstack.services.edge import ROUTER

            router = ROUTER
        handlers.append(enforcer)
        router.add(AuthorizeEndpoint(enforcer))
        if enforcer.deliveries:
            _wrap_internal_clients()
        _installed = enforcer
        LOG.warning(
            "harness_iam: IAM %s for role sessions%s (denials -> %s)",
            enforcer.mode,
            " and deliveries between services" if enforcer.deliveries else "",
            enforcer.log.path or "LocalStack's log only",
        )
        return enforcer


class HarnessIamExtension(Extension):
    """For LocalStack editions that load `localstack.extensions` plugins."""

    name = "harness-iam"

    def update_gateway_routes(self, router: Router) -> None:
        self._router = router

    def update_request_handlers(self, handlers: CompositeHandler) -> None:
        install(handlers, getattr(self, "_router", None))


@hooks.on_infra_start(should_load=lambda: mode() != "off")
def install_harness_iam() -> None:
    """For LocalStack community, which runs `on_infra_start` hooks but no extensions."""
    install()


__all__ = [
    "AuthorizeEndpoint",
    "HarnessIamExtension",
    "IamEnforcer",
    "install",
    "install_harness_iam",
    "mode",
]

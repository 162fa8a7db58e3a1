"""One API call, one caller -> allowed or not, with everything a denial report needs.

`authorize()` is the whole decision without LocalStack: the call is mapped to its
authorizations (`actions.py`), each is evaluated against the caller's identity policies
and the resource's policy (`evaluation.py`), and the first denial decides. The policies
come from a `PolicySource`; the LocalStack extension reads them from the providers'
stores, tests give them as dicts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .actions import Authorization, Call, ResourceFacts, UnmappedOperation, authorizations
from .conditions import RequestContext
from .evaluation import AccessRequest, Decision, Principal, Result, evaluate
from .policy import Policy

RESOURCE_POLICY_LABELS = {
    "s3": "bucket policy",
    "sqs": "queue policy",
    "sns": "topic policy",
    "kms": "key policy",
    "lambda": "function policy",
    "secretsmanager": "secret policy",
    "iam-role": "trust policy",
}


class PolicySource(Protocol):
    def identity_policies(self, principal: Principal) -> Sequence[Policy]:
        """Inline and attached policies of the caller (none for a service principal)."""

    def resource_policy(self, kind: str, identifier: str) -> Policy | None:
        """The policy of a resource (None: the resource has none)."""


@dataclass(frozen=True)
class CallDecision:
    call: Call
    principal: Principal
    results: tuple[Result, ...] = ()
    # Set when the call could not be mapped to authorizations (fail closed).
    error: str | None = None
    at: float = field(default_factory=time.time)

    @property
    def allowed(self) -> bool:
        return self.error is None and all(r.allowed for r in self.results)

    @property
    def denial(self) -> Result | None:
        """The result that decides a denial (the first one denied)."""
        return next((r for r in self.results if not r.allowed), None)

    @property
    def action(self) -> str:
        denial = self.denial
        if denial is not None:
            return denial.request.action
        return f"{self.call.service}:{self.call.operation}"

    @property
    def resource(self) -> str:
        denial = self.denial
        return denial.request.resource if denial is not None else "*"

    def aws_message(self) -> str:
        denial = self.denial
        if denial is not None:
            return denial.aws_message()
        return (
            f"User: {self.principal.arn} is not authorized to perform: {self.action} "
            f"because {self.error}"
        )

    def reason(self) -> str:
        denial = self.denial
        return denial.reason if denial is not None else f"fail closed: {self.error}"

    def record(self, mode: str) -> dict[str, object]:
        """The JSON-lines record of a denial (or a would-be denial in audit mode)."""
        denial = self.denial
        return {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.at))
            + f".{int(self.at * 1000) % 1000:03d}Z",
            "mode": mode,
            "enforced": mode == "enforce",
            "principal": self.principal.arn,
            "role": self.principal.role_arn,
            "service": self.call.service,
            "operation": self.call.operation,
            "action": self.action,
            "resource": self.resource,
            "decision": denial.decision.value if denial else Decision.IMPLICIT_DENY.value,
            "reason": self.reason(),
            "message": self.aws_message(),
            "policies": list(denial.policies) if denial else [],
            "matched": [m.describe() for m in denial.matched] if denial else [],
            "unsupported": list(denial.unsupported) if denial else [],
            "checked": [
                {
                    "action": r.request.action,
                    "resource": r.request.resource,
                    "decision": r.decision.value,
                }
                for r in self.results
            ],
            "context": denial.request.context.as_dict() if denial else {},
        }


def authorize(
    call: Call,
    principal: Principal,
    source: PolicySource,
    facts: ResourceFacts | None = None,
    context: Mapping[str, object] | None = None,
) -> CallDecision:
    """Decide a call. `context` holds the global keys of the request (aws:SecureTransport,
    aws:SourceIp, aws:SourceArn, ...); the principal's keys and the call's are added."""
    try:
        needed = authorizations(call, facts)
    except UnmappedOperation as exc:
        return CallDecision(call, principal, error=str(exc))
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        return CallDecision(
            call, principal, error=f"cannot read the {call.operation} request ({exc!r})"
        )
    identity = list(source.identity_policies(principal)) if principal.type != "Service" else []
    base = RequestContext({**principal.context_keys(), **(context or {})})
    base["aws:RequestedRegion"] = call.region
    results = [_evaluate_one(a, principal, identity, source, base) for a in needed]
    return CallDecision(call, principal, tuple(results))


def _evaluate_one(
    auth: Authorization,
    principal: Principal,
    identity: list[Policy],
    source: PolicySource,
    base: RequestContext,
) -> Result:
    context = base.copy()
    if auth.action.lower().startswith("kms:") and principal.account:
        # The account of the calling IAM principal; a service principal has none of ours.
        context["kms:CallerAccount"] = principal.account
    for key, value in auth.context.items():
        context[key] = value
    resource_policy = None
    label = "resource-based policy"
    if auth.resource_policy is not None:
        kind, identifier = auth.resource_policy
        resource_policy = source.resource_policy(kind, identifier)
        label = RESOURCE_POLICY_LABELS.get(kind, label)
    return evaluate(
        AccessRequest(principal, auth.action, auth.resource, context),
        identity,
        resource_policy,
        key_policy_required=auth.key_policy_required,
        resource_label=label,
    )


__all__ = ["RESOURCE_POLICY_LABELS", "CallDecision", "PolicySource", "authorize"]

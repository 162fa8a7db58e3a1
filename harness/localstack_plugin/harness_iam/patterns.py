"""Wildcard and ARN matching as IAM does it.

- Actions: `service:Name`, case-insensitive, `*` and `?` anywhere.
- Resources and the Arn* condition operators: case-sensitive; the five colons that
  separate `arn:partition:service:region:account:` split the ARN into six parts that
  are matched one by one, and a wildcard in the last part may span `/` and `:`.
- The String*Like operators: case-sensitive glob over the whole value.
"""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """`*` matches any run of characters (also none), `?` exactly one."""
    if pattern == "*":
        return True
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    """IAM actions compare case-insensitively: `S3:getobject` grants `s3:GetObject`."""
    return glob_match(pattern, action, ignore_case=True)


@lru_cache(maxsize=8192)
def _split_arn(value: str) -> tuple[str, ...] | None:
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return tuple(parts)


def arn_matches(pattern: str, arn: str) -> bool:
    """Match an ARN against an ARN pattern, part by part (ArnLike semantics)."""
    if pattern == "*":
        return True
    pattern_parts = _split_arn(pattern)
    arn_parts = _split_arn(arn)
    if arn_parts is None:
        # Not an ARN (a bare name, or "*" for actions without resource types).
        return glob_match(pattern, arn)
    if pattern_parts is None:
        # "arn:aws:sqs:*" has too few parts: a wildcard never spans a colon between parts.
        return False
    return all(glob_match(p, a) for p, a in zip(pattern_parts, arn_parts, strict=True))


def resource_matches(pattern: str, resource: str) -> bool:
    """The Resource element: like ArnLike, and `*` matches also non-ARN resources."""
    return arn_matches(pattern, resource)

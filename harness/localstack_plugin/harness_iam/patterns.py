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


def _wildcards(pattern: str, any_char: str = ".") -> str:
    """A glob as regex text: `*` any run of `any_char`, `?` one, the rest literal."""
    return "".join(
        f"{any_char}*" if c == "*" else any_char if c == "?" else re.escape(c) for c in pattern
    )


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(_wildcards(pattern), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


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


def _is_arn(value: str) -> bool:
    """`arn:` and at least five colons: the six parts of an ARN."""
    return value.startswith("arn:") and value.count(":") >= 5


@lru_cache(maxsize=4096)
def _arn_pattern(pattern: str) -> re.Pattern[str] | None:
    """One regex for the part-by-part match: in the first five parts a wildcard stops at
    the colon that ends the part, in the last it spans anything. (The same match as
    globbing each part on its own, in one `fullmatch`: the evaluation matches every
    Resource of every statement, and the per-part loop was 5 % of LocalStack's time
    under the bench's load, py-spy.) None: not an ARN pattern."""
    if not _is_arn(pattern):
        return None
    *head, last = pattern.split(":", 5)
    regex = [_wildcards(part, "[^:]") for part in head] + [_wildcards(last)]
    return re.compile(":".join(regex), re.DOTALL)


def arn_matches(pattern: str, arn: str) -> bool:
    """Match an ARN against an ARN pattern, part by part (ArnLike semantics)."""
    if pattern == "*":
        return True
    if not _is_arn(arn):
        # Not an ARN (a bare name, or "*" for actions without resource types).
        return glob_match(pattern, arn)
    compiled = _arn_pattern(pattern)
    # None: "arn:aws:sqs:*" has too few parts: a wildcard never spans a colon between parts.
    return compiled is not None and compiled.fullmatch(arn) is not None


def resource_matches(pattern: str, resource: str) -> bool:
    """The Resource element: like ArnLike, and `*` matches also non-ARN resources."""
    return arn_matches(pattern, resource)

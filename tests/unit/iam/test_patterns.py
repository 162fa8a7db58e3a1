"""ARN matching in one regex gives what matching part by part gives."""

from __future__ import annotations

import itertools
import random

import pytest
from harness_iam.patterns import arn_matches, glob_match


def part_by_part(pattern: str, arn: str) -> bool:
    """The definition (IAM's ArnLike): split both at their first five colons and glob
    each part on its own; an ARN pattern of fewer parts matches no ARN."""
    if pattern == "*":
        return True
    arn_parts = arn.split(":", 5)
    if len(arn_parts) != 6 or arn_parts[0] != "arn":
        return glob_match(pattern, arn)
    pattern_parts = pattern.split(":", 5)
    if len(pattern_parts) != 6 or pattern_parts[0] != "arn":
        return False
    return all(glob_match(p, a) for p, a in zip(pattern_parts, arn_parts, strict=True))


@pytest.mark.parametrize(
    ("pattern", "arn", "expected"),
    [
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c.jpg", True),  # last part spans
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::other/a.jpg", False),
        ("arn:aws:sqs:*:123456789012:q", "arn:aws:sqs:us-east-1:123456789012:q", True),
        ("arn:aws:sqs:*", "arn:aws:sqs:us-east-1:123456789012:q", False),  # too few parts
        ("arn:aws:*:us-east-1:*:*", "arn:aws:sns:us-east-1:1:t", True),
        ("arn:aws:s?s:*:*:t", "arn:aws:sns:r:1:t", True),
        ("arn:aws:s3:::b*", "arn:aws:s3:::b", True),
        ("arn:aws:s3:::b.c", "arn:aws:s3:::bxc", False),  # a dot is a dot
        ("arn:aws:iam::*", "arn:aws:iam::1:role/r", False),  # a wildcard never spans a part
        ("bucket-name", "bucket-name", True),  # not ARNs: a plain glob
        ("*", "anything", True),
    ],
)
def test_arn_patterns(pattern, arn, expected):
    assert arn_matches(pattern, arn) is expected
    assert part_by_part(pattern, arn) is expected


def test_random_arns_and_patterns_match_as_part_by_part():
    rng = random.Random(7)
    pieces = ["arn", "aws", "s3", "sqs", "", "us-east-1", "1", "b/k", "a:b", "*", "?", "x*y"]
    pieces += [".", "a.b", "+", "(", "[x]", "\\", "$", "|", "^", "{2}", "a\nb"]  # regex syntax
    values = [":".join(p) for p in itertools.product(pieces[:6], repeat=3)]
    values += [":".join(rng.choice(pieces) for _ in range(rng.randint(1, 8))) for _ in range(3000)]
    values = [v for v in values if v]
    checked = 0
    for _ in range(20000):
        pattern, arn = rng.choice(values), rng.choice(values).replace("*", "").replace("?", "")
        assert arn_matches(pattern, arn) is part_by_part(pattern, arn), (pattern, arn)
        checked += arn_matches(pattern, arn)
    assert checked > 100  # the sample has matches, not only misses

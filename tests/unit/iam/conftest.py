"""Tests of harness_iam, the IAM evaluator loaded into LocalStack's venv.

The package lives in harness/localstack_plugin/harness_iam and imports nothing of the
harness; its pure-Python part is tested here by putting its parent folder on sys.path.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

PLUGIN_DIR = Path(__file__).resolve().parents[3] / "harness" / "localstack_plugin"
if str(PLUGIN_DIR) not in sys.path:
    sys.path.insert(0, str(PLUGIN_DIR))

ACCOUNT = "000000000000"
REGION = "us-east-1"


@pytest.fixture
def labeler():
    from harness_iam import Principal

    return Principal.assumed_role(f"arn:aws:iam::{ACCOUNT}:role/imgpipe-labeler", "imgpipe-labeler")

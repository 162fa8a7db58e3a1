"""Checkov over infra/: zero failed checks, and every skip says why.

The scanner is pinned and isolated (harness/checkov.py) and runs offline. The
Terraform framework only, so the selection of checks does not move with whatever
else is in the tree.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.promote import checkov

INFRA = Path(__file__).resolve().parents[2] / "infra"
SKIP_COMMENT = re.compile(r"#\s*checkov:skip=([^\s:]+)(?::(.*))?")


@pytest.fixture(scope="module")
def report(harness_settings) -> dict:
    return checkov.scan(harness_settings, INFRA)


def test_the_scan_covers_every_module(report):
    assert report["summary"]["parsing_errors"] == 0
    scanned = {r["file_path"].split("/")[2] for r in report["results"]["passed_checks"]}
    modules = {p.name for p in (INFRA / "modules").iterdir() if any(p.glob("*.tf"))}
    assert modules <= scanned


def test_no_failed_checks(report):
    failed = [
        f"{f['check_id']} {f['resource']} ({f['file_path']}): {f['check_name']}"
        for f in report["results"]["failed_checks"]
    ]
    assert failed == [], "fix them, or skip with `#checkov:skip=<ID>:<reason>` in the resource"


def test_every_skip_has_a_reason(report):
    for skipped in report["results"]["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment") or ""
        assert len(reason.split()) >= 5, f"{skipped['check_id']} {skipped['resource']}: {reason!r}"


def test_skip_comments_are_well_formed():
    for path in sorted(INFRA.rglob("*.tf")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = SKIP_COMMENT.search(line)
            if match:
                where = f"{path.relative_to(INFRA)}:{number}"
                assert re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", match[1]), where
                assert match[2] and len(match[2].split()) >= 5, f"{where}: skip without reason"

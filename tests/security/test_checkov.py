"""Checkov over the whole repository, every framework: zero failed checks, and every skip
says why.

The scanner is pinned and isolated (harness/promote/checkov.py) and runs offline. It
scans the project root with all its frameworks (Terraform, Dockerfile, secrets in any
file, YAML, ...), less the folders git ignores because tools generate them.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from harness.promote import checkov

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
SKIP_COMMENT = re.compile(r"#\s*checkov:skip=([^\s:]+)(?::(.*))?")
# The two files that spell out the skip syntax itself.
DOCUMENTING_THE_SYNTAX = {ROOT / "harness/promote/checkov.py", Path(__file__).resolve()}


@pytest.fixture(scope="module")
def reports(harness_settings) -> dict[str, dict]:
    return checkov.scan_repository(harness_settings)


def test_the_whole_repository_is_scanned_with_every_framework(harness_settings):
    executable = Path("/x/checkov")
    args = checkov.command(executable, ROOT, checkov.FRAMEWORKS, checkov.GENERATED)
    assert args[:5] == [str(executable), "--directory", str(ROOT), "--framework", "all"]
    skipped = [args[i + 1] for i, arg in enumerate(args) if arg == "--skip-path"]
    assert skipped == [f"^{re.escape(str(ROOT / p))}$" for p in checkov.GENERATED]
    for path in checkov.GENERATED:  # only what git ignores is left out
        ignored = subprocess.run(["git", "check-ignore", "-q", f"{path}/"], cwd=ROOT, check=False)
        assert ignored.returncode == 0, f"{path} is not ignored by git: scan it"


def test_every_framework_with_files_here_ran(reports):
    assert {"terraform", "dockerfile", "secrets"} <= set(reports)
    assert all(r["summary"]["parsing_errors"] == 0 for r in reports.values())
    dockerfiles = {c["file_path"] for c in reports["dockerfile"]["results"]["passed_checks"]}
    assert dockerfiles == {"/Dockerfile"}


def test_the_scan_covers_every_module(reports):
    """Every module declaring resources is scanned (a composition module that only calls
    modules has nothing of its own to check: its resources are in the modules it calls)."""
    report = reports["terraform"]
    scanned = {
        r["file_path"].split("/")[3]
        for r in report["results"]["passed_checks"]
        if r["file_path"].startswith("/infra/modules/")
    }
    modules = {
        p.name
        for p in (INFRA / "modules").iterdir()
        if any(re.search(r'^resource\s+"', f.read_text(), re.M) for f in p.glob("*.tf"))
    }
    assert modules and modules <= scanned


def test_no_failed_checks(reports):
    failed = [
        f"{kind}: {f['check_id']} {f['resource']} ({f['file_path']}:{f['file_line_range'][0]}): "
        f"{f['check_name']}"
        for kind, report in sorted(reports.items())
        for f in report["results"]["failed_checks"]
    ]
    assert failed == [], "fix them, or skip with a `checkov:skip=<ID>:<reason>` comment there"


def test_every_skip_has_a_reason(reports):
    for kind, report in reports.items():
        for skipped in report["results"]["skipped_checks"]:
            reason = skipped["check_result"].get("suppress_comment") or ""
            where = f"{kind}: {skipped['check_id']} {skipped['file_path']}"
            assert len(reason.split()) >= 5, f"{where}: {reason!r}"


def _scanned_text_files():
    skipped = {ROOT / p for p in checkov.GENERATED}
    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT)
        if any(part.startswith(".") for part in relative.parts) or path in DOCUMENTING_THE_SYNTAX:
            continue
        if any(path.is_relative_to(s) for s in skipped) or not path.is_file():
            continue
        if path.suffix in (".tf", ".hcl", ".yml", ".yaml", ".json", ".py", ".sh") or (
            path.name.startswith("Dockerfile")
        ):
            yield path


def test_skip_comments_are_well_formed():
    found = 0
    for path in _scanned_text_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            match = SKIP_COMMENT.search(line)
            if match:
                found += 1
                where = f"{path.relative_to(ROOT)}:{number}"
                assert re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", match[1]), where
                assert match[2] and len(match[2].split()) >= 5, f"{where}: skip without reason"
    assert found > 0

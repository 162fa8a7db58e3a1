"""The emulator matrix on a real emulator, kept short.

In the default run only the cheap part runs: moto server, installed into its cached venv
if it is not there yet (once per machine), started by the external backend's server
kind, answering, and stopped (a few seconds once installed). The matrix itself, a real
Terraform apply onto moto with two probes (about 2-4 minutes on a loaded 2-core
machine), runs only with HARNESS_MATRIX_SMOKE=1; the full three-emulator matrix is
`harness matrix` (see README.md), never part of the test run.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from harness.config import Settings
from harness.matrix import sweep, table
from harness.runtime.backends import server_kinds
from harness.util.net import free_ports
from harness.util.processes import is_alive


def test_moto_server_starts_answers_and_stops(tmp_path: Path, monkeypatch) -> None:
    settings = Settings(backend="external", external_kind="moto", port=free_ports(1)[0])
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    record = server_kinds.start(settings, server_kinds.MOTO, progress=lambda m: None)
    try:
        assert server_kinds.MOTO.health(settings.endpoint) is not None
    finally:
        server_kinds.stop(settings, server_kinds.MOTO)
    assert not is_alive(record["pid"], record["create_time"])


@pytest.mark.skipif(
    os.environ.get("HARNESS_MATRIX_SMOKE") != "1",
    reason="a real deploy onto moto (minutes); opt in with HARNESS_MATRIX_SMOKE=1",
)
def test_a_one_emulator_matrix_is_a_valid_document(tmp_path: Path) -> None:
    base = replace(Settings(), external_endpoint=None)
    document = sweep.run(
        base, ["moto"], tmp_path / "state", [], only={"secrets_ssm", "scheduler"}, progress=print
    )
    table.validate(document)
    (column,) = document["backends"]
    assert column["outcome"] in table.OUTCOMES
    assert column["speed"]["cold_start_s"] > 0
    if column["outcome"] == "deploy failed":
        assert "terraform" in column["error"].lower()  # the evidence is the apply's tail
    else:
        assert {row["name"] for row in column["behaviours"]} == {"secrets_ssm", "scheduler"}
    table.write(document, tmp_path / "out")

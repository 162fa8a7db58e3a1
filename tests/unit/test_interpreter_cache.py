"""`lambda_runtimes.find_interpreter` searches once per process for what it finds, and
never remembers a "none": an interpreter that appears later is found."""

from __future__ import annotations

import sys

import pytest

from harness.runtime import lambda_runtimes
from harness.util.errors import HarnessError

OWN = f"python{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture
def probes(monkeypatch):
    """Counts the interpreters started to ask their version; the cache starts empty."""
    started: list[str] = []
    real = lambda_runtimes._version_of

    def counted(executable: str) -> str | None:
        started.append(executable)
        return real(executable)

    monkeypatch.setattr(lambda_runtimes, "_version_of", counted)
    monkeypatch.delenv(f"HARNESS_LAMBDA_{OWN.upper().replace('.', '_')}", raising=False)
    lambda_runtimes.clear_cache()
    yield started
    lambda_runtimes.clear_cache()


def test_a_found_interpreter_is_not_searched_for_again(probes):
    found = lambda_runtimes.find_interpreter(OWN)
    assert found is not None and probes
    searched = len(probes)
    assert lambda_runtimes.find_interpreter(OWN) == found
    assert len(probes) == searched, "the second call started no interpreter"
    lambda_runtimes.clear_cache()
    assert lambda_runtimes.find_interpreter(OWN) == found
    assert len(probes) > searched, "after clear_cache it searches again"


def test_an_interpreter_that_appears_later_is_found(probes, monkeypatch):
    candidates = {"now": []}
    monkeypatch.setattr(lambda_runtimes, "_candidates", lambda runtime: candidates["now"])
    assert lambda_runtimes.find_interpreter(OWN) is None
    candidates["now"] = [sys.executable]  # installed meanwhile, in this same process
    assert lambda_runtimes.find_interpreter(OWN) == sys.executable


def test_what_the_search_reads_is_part_of_what_is_remembered(probes, monkeypatch, tmp_path):
    found = lambda_runtimes.find_interpreter(OWN)
    variable = f"HARNESS_LAMBDA_{OWN.upper().replace('.', '_')}"
    monkeypatch.setenv(variable, str(tmp_path / "missing" / OWN))
    with pytest.raises(HarnessError, match=variable):
        lambda_runtimes.find_interpreter(OWN)  # a new override is checked, not skipped
    monkeypatch.delenv(variable)
    searched = len(probes)
    assert lambda_runtimes.find_interpreter(OWN) == found
    assert len(probes) == searched


def test_a_remembered_interpreter_that_went_away_is_searched_for_again(
    probes, monkeypatch, tmp_path
):
    fake = tmp_path / OWN  # answers the version question like the real one
    fake.write_text(f"#!/bin/sh\necho {OWN}\n")
    fake.chmod(0o755)
    monkeypatch.setattr(lambda_runtimes, "_candidates", lambda runtime: [str(fake), sys.executable])
    assert lambda_runtimes.find_interpreter(OWN) == str(fake)
    fake.unlink()
    assert lambda_runtimes.find_interpreter(OWN) == sys.executable

"""Settings, process records, interpreter choice and packaging: no LocalStack needed."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness import config
from harness.build import packaging
from harness.runtime import lambda_runtimes, localstack
from harness.util.errors import HarnessError
from harness.util.processes import ProcessRecords, is_alive

PLUGIN = Path(__file__).resolve().parents[2] / "harness" / "localstack_plugin"
sys.path.insert(0, str(PLUGIN))
from harness_lambda_executor import interpreters  # noqa: E402


def test_settings_defaults_and_overrides(monkeypatch, tmp_path):
    monkeypatch.delenv("HARNESS_PORT", raising=False)
    assert config.load().endpoint == "http://127.0.0.1:4566"
    monkeypatch.setenv("HARNESS_PORT", "4999")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    settings = config.load()
    assert settings.endpoint == "http://127.0.0.1:4999"
    assert settings.cache_dir == tmp_path


def test_bad_port_value_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HARNESS_PORT", "forty")
    with pytest.raises(HarnessError, match="HARNESS_PORT='forty' is not a whole number"):
        config.load()


def test_port_in_use_fails_fast_with_what_to_do(monkeypatch, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("HARNESS_PORT", str(port))
        monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path))
        with pytest.raises(HarnessError, match=f"port {port} .* in use.*HARNESS_PORT"):
            localstack.start(config.load(), progress=lambda m: None)


def test_missing_pins_file_names_the_settings_to_use(monkeypatch):
    monkeypatch.setenv("HARNESS_LOCALSTACK_VERSION", "9.9.9")
    with pytest.raises(HarnessError, match="HARNESS_LOCALSTACK_PINS"):
        localstack.venv_dir(config.load())


def test_broken_pins_fail_with_pip_output(monkeypatch, tmp_path):
    pins = tmp_path / "pins.txt"
    pins.write_text("localstack-core==0.0.1\n")  # contradicts the version asked for
    monkeypatch.setenv("HARNESS_LOCALSTACK_PINS", str(pins))
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(HarnessError, match=r"installing LocalStack 4\.13\.1 failed") as info:
        localstack.ensure_installed(config.load(), progress=lambda m: None)
    assert "Check the pins file" in str(info.value)
    # Nothing half-built is left looking ready.
    assert not list((tmp_path / "cache" / "localstack").glob("*/.harness-complete"))


def test_explicit_interpreter_override_must_work(monkeypatch):
    monkeypatch.setenv("HARNESS_LAMBDA_PYTHON3_12", "/nonexistent/python3.12")
    with pytest.raises(HarnessError, match=r"HARNESS_LAMBDA_PYTHON3_12=/nonexistent/python3\.12"):
        lambda_runtimes.find_interpreter("python3.12")


def test_non_python_runtime_is_rejected():
    with pytest.raises(HarnessError, match=r"unsupported Lambda runtime 'nodejs20\.x'"):
        lambda_runtimes.find_interpreter("nodejs20.x")


def test_own_interpreter_is_found_for_its_runtime(monkeypatch):
    own = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    monkeypatch.delenv(f"HARNESS_LAMBDA_{own.upper().replace('.', '_')}", raising=False)
    found = lambda_runtimes.find_interpreter(own)
    assert found is not None
    out = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
    assert out.startswith(f"Python {sys.version_info[0]}.{sys.version_info[1]}")


def test_executor_picks_exact_then_closest_runtime(tmp_path):
    py311, py312 = tmp_path / "py311", tmp_path / "py312"
    py311.touch()
    py312.touch()
    mapping = {"python3.11": str(py311), "python3.12": str(py312)}
    assert interpreters.resolve("python3.12", mapping).path == str(py312)
    assert interpreters.resolve("python3.12", mapping).warning is None
    fallback = interpreters.resolve("python3.13", mapping)
    assert fallback.runtime == "python3.12"
    assert "no python3.13 interpreter" in fallback.warning
    with pytest.raises(ValueError, match="Python runtimes only"):
        interpreters.resolve("nodejs20.x", mapping)
    with pytest.raises(ValueError, match=r"no local interpreter for python3\.12"):
        interpreters.resolve("python3.12", {})


def test_executor_reads_the_map_the_harness_passes(monkeypatch, tmp_path):
    exe = tmp_path / "python"
    exe.touch()
    monkeypatch.setenv(
        interpreters.ENV_VAR, json.dumps({"python3.12": str(exe), "python3.9": "/gone"})
    )
    assert interpreters.available() == {"python3.12": str(exe)}


def test_process_records_ignore_dead_and_reused_pids(tmp_path):
    records = ProcessRecords(tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True
    )
    try:
        records.record("sleeper", child.pid)
        assert records.get("sleeper")["pid"] == child.pid
        assert is_alive(child.pid)
        assert not is_alive(child.pid, create_time=1.0)  # same pid, other start time
        assert records.stop("sleeper", timeout=5)
        assert child.wait(timeout=5) is not None
        assert records.get("sleeper") is None
        assert not records.stop("sleeper")
    finally:
        if child.poll() is None:
            child.kill()


def test_zips_are_reproducible(tmp_path):
    src = tmp_path / "fn"
    (src / "pkg").mkdir(parents=True)
    (src / "app.py").write_text("def handler(e, c):\n    return 1\n")
    (src / "pkg" / "__init__.py").write_text("X = 1\n")
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"junk")
    first = packaging.zip_dirs(tmp_path / "a.zip", src)
    (src / "app.py").touch()  # a new mtime must not change the zip
    second = packaging.zip_dirs(tmp_path / "b.zip", src)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == ["app.py", "pkg/__init__.py"]
    (src / "app.py").write_text("def handler(e, c):\n    return 2\n")
    third = packaging.zip_dirs(tmp_path / "c.zip", src)
    assert packaging.sha256_base64(third) != packaging.sha256_base64(first)


def test_local_zips_are_built_for_the_python_that_will_run_them(monkeypatch):
    """No python3.12 here: the executor falls back to another interpreter, so the zips
    must carry that interpreter's wheels (Pillow's compiled module is per version)."""
    import sys

    from harness import config
    from harness.runtime import lambda_runtimes

    monkeypatch.delenv("HARNESS_LAMBDA_BUILD_PYTHON", raising=False)
    monkeypatch.delenv("HARNESS_LAMBDA_BUILD_ARCH", raising=False)
    monkeypatch.setenv("HARNESS_LAMBDA_RUNTIMES", "python3.12")
    own = f"{sys.version_info[0]}.{sys.version_info[1]}"

    monkeypatch.setattr(lambda_runtimes, "find_interpreter", lambda runtime: None)
    assert lambda_runtimes.build_python(config.load()) == own
    monkeypatch.setattr(lambda_runtimes, "find_interpreter", lambda runtime: "/opt/py312")
    assert lambda_runtimes.build_python(config.load()) == "3.12"
    monkeypatch.setenv("HARNESS_LAMBDA_BUILD_PYTHON", "3.11")
    assert lambda_runtimes.build_python(config.load()) == "3.11"  # explicit wins
    assert config.load().lambda_build_architecture in ("x86_64", "arm64")  # native

"""The cached venvs' installer: uv by default, pip when chosen or when uv fails."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness.util import venvs
from harness.util.errors import HarnessError

PYTHON = "/some/venv/bin/python"


def _wheel(folder: Path, name: str = "tinypkg", version: str = "0.1") -> Path:
    """A minimal pure-Python wheel, so that a real install needs no index."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "VALUE = 42\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = "".join(f"{n},,\n" for n in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
        archive.writestr(f"{info}/RECORD", record)
    return path


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_venv_is_built_by_the_chosen_installer_and_its_code_is_compiled(
    tmp_path, monkeypatch, installer
):
    monkeypatch.setenv(venvs.INSTALLER_ENV, installer)
    wheel = _wheel(tmp_path)
    target = tmp_path / "venv"
    said: list[str] = []
    assert venvs.build_venv(target, sys.executable, [["--no-index", str(wheel)]], said.append)
    python = target / "bin" / "python"
    imported = subprocess.run(
        [python, "-c", "import tinypkg; print(tinypkg.VALUE, tinypkg.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert imported[0] == "42"
    package = Path(imported[1]).parent
    assert (package.parent / "tinypkg-0.1.dist-info" / "INSTALLER").read_text().strip() == (
        installer
    )
    assert list((package / "__pycache__").glob("__init__.*.pyc")), "bytecode not compiled"
    assert not any("trying pip" in line for line in said), said
    assert not venvs.build_venv(target, sys.executable, [["--no-index", str(wheel)]])  # cached


def test_pips_variables_for_where_packages_come_from_are_given_to_uv():
    env = {
        "PIP_NO_INDEX": "yes",
        "PIP_INDEX_URL": "https://mirror.example/simple",
        "PIP_EXTRA_INDEX_URL": "https://a.example/simple https://b.example/simple",
        "PIP_FIND_LINKS": "/wheels/one /wheels/two",
    }
    assert venvs.uv_options(env) == [
        "--no-index",
        "--index-url",
        "https://mirror.example/simple",
        "--extra-index-url",
        "https://a.example/simple",
        "--extra-index-url",
        "https://b.example/simple",
        "--find-links",
        "/wheels/one",
        "--find-links",
        "/wheels/two",
    ]
    assert venvs.uv_options({"PIP_NO_INDEX": "0"}) == []


def test_uv_is_the_default_and_pip_is_chosen_by_name(monkeypatch):
    monkeypatch.delenv(venvs.INSTALLER_ENV, raising=False)
    uv = venvs.installer_command(PYTHON)
    assert Path(uv[0]).name == "uv" and uv[1:6] == ["pip", "install", "--quiet", "--python", PYTHON]
    monkeypatch.setenv(venvs.INSTALLER_ENV, "pip")
    assert venvs.installer_command(PYTHON)[:4] == [PYTHON, "-m", "pip", "install"]


def test_what_uv_cannot_install_is_tried_again_with_pip(monkeypatch):
    """uv reads no pip.conf: a private index set only there is pip's to reach."""
    monkeypatch.delenv(venvs.INSTALLER_ENV, raising=False)
    monkeypatch.setenv("PIP_CERT", "/etc/corp-ca.pem")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    ran: list[tuple[list[str], dict | None]] = []

    def run(cmd, what, env=None):
        ran.append((cmd, env))
        if Path(cmd[0]).name == "uv":
            raise HarnessError("installing x failed:\nNo solution found: no index has privpkg")

    monkeypatch.setattr(venvs, "_run", run)
    said: list[str] = []
    venvs.install(PYTHON, ["privpkg==1.0"], "x", said.append)
    (uv_cmd, uv_env), (pip_cmd, _) = ran
    assert uv_cmd[-1] == pip_cmd[-1] == "privpkg==1.0"
    assert uv_env["SSL_CERT_FILE"] == "/etc/corp-ca.pem"  # pip's CA file, for uv too
    assert pip_cmd[:5] == [sys.executable, "-m", "pip", "--python", PYTHON]  # uv's venv: no pip
    assert said == ["uv could not install x; trying pip: No solution found: no index has privpkg"]


def test_a_failure_of_both_installers_is_raised_with_pips_output(monkeypatch):
    monkeypatch.delenv(venvs.INSTALLER_ENV, raising=False)

    def run(cmd, what, env=None):
        raise HarnessError(f"{cmd[0]} failed")

    monkeypatch.setattr(venvs, "_run", run)
    with pytest.raises(HarnessError, match=f"^{sys.executable} failed"):
        venvs.install(PYTHON, ["nothing"], "x", lambda line: None)

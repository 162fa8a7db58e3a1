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


def test_a_venv_uv_made_takes_a_later_install_by_pip(tmp_path, monkeypatch):
    """HARNESS_INSTALLER=pip on a cached venv that uv made (no pip in it): the harness's
    own pip installs into it."""
    monkeypatch.setenv(venvs.INSTALLER_ENV, "uv")
    target = tmp_path / "venv"
    venvs.build_venv(target, sys.executable, [["--no-index", str(_wheel(tmp_path))]])
    python = str(target / "bin" / "python")
    assert venvs.pip_command(python)[:5] == [sys.executable, "-m", "pip", "--python", python]
    monkeypatch.setenv(venvs.INSTALLER_ENV, "pip")
    later = tmp_path / "later"
    later.mkdir()
    venvs.install(python, ["--no-index", str(_wheel(later, "laterpkg"))], "later", print)
    shown = subprocess.run([python, "-c", "import laterpkg"], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr


def test_pips_variables_for_where_packages_come_from_are_given_to_uv():
    env = {
        "PIP_NO_INDEX": "yes",
        "PIP_INDEX_URL": "https://mirror.example/simple",
        "PIP_EXTRA_INDEX_URL": "https://a.example/simple  https://b.example/simple",
        "PIP_FIND_LINKS": "/wheels/one /wheels/two",
        "PIP_CONSTRAINT": "/etc/caps.txt",
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
        "--constraint",
        "/etc/caps.txt",
    ]
    assert venvs.uv_options({"PIP_NO_INDEX": "0"}) == []
    assert venvs.uv_options({"PIP_NO_INDEX": "t"}) == ["--no-index"]


def test_uv_is_the_default_pip_is_chosen_by_name_and_anything_else_is_refused(monkeypatch):
    monkeypatch.delenv(venvs.INSTALLER_ENV, raising=False)
    uv = venvs._uv_binary()
    assert uv and Path(uv).name == "uv"
    assert venvs.uv_command(uv, PYTHON)[1:6] == ["pip", "install", "--quiet", "--python", PYTHON]
    monkeypatch.setenv(venvs.INSTALLER_ENV, "pip")
    assert venvs._uv_binary() is None
    monkeypatch.setenv(venvs.INSTALLER_ENV, "poetry")
    with pytest.raises(HarnessError, match="HARNESS_INSTALLER='poetry': use one of uv, pip"):
        venvs._uv_binary()


def _failing(fails: str, ran: list):
    """A `_run` whose `fails` installer ("uv", "pip" or "both") fails as a real one does."""

    def run(cmd, what, env=None):
        ran.append((cmd, env))
        installer = "uv" if Path(cmd[0]).name == "uv" else "pip"
        if fails in (installer, "both"):
            output = f"Resolving...\n  x No solution found: {installer} saw no privpkg\n"
            raise venvs.InstallFailed(what, cmd, output)

    return run


def test_what_uv_cannot_install_is_tried_again_with_pip(monkeypatch):
    """uv reads no pip.conf: a private index set only there is pip's to reach."""
    monkeypatch.delenv(venvs.INSTALLER_ENV, raising=False)
    monkeypatch.setenv("PIP_CERT", "/etc/corp-ca.pem")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    ran: list = []
    monkeypatch.setattr(venvs, "_run", _failing("uv", ran))
    said: list[str] = []
    venvs.install(sys.executable, ["privpkg==1.0"], "x", said.append)
    (uv_cmd, uv_env), (pip_cmd, _) = ran
    assert uv_cmd[-1] == pip_cmd[-1] == "privpkg==1.0"
    assert uv_env["SSL_CERT_FILE"] == "/etc/corp-ca.pem"  # pip's CA file, for uv too
    assert pip_cmd[:3] == [sys.executable, "-m", "pip"]
    # why uv failed, not the advice every failure ends with
    assert said == ["uv could not install x; trying pip: x No solution found: uv saw no privpkg"]


def test_a_failure_of_both_installers_is_raised_with_pips_output(monkeypatch):
    monkeypatch.delenv(venvs.INSTALLER_ENV, raising=False)
    ran: list = []
    monkeypatch.setattr(venvs, "_run", _failing("both", ran))
    with pytest.raises(venvs.InstallFailed, match="pip saw no privpkg\nCheck the pins"):
        venvs.install(sys.executable, ["privpkg"], "x", lambda line: None)
    assert len(ran) == 2


def test_a_pip_variable_uv_would_not_follow_makes_pip_install(monkeypatch):
    monkeypatch.delenv(venvs.INSTALLER_ENV, raising=False)
    monkeypatch.setenv("PIP_TRUSTED_HOST", "mirror.example")
    ran: list = []
    monkeypatch.setattr(venvs, "_run", _failing("none", ran))
    said: list[str] = []
    venvs.install(sys.executable, ["pkg"], "x", said.append)
    assert [cmd[:3] for cmd, _ in ran] == [[sys.executable, "-m", "pip"]]
    assert said == ["pip installs x: uv would not follow PIP_TRUSTED_HOST"]

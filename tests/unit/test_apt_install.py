"""`harness.util.packages.apt_install`, the one apt-get of the harness, without running
apt-get: who runs it (root, sudo, nobody), the retry after `apt-get update`, and what a
failure says. The callers (Docker engine, MariaDB, Chromium) keep their own messages."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest

from harness.util import packages
from harness.util.errors import HarnessError


class FakeApt:
    """Stands in for subprocess.run: `install` fails the first `failures` times."""

    def __init__(self, failures: int = 0, timeout: bool = False) -> None:
        self.failures, self.timeout = failures, timeout
        self.commands: list[list[str]] = []
        self.kwargs: list[dict] = []

    def __call__(self, command: list[str], **kwargs) -> SimpleNamespace:
        self.commands.append(command)
        self.kwargs.append(kwargs)
        if self.timeout:
            raise subprocess.TimeoutExpired(command, kwargs["timeout"])
        failed = "install" in command and self.failures > 0
        self.failures -= failed
        return SimpleNamespace(
            returncode=100 if failed else 0,
            stdout="Reading package lists...\n",
            stderr="E: Unable to locate package docker.io\n" if failed else "",
        )


@pytest.fixture
def apt(monkeypatch):
    def make(failures: int = 0, euid: int = 0, sudo: bool = True, timeout: bool = False):
        fake = FakeApt(failures, timeout)
        monkeypatch.setattr(packages.subprocess, "run", fake)
        monkeypatch.setattr(packages.os, "geteuid", lambda: euid)
        real_which = packages.shutil.which
        monkeypatch.setattr(
            packages.shutil,
            "which",
            lambda name, *a, **k: (
                ("/usr/bin/sudo" if sudo else None) if name == "sudo" else real_which(name, *a, **k)
            ),
        )
        return fake

    return make


def test_root_installs_without_sudo_questions_or_recommends(apt):
    fake = apt()
    said: list[str] = []
    packages.apt_install(["docker.io", "debootstrap"], progress=said.append)
    (command,) = fake.commands
    assert command == [
        "apt-get",
        "-q",
        "-o",
        "DPkg::Lock::Timeout=300",
        "install",
        "-y",
        "--no-install-recommends",
        "docker.io",
        "debootstrap",
    ]
    (kwargs,) = fake.kwargs
    assert kwargs["env"]["DEBIAN_FRONTEND"] == "noninteractive"
    assert kwargs["stdin"] == subprocess.DEVNULL and kwargs["capture_output"] is True
    assert said == []


def test_a_user_with_sudo_installs_through_password_less_sudo(apt):
    fake = apt(euid=1000)
    packages.apt_install(["chromium"], progress=print, recommends=True, show_output=True)
    (command,) = fake.commands
    # sudo resets the environment: the non-interactive frontend goes on its command line
    assert command[:6] == ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q"]
    assert command[-3:] == ["install", "-y", "chromium"]
    assert fake.kwargs[0]["capture_output"] is False  # the user sees a long install


def test_a_user_without_root_or_sudo_is_told_so(apt):
    fake = apt(euid=1000, sudo=False)
    with pytest.raises(packages.AptFailed, match="needs root or sudo"):
        packages.apt_install(["mariadb-server"], progress=print)
    assert fake.commands == []
    assert packages.privilege() is None


def test_a_failed_install_is_tried_again_after_updating_the_lists(apt):
    fake = apt(failures=1)
    said: list[str] = []
    packages.apt_install(["mariadb-server"], progress=said.append)
    assert [c[4] for c in fake.commands] == ["install", "update", "install"]
    assert said == ["apt-get install failed; updating the package lists and trying again ..."]


def test_a_second_failure_names_the_command_and_what_apt_said(apt):
    apt(failures=2)
    with pytest.raises(HarnessError) as caught:
        packages.apt_install(["docker.io"], progress=lambda _: None)
    message = str(caught.value)
    assert isinstance(caught.value, packages.AptFailed)
    assert message.startswith("`apt-get -q -o DPkg::Lock::Timeout=300 install -y ")
    assert "failed (exit 100):" in message
    assert message.endswith("E: Unable to locate package docker.io")


def test_with_its_output_shown_a_failure_points_at_it(apt):
    apt(failures=2)
    with pytest.raises(packages.AptFailed, match="see its output above"):
        packages.apt_install(["chromium"], progress=lambda _: None, show_output=True)


def test_an_install_that_hangs_is_an_error_not_a_traceback(apt):
    apt(timeout=True)
    with pytest.raises(packages.AptFailed, match=r"did not finish within 5 s"):
        packages.apt_install(["chromium"], progress=lambda _: None, timeout=5)


# --- the callers keep their own messages ------------------------------------------------


def refuse(names, **_kwargs):
    raise packages.AptFailed(f"`apt-get install {' '.join(names)}` failed (exit 100):\nE: no")


def test_the_docker_engine_says_it_is_unavailable(monkeypatch):
    from harness.runtime import engine

    monkeypatch.setattr(engine.shutil, "which", lambda name: None)
    monkeypatch.setattr(engine, "apt_install", refuse)
    with pytest.raises(
        engine.EngineUnavailable, match=r"install debootstrap docker-compose docker\.io"
    ):
        engine.install(progress=lambda _: None)


def test_mariadb_adds_what_to_do_instead(monkeypatch, tmp_path):
    from harness import config
    from harness.runtime import mariadb

    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(mariadb, "binaries", lambda: None)
    monkeypatch.setattr(mariadb.os, "geteuid", lambda: 0)
    monkeypatch.setattr(mariadb.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(mariadb, "apt_install", refuse)
    with pytest.raises(HarnessError) as caught:
        mariadb.ensure_installed(config.load(), progress=lambda _: None)
    assert str(caught.value).startswith("`apt-get install mariadb-server` failed")
    assert str(caught.value).endswith(mariadb.INSTALL_HINT)


def test_chromium_says_it_could_not_be_installed(monkeypatch):
    from harness.observe import browser

    monkeypatch.setattr(browser, "find", lambda: None)
    monkeypatch.setattr(browser.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(browser, "privilege", lambda: [])
    monkeypatch.setattr(browser, "apt_install", refuse)
    with pytest.raises(HarnessError, match=r"^Chromium could not be installed: `apt-get"):
        browser.ensure()
    monkeypatch.setattr(browser, "privilege", lambda: None)
    with pytest.raises(HarnessError, match=r"run `sudo apt-get install -y chromium`"):
        browser.ensure()

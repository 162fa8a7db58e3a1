"""What the harness does differently for a non-root user, without one.

tests/e2e/test_nonroot_user.py runs MariaDB and Chromium as a real unprivileged user;
these check the choices it cannot reach on one machine: the sandbox fallback where
Chromium has no usable sandbox, and the installer's arguments for root and non-root.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness import config
from harness.observe import browser
from harness.runtime import mariadb

FAKE_CHROMIUM = """#!/bin/sh
echo "$* HOME=$HOME XDG_CACHE_HOME=$XDG_CACHE_HOME" >> "{calls}"
case " $* " in
  *" --no-sandbox "*) echo "<html><body>ok</body></html>" ;;
  *) {sandbox} ;;
esac
"""


def fake_chromium(tmp_path: Path, monkeypatch, sandbox_works: bool) -> Path:
    calls = tmp_path / "calls.txt"
    sandboxed = (
        'echo "<html><body>ok</body></html>"'
        if sandbox_works
        else 'echo "FATAL: No usable sandbox! ..." >&2; exit 1'
    )
    program = tmp_path / "chromium"
    program.write_text(FAKE_CHROMIUM.format(calls=calls, sandbox=sandboxed))
    program.chmod(0o755)
    monkeypatch.setenv("HARNESS_CHROMIUM", str(program))
    return calls


@pytest.mark.parametrize(
    ("euid", "sandbox_works", "runs"),
    [
        (0, True, ["--no-sandbox"]),  # Chromium refuses root with its sandbox
        (1000, True, ["sandboxed"]),
        (1000, False, ["sandboxed", "--no-sandbox"]),  # e.g. no user namespaces
    ],
)
def test_chromium_keeps_its_sandbox_for_other_users_where_it_can(
    tmp_path, monkeypatch, euid, sandbox_works, runs
):
    calls = fake_chromium(tmp_path, monkeypatch, sandbox_works)
    monkeypatch.setattr(browser.os, "geteuid", lambda: euid)
    monkeypatch.setenv("HOME", "/root")  # what `runuser`/`su` may leave behind

    assert "ok" in browser.dump_dom("file:///page.html")

    lines = calls.read_text().splitlines()
    assert ["--no-sandbox" if "--no-sandbox" in line else "sandboxed" for line in lines] == runs
    for line in lines:
        home = line.split(" HOME=")[1].split()[0]
        assert home != "/root" and "harness-chromium-" in home
        assert f"XDG_CACHE_HOME={home}/.cache" in line


@pytest.mark.parametrize("euid", [0, 1000])
def test_the_installer_names_the_socket_account_after_the_os_user(tmp_path, monkeypatch, euid):
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(mariadb.os, "geteuid", lambda: euid)
    monkeypatch.setattr(mariadb, "os_user", lambda: "root" if euid == 0 else "ci")
    commands: list[list[str]] = []

    def run(cmd, **kwargs):
        commands.append(cmd)
        Path(cmd[2].removeprefix("--datadir=")).mkdir(parents=True)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(mariadb.subprocess, "run", run)
    settings = config.load()
    mariadb.base_dir(settings).mkdir(parents=True)

    mariadb._initialise("mariadb-install-db", settings, lambda _: None)

    (cmd,) = commands
    assert "--auth-root-authentication-method=socket" in cmd
    assert f"--auth-root-socket-user={'root' if euid == 0 else 'ci'}" in cmd
    assert ("--user=root" in cmd) == (euid == 0)  # only root may (and must) name a user
    assert (mariadb.base_dir(settings) / "data").is_dir()


def test_os_user_is_the_effective_user_not_the_environment(monkeypatch):
    monkeypatch.setenv("USER", "someone-else")
    assert mariadb.os_user() == mariadb.pwd.getpwuid(mariadb.os.geteuid()).pw_name

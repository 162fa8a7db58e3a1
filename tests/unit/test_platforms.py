"""Image platforms (harness/runtime/platforms.py) and the one-layer base image's
configuration (harness/runtime/engine.py), without Docker or QEMU: binfmt_misc is a
folder of this test's."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from harness.runtime import engine, platforms
from harness.util.errors import HarnessError

ARM64 = platforms.parse("linux/arm64")
AMD64 = platforms.parse("linux/amd64")
ENABLED_WITH_F = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n"


@pytest.mark.parametrize("name", ["linux/arm64", "arm64", "aarch64", "linux/arm64/v8", " ARM64 "])
def test_every_spelling_of_arm64_is_one_platform(name):
    assert platforms.parse(name) == ARM64


def test_a_platform_has_each_tools_name_for_it():
    assert (ARM64.docker, ARM64.debian, ARM64.machine, ARM64.lambda_architecture) == (
        "linux/arm64",
        "arm64",
        "aarch64",
        "arm64",
    )
    assert (AMD64.machine, AMD64.lambda_architecture) == ("x86_64", "x86_64")
    assert (ARM64.variant, AMD64.variant) == ("v8", "")


def test_a_machine_not_listed_is_still_native(monkeypatch):
    monkeypatch.setattr(platforms.platform, "machine", lambda: "s390x")
    assert platforms.native() == platforms.Platform("linux/s390x", "s390x", "s390x", "s390x")
    assert platforms.native().is_native and not AMD64.is_native


def test_an_unknown_platform_names_the_known_ones():
    with pytest.raises(HarnessError, match=r"'riscv64'.*linux/amd64, linux/arm64"):
        platforms.parse("riscv64")


@pytest.fixture
def binfmt(tmp_path, monkeypatch):
    """binfmt_misc as a folder of the test's, on an amd64 machine."""
    monkeypatch.setattr(platforms, "BINFMT_DIR", tmp_path)
    monkeypatch.setattr(platforms.platform, "machine", lambda: "x86_64")
    return tmp_path


def test_the_machines_own_platform_always_runs(binfmt):
    assert platforms.native() == AMD64 and AMD64.is_native and not ARM64.is_native
    assert platforms.why_not_runnable(AMD64) is None  # no entry needed


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (None, r"no binfmt_misc entry .*qemu-aarch64"),
        ("disabled\nflags: PF\n", r"qemu-aarch64 is disabled"),
        ("enabled\nflags: P\n", r"lacks the F flag"),
        (ENABLED_WITH_F, None),
    ],
)
def test_a_foreign_platform_runs_only_with_an_enabled_entry_flagged_f(binfmt, entry, reason):
    if entry is not None:
        (binfmt / "qemu-aarch64").write_text(entry)
    said = platforms.why_not_runnable(ARM64)
    if reason is None:
        assert said is None
    else:
        assert said is not None and re.search(reason, said), said


def test_registering_needs_root_and_says_so(binfmt, monkeypatch):
    monkeypatch.setattr(platforms.os, "geteuid", lambda: 1000)
    with pytest.raises(platforms.EmulationUnavailable, match=r"no binfmt_misc entry.*needs root"):
        platforms.ensure_runnable(ARM64, progress=lambda _: None)


class Commands:
    """`subprocess` as platforms.py sees it: each command recorded, each answered by
    `answer(command)` (a CompletedProcess)."""

    def __init__(self, answer):
        self.ran: list[list[str]] = []
        self.answer = answer

    def run(self, command, **kwargs):
        self.ran.append(command)
        return self.answer(command)


def done(command, code=0, stderr=""):
    return subprocess.CompletedProcess(command, code, stdout="", stderr=stderr)


def test_a_binfmt_misc_that_cannot_be_mounted_is_the_reason_given(binfmt, monkeypatch):
    monkeypatch.setattr(platforms.os, "geteuid", lambda: 0)
    commands = Commands(lambda command: done(command, 32, "mount: permission denied"))
    monkeypatch.setattr(platforms, "subprocess", commands)
    with pytest.raises(platforms.EmulationUnavailable, match=r"mounting binfmt_misc failed: mount"):
        platforms.ensure_runnable(ARM64, progress=lambda _: None)
    assert commands.ran == [["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt)]]


def test_a_failed_install_of_qemu_is_the_reason_given(binfmt, monkeypatch):
    (binfmt / "register").write_text("")  # mounted
    monkeypatch.setattr(platforms.os, "geteuid", lambda: 0)

    def refuse(packages, progress):
        raise platforms.AptFailed(f"apt-get install {' '.join(packages)} failed: no network")

    monkeypatch.setattr(platforms, "apt_install", refuse)
    with pytest.raises(platforms.EmulationUnavailable, match=r"qemu-user-static binfmt-support"):
        platforms.ensure_runnable(ARM64, progress=lambda _: None)


def test_an_install_that_registers_the_entry_makes_the_platform_runnable(binfmt, monkeypatch):
    (binfmt / "register").write_text("")
    monkeypatch.setattr(platforms.os, "geteuid", lambda: 0)
    installed = []

    def install(packages, progress):
        installed.extend(packages)
        (binfmt / "qemu-aarch64").write_text(ENABLED_WITH_F)

    monkeypatch.setattr(platforms, "apt_install", install)
    commands = Commands(done)
    monkeypatch.setattr(platforms, "subprocess", commands)
    platforms.ensure_runnable(ARM64, progress=lambda _: None)
    assert installed == list(platforms.EMULATION_PACKAGES)
    assert commands.ran == [["update-binfmts", "--enable", "qemu-aarch64"]]


def test_an_install_that_registers_nothing_says_what_update_binfmts_said(binfmt, monkeypatch):
    (binfmt / "register").write_text("")
    monkeypatch.setattr(platforms.os, "geteuid", lambda: 0)
    monkeypatch.setattr(platforms, "apt_install", lambda packages, progress: None)
    commands = Commands(lambda command: done(command, 2, "qemu-aarch64 not in database"))
    monkeypatch.setattr(platforms, "subprocess", commands)
    with pytest.raises(
        platforms.EmulationUnavailable,
        match=r"no binfmt_misc entry.*even after installing.*qemu-aarch64 not in database",
    ):
        platforms.ensure_runnable(ARM64, progress=lambda _: None)


def test_the_base_images_configuration_names_its_platform_and_its_layer():
    config = engine.image_config("ab" * 32, ARM64)
    assert (config["architecture"], config["variant"], config["os"]) == ("arm64", "v8", "linux")
    assert config["rootfs"] == {"type": "layers", "diff_ids": [f"sha256:{'ab' * 32}"]}
    assert "variant" not in engine.image_config("ab" * 32, AMD64)


def test_the_loaded_archive_is_docker_loads_format(tmp_path, monkeypatch):
    """What `docker load` reads: a manifest naming the configuration and the one layer,
    whose digest is the configuration's diff_id. A script stands in for `docker`."""
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        (tmp_path / "hello").write_text("hi")
        tar.add(tmp_path / "hello", arcname="./etc/hello")
    received = tmp_path / "received.tar"
    docker = tmp_path / "bin" / "docker"
    docker.parent.mkdir()
    argv = tmp_path / "argv.json"
    docker.write_text(
        f"#!{sys.executable}\nimport json, shutil, sys\n"
        f"json.dump(sys.argv[1:], open({str(argv)!r}, 'w'))\n"
        f"shutil.copyfileobj(sys.stdin.buffer, open({str(received)!r}, 'wb'))\n"
    )
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{docker.parent}:{os.environ['PATH']}")
    nowhere = engine.Engine("unix:///nowhere", False)
    engine.load_root_filesystem(nowhere, rootfs, "x/base:1", ARM64)
    with tarfile.open(received) as archive:
        names = archive.getnames()
        manifest = json.load(archive.extractfile("manifest.json"))
        config = json.load(archive.extractfile(manifest[0]["Config"]))
        layer = archive.extractfile("layer.tar").read()
    assert json.loads(argv.read_text()) == ["load"]
    assert sorted(names) == sorted([manifest[0]["Config"], "manifest.json", "layer.tar"])
    assert manifest[0]["RepoTags"] == ["x/base:1"] and manifest[0]["Layers"] == ["layer.tar"]
    assert layer == rootfs.read_bytes()
    assert config["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(layer).hexdigest()}"]
    assert config["architecture"] == "arm64"


def test_a_failed_docker_load_says_what_docker_said(tmp_path, monkeypatch):
    docker = tmp_path / "docker"
    docker.write_text("#!/bin/sh\necho 'Error processing tar file: unexpected EOF' >&2\nexit 1\n")
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    rootfs = Path(tmp_path / "rootfs.tar")
    rootfs.write_bytes(b"\0" * 1024)
    nowhere = engine.Engine("unix:///nowhere", False)
    with pytest.raises(HarnessError, match=r"`docker load` of x/base:1 failed: Error processing"):
        engine.load_root_filesystem(nowhere, rootfs, "x/base:1", ARM64)

"""A Docker engine for the Docker path: the one that answers, or one started here.

`docker compose up` and `HARNESS_BACKEND=docker` need a Docker daemon. On a laptop one
runs already (`DOCKER_HOST`, else the default socket). A CI machine may have none and
no image registry either; as root it can have both from Debian packages
(docs: "Docker" in README.md):

- `ensure` installs `docker.io` (with `docker-compose` and `debootstrap`) and starts
  `dockerd` (overlay2 storage where possible, else vfs) without touching the host's
  network (no iptables, no bridge: containers on user-defined networks still reach
  each other by name) on a socket of the caller's work folder, recorded like every
  process the harness starts, and stopped by `stop`.
  Its data root is in the user cache (`<HARNESS_CACHE_DIR>/docker/engine`), so images
  and the build cache survive for the next run; a lock keeps two engines off it.
- `debian_base_image` makes the Dockerfile's base image with debootstrap instead of
  pulling one (the root file system is cached too), for this machine's platform or
  another one (`platforms`: run under emulation), loaded with its architecture.

Nothing here pulls from a registry. Layer 3 (runtime): it reads settings, uses util.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from harness.config import Settings
from harness.runtime import platforms
from harness.util.errors import HarnessError
from harness.util.files import private_dir
from harness.util.packages import AptFailed, apt_install
from harness.util.processes import ProcessRecords
from harness.util.waiting import WaitTimeout, wait_for

DEFAULT_HOST = "unix:///var/run/docker.sock"
RECORD = "dockerd"
PACKAGES = {
    "dockerd": "docker.io",
    "docker-compose": "docker-compose",
    "debootstrap": "debootstrap",
}
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
LOCAL_BASE_IMAGE = f"pipeline-harness/debian:{DEBIAN_SUITE}"
START_TIMEOUT = 60.0


class EngineUnavailable(HarnessError):
    """No Docker engine answers and none can be started here; the message says why."""


@dataclass
class Engine:
    host: str  # the DOCKER_HOST value that reaches it
    started: bool  # True: `ensure` started it, and `stop` ends it
    work_dir: Path | None = None
    lock: IO[str] | None = field(default=None, repr=False)

    def env(self) -> dict[str, str]:
        """The environment of a docker/docker-compose command aimed at this engine."""
        return os.environ | {"DOCKER_HOST": self.host}


def configured_host() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def answers(host: str, timeout: float = 3.0) -> bool:
    """True when a Docker API answers `_ping` at `host`."""
    import docker

    try:
        client = docker.DockerClient(base_url=host, timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no socket, refused, timed out, not Docker: all mean "no"
        return False


def why_not_startable() -> str | None:
    """Why no engine can be started here (None: it can, as root with apt-get)."""
    if all(shutil.which(program) for program in PACKAGES):
        return None if os.geteuid() == 0 else "dockerd needs root, and this user is not root"
    if os.geteuid() != 0:
        return "no Docker daemon answers, and installing one needs root"
    if not shutil.which("apt-get"):
        return "no Docker daemon answers, and this machine has no apt-get to install docker.io"
    return None


def install(progress: Callable[[str], None] = print) -> float:
    """Install the Debian packages of what is missing of `PACKAGES`; seconds it took."""
    missing = sorted(package for program, package in PACKAGES.items() if not shutil.which(program))
    if not missing:
        return 0.0
    progress(f"installing {', '.join(missing)} from the OS packages (once) ...")
    started = time.monotonic()
    try:
        apt_install(missing, progress=progress)
    except AptFailed as exc:
        raise EngineUnavailable(str(exc)) from None
    return time.monotonic() - started


def cache_dir(settings: Settings) -> Path:
    return settings.cache_dir / "docker"


def _lock_data_root(root: Path) -> IO[str]:
    root.mkdir(parents=True, exist_ok=True)
    lock = open(root.parent / "engine.lock", "w")  # noqa: SIM115 (held while it runs)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise EngineUnavailable(
            f"another Docker engine started by the harness uses {root}; "
            "wait for it to end, or set HARNESS_CACHE_DIR"
        ) from None
    return lock


def start(settings: Settings, work_dir: Path, progress: Callable[[str], None] = print) -> Engine:
    """Start `dockerd` with its sockets in `work_dir` (keep the path short: Unix socket
    paths are limited to ~107 bytes) and its data root in the user cache."""
    root = cache_dir(settings) / "engine"
    lock = _lock_data_root(root)
    private_dir(work_dir)
    socket = work_dir / "docker.sock"
    host = f"unix://{socket}"
    log_path = work_dir / "dockerd.log"
    command = [
        "dockerd",
        f"--data-root={root}",
        f"--exec-root={work_dir / 'exec'}",
        f"--pidfile={work_dir / 'dockerd.pid'}",
        f"--host={host}",
        # No --storage-driver: dockerd takes overlay2 where the kernel and the file
        # system allow it (layers and containers cost nothing), else vfs, which works
        # everywhere but copies every layer and every container's file system in full.
        "--iptables=false",  # the host's firewall and interfaces are left alone
        "--ip-masq=false",
        "--bridge=none",
    ]
    progress(f"starting dockerd on {host} (data root {root}) ...")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    records = ProcessRecords(work_dir)
    records.record(RECORD, process.pid, host=host, log=str(log_path))
    engine = Engine(host=host, started=True, work_dir=work_dir, lock=lock)
    try:
        wait_for(
            lambda: process.poll() is not None or answers(host, timeout=1.0),
            START_TIMEOUT,
            f"dockerd answering on {host}",
            interval=0.2,
        )
        if process.poll() is not None:
            raise WaitTimeout(f"dockerd exited with code {process.returncode}")
    except WaitTimeout as exc:
        stop(engine)
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise EngineUnavailable(f"{exc}; {log_path}:\n{tail}") from None
    return engine


def stop(engine: Engine) -> bool:
    """Stop an engine that `start` started (never one found running); True if stopped."""
    if not engine.started or engine.work_dir is None:
        return False
    stopped = ProcessRecords(engine.work_dir).stop(RECORD, timeout=30)
    _unmount_under(engine.work_dir)
    if engine.lock is not None:
        engine.lock.close()
        engine.lock = None
    return stopped


def _unmount_under(folder: Path) -> None:
    """Unmount what an engine that did not shut down cleanly left mounted in its work
    folder (network namespaces, overlays), deepest first, so the folder can be removed."""
    prefix = str(folder.resolve()) + "/"
    try:
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:  # not Linux: nothing to do
        return
    for target in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True, timeout=30)


def ensure(settings: Settings, work_dir: Path, progress: Callable[[str], None] = print) -> Engine:
    """The engine that answers at DOCKER_HOST (or the default socket), else one started
    here after installing it if needed; `EngineUnavailable` says why neither can be."""
    host = configured_host()
    if answers(host):
        return Engine(host=host, started=False)
    reason = why_not_startable()
    if reason:
        raise EngineUnavailable(f"{reason} (DOCKER_HOST={host})")
    install(progress)
    return start(settings, work_dir, progress)


def has_image(engine: Engine, name: str) -> bool:
    found = subprocess.run(
        ["docker", "image", "inspect", name], capture_output=True, env=engine.env(), timeout=60
    )
    return found.returncode == 0


def debian_base_image(
    engine: Engine,
    settings: Settings,
    progress: Callable[[str], None] = print,
    target: platforms.Platform | None = None,
) -> str:
    """A minimal Debian 12 image made with debootstrap (no registry) for `target` (this
    machine's platform unless given; another one's programs run under QEMU, which
    `platforms.ensure_runnable` registers first: debootstrap runs them to configure
    the packages): `LOCAL_BASE_IMAGE`, with the architecture appended for another
    platform. Its root file system is cached as a tar in the user cache."""
    target = target or platforms.native()
    suffix = "" if target.is_native else f"-{target.debian}"
    name = LOCAL_BASE_IMAGE + suffix
    if has_image(engine, name):
        return name
    tar = cache_dir(settings) / "base" / f"debian-{DEBIAN_SUITE}{suffix}.tar"
    if not tar.exists():
        install(progress)
        arch = [] if target.is_native else [f"--arch={target.debian}"]
        if arch:
            platforms.ensure_runnable(target, progress)
        progress(f"making a Debian {DEBIAN_SUITE} {target.debian} root file system (once) ...")
        rootfs = tar.with_suffix(".rootfs")
        shutil.rmtree(rootfs, ignore_errors=True)
        tar.parent.mkdir(parents=True, exist_ok=True)
        _run(["debootstrap", "--variant=minbase", *arch, DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR])
        partial = tar.with_suffix(".partial")
        _run(["tar", "-C", str(rootfs), "-cf", str(partial), "."])
        partial.rename(tar)
        shutil.rmtree(rootfs, ignore_errors=True)
    load_root_filesystem(engine, tar, name, target)
    return name


def image_config(layer_digest: str, target: platforms.Platform) -> dict[str, object]:
    """The image configuration of a one-layer image of `target` (OCI image spec)."""
    config: dict[str, object] = {
        "architecture": target.debian,
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
    }
    if target.variant:
        config["variant"] = target.variant
    return config


LOAD_TIMEOUT_S = 600.0


class _Hashing(io.RawIOBase):
    """A file read through, its SHA-256 taken on the way (the layer's digest, which the
    configuration written after it names: the file is read once)."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        return data


def load_root_filesystem(engine: Engine, tar: Path, name: str, target: platforms.Platform) -> None:
    """`tar` (a root file system) as image `name` of platform `target`, by `docker load`
    of an archive made here: `docker import --platform` needs an experimental daemon
    (Debian's 20.10 records the engine's own architecture without one), while an
    archive carries the architecture in its configuration."""
    with (
        tempfile.TemporaryFile() as said,
        subprocess.Popen(
            ["docker", "load"],
            stdin=subprocess.PIPE,
            stdout=said,
            stderr=subprocess.STDOUT,
            env=engine.env(),
        ) as loader,
    ):
        assert loader.stdin is not None
        try:
            try:
                _write_image_archive(loader.stdin, tar, name, target)
            except BrokenPipeError:
                pass  # `docker load` ended early: what it said is read below
            finally:
                with contextlib.suppress(BrokenPipeError):
                    loader.stdin.close()
            code = loader.wait(timeout=LOAD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            loader.kill()
            raise HarnessError(
                f"`docker load` of {name} did not end in {LOAD_TIMEOUT_S:.0f} s"
            ) from None
        except BaseException:  # Ctrl-C, a file that cannot be read: no loader left behind
            loader.kill()
            raise
        said.seek(0)
        output = said.read().decode(errors="replace").strip()
    if code != 0:
        raise HarnessError(f"`docker load` of {name} failed: {output}")


def _write_image_archive(sink: IO[bytes], tar: Path, name: str, target: platforms.Platform) -> None:
    """docker load's archive: the layer, then its configuration and the manifest."""

    def add(archive: tarfile.TarFile, member: str, size: int, data: IO[bytes]) -> None:
        info = tarfile.TarInfo(member)
        info.size = size
        archive.addfile(info, data)

    with tarfile.open(fileobj=sink, mode="w|") as archive, tar.open("rb") as layer:
        hashing = _Hashing(layer)
        add(archive, "layer.tar", tar.stat().st_size, hashing)
        config = json.dumps(image_config(hashing.digest.hexdigest(), target)).encode()
        config_name = f"{hashlib.sha256(config).hexdigest()}.json"
        manifest = json.dumps(
            [{"Config": config_name, "RepoTags": [name], "Layers": ["layer.tar"]}]
        )
        add(archive, config_name, len(config), io.BytesIO(config))
        add(archive, "manifest.json", len(manifest.encode()), io.BytesIO(manifest.encode()))


def _run(command: list[str], **kwargs: object) -> None:
    done = subprocess.run(command, capture_output=True, text=False, timeout=1800, **kwargs)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.decode(errors="replace").splitlines()[-10:])
        raise HarnessError(f"`{' '.join(command[:3])} ...` failed:\n{tail}")


def compose_command(engine: Engine) -> list[str] | None:
    """How to run Compose here: the v2 plugin (`docker compose`) when the client has it,
    else the v1 program (`docker-compose`, Debian's); None when neither is installed."""
    plugin = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, env=engine.env(), timeout=30
    )
    if plugin.returncode == 0:
        return ["docker", "compose"]
    program = shutil.which("docker-compose")
    return [program] if program else None

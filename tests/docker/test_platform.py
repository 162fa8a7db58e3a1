"""The Compose stack runs on the lane's platform, its functions built for it.

The image is meant to build and run natively on amd64 and arm64 (Dockerfile). `make
test` runs the lane on this machine's own platform; `make test-arm64` runs the same
lane for linux/arm64, under QEMU's user-mode emulation on an amd64 machine
(harness/runtime/platforms.py): the image is built for arm64 (a Debian arm64 base made
with debootstrap) and the whole demo runs on it (test_compose_demo.py). This test
proves it ran there: the image's architecture, what `uname -m` says in the stack's
LocalStack and database containers, and the functions' zips built for that machine,
down to Pillow's compiled module, which no other architecture could import.

The other platform's case is skipped, saying how to run it: each run of the lane
builds one image.

One thing differs from an arm64 user's image, and only under emulation here: Terraform
and its AWS provider are this machine's amd64 build, served to the build
(docker_lane.terraform_bundle), as no registry has the arm64 one here. They run
natively on this machine; on an arm64 machine the Dockerfile downloads the linux_arm64
build (`dpkg --print-architecture`).
"""

from __future__ import annotations

import docker_lane as lane
import pytest

from harness.runtime import platforms
from harness.runtime.backends import docker as docker_backend

RESIZE_ZIP = "resize.zip"  # bundles Pillow, a compiled extension
# How each platform's run is made (this machine's own: `make test`).
HOW_TO_RUN = {
    "linux/arm64": "`make test-arm64` (emulated on amd64: README, 'The docker test lane')"
} | {platforms.native().docker: "`make test`"}


@pytest.mark.parametrize("target", platforms.PLATFORMS, ids=lambda p: p.docker)
def test_the_stack_runs_on_the_lane_platform(target: platforms.Platform, request) -> None:
    running = lane.lane_platform()
    if target != running:
        how = HOW_TO_RUN.get(
            target.docker,
            f"`{lane.PLATFORM_ENV}={target.docker} .venv/bin/python -m pytest tests/docker -rs`",
        )
        pytest.skip(
            f"this run of the docker lane is for {running.docker}; {target.docker}'s: {how}"
        )
    compose: lane.Compose = request.getfixturevalue("compose_stack")
    image = compose.env.get(lane.IMAGE_ENV, docker_backend.APP_IMAGE)
    inspected = compose.docker("image", "inspect", image, "--format", "{{.Architecture}}")
    assert inspected.stdout.strip() == target.debian, inspected.stdout + inspected.stderr
    for service in ("localstack", "database"):
        said = compose.docker("exec", compose.container_id(service), "uname", "-m")
        assert said.stdout.strip() == target.machine, (service, said.stdout + said.stderr)
    # The zips the deployer deployed: built in the image, for its Python and machine.
    listed = compose.docker(
        "exec",
        compose.container_id("localstack"),
        "python3",
        "-c",
        "import pathlib, zipfile; "
        f"zips = sorted(pathlib.Path('/app/build').glob('local/lambdas-*/{RESIZE_ZIP}')); "
        "print(zips[0].parent.name if zips else 'none'); "
        "print('\\n'.join(n for z in zips for n in zipfile.ZipFile(z).namelist() "
        "if n.startswith('PIL/_imaging.') and n.endswith('.so')))",
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    folder, *modules = listed.stdout.split()
    assert folder.startswith(f"lambdas-{target.lambda_architecture}-"), (
        listed.stdout + listed.stderr
    )
    assert modules and all(target.machine in module for module in modules), modules

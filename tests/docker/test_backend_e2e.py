"""The e2e suite's labeling and catalog flows on `HARNESS_BACKEND=docker` (testcontainers).

Run once, in a pytest of its own, against the lane's engine: LocalStack, the stubs and
system B's MariaDB in containers of the project's image (built already by
`compose_stack`, so the backend's build is a cache hit), no Docker socket mounted, on
free ports and a state folder, name prefix and network of their own. The catalog's
loader, in LocalStack's container, reaches the database container as `database:3306`.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import docker_lane as lane

from harness.util.net import free_ports

# The labeling flows that end in a result (formats, encoded keys, folders, the filter
# policy) and the catalog's upload -> renditions -> rows, rejections and a database
# outage; the DLQ, alarm, Slack and redrive flows run in the compose lane's demo, so the
# lane stays within its time budget.
CATALOG = "tests/e2e/test_catalog_pipeline.py::"
E2E = [
    "tests/e2e/test_labeling_pipeline.py",
    CATALOG + "test_fifty_entities_give_200_rows_and_200_served_objects_after_one_tick",
    CATALOG + "test_bad_names_and_non_jpegs_are_rejected_with_reasons",
    CATALOG + "test_database_down_during_a_tick_loses_nothing",
    "-k",
    "not bad_inputs and not redrive and not batch_of_ten",
]
TIMEOUT = 1500


def test_labeling_and_catalog_flows_pass_on_the_docker_backend(compose_stack, tmp_path):
    ports = free_ports(4)
    env = {
        name: value
        for name, value in compose_stack.env.items()
        if not name.startswith(
            ("HARNESS_PORT", "HARNESS_REKOGNITION", "HARNESS_SLACK", "HARNESS_DB")
        )
    } | {
        "HARNESS_BACKEND": "docker",
        "HARNESS_PORT": str(ports[0]),
        "HARNESS_REKOGNITION_PORT": str(ports[1]),
        "HARNESS_SLACK_PORT": str(ports[2]),
        "HARNESS_DB_PORT": str(ports[3]),
        "HARNESS_STATE_DIR": str(tmp_path / "state"),
        "HARNESS_NAME_PREFIX": f"dk{secrets.token_hex(2)}",
        # `harness down` removes the containers, not testcontainers' reaper (no image here).
        "TESTCONTAINERS_RYUK_DISABLED": "true",
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *E2E],
        cwd=lane.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    # `harness down` kept the containers' logs in the state dir: LocalStack's says what
    # its functions did when a flow is late.
    localstack_log = tmp_path / "state" / "localstack.log"
    said = localstack_log.read_text(errors="replace") if localstack_log.is_file() else ""
    assert done.returncode == 0, (
        lane.tail(done.stdout + done.stderr, 80)
        + "\n--- LocalStack's log ---\n"
        + lane.tail(said, 60)
    )
    # Nothing of that stack is left behind.
    left = compose_stack.docker("ps", "-aq", "--filter", f"name={env['HARNESS_NAME_PREFIX']}-")
    assert left.stdout.strip() == "", left.stdout
    assert os.path.isdir(tmp_path)

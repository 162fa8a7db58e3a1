"""The e2e suite's labeling and catalog flows on `HARNESS_BACKEND=docker` (testcontainers).

Run once, in a pytest of its own (docker_lane.BACKEND_E2E), against the lane's engine:
LocalStack, the stubs and system B's MariaDB in containers of the project's image (built
already by `lane_image`, so the backend's build is a cache hit), no Docker socket
mounted, on free ports and a state folder, name prefix and network of their own. The
catalog's loader, in LocalStack's container, reaches the database container as
`database:3306`. It starts once the image is built (conftest.py: `backend_e2e`) and runs
while the Compose stack comes up and runs its demo; this test waits for its end.
"""

from __future__ import annotations

import docker_lane as lane


def test_labeling_and_catalog_flows_pass_on_the_docker_backend(backend_e2e, lane_image, request):
    # The Compose stack comes up and runs its demo now, while the flows run; a failure
    # there is the lane's too, but it never hides how the flows ended.
    try:
        request.getfixturevalue("compose_stack")
        compose_failure = None
    except Exception as error:  # a LaneFailure, or the time it ran out of
        compose_failure = error
    code, output = backend_e2e.wait(lane.BACKEND_E2E_TIMEOUT)
    # `harness down` kept the containers' logs in the state dir: LocalStack's says what
    # its functions did when a flow is late.
    localstack_log = backend_e2e.state_dir / "localstack.log"
    said = localstack_log.read_text(errors="replace") if localstack_log.is_file() else ""
    assert code == 0, lane.tail(output, 80) + "\n--- LocalStack's log ---\n" + lane.tail(said, 60)
    assert " passed" in output, lane.tail(output)  # flows ran, not all deselected
    # Nothing of that stack is left behind.
    prefix = backend_e2e.env["HARNESS_NAME_PREFIX"]
    left = lane_image.docker("ps", "-aq", "--filter", f"name={prefix}-")
    assert left.stdout.strip() == "", left.stdout
    if compose_failure is not None:
        raise compose_failure

"""Each embedded LocalStack keeps its S3 objects in its own folder.

LocalStack 4.x stores object bodies under a fixed `/tmp/localstack-s3-storage`, shared by
every instance on the machine, so stopping one stack deleted the objects of the others.
The harness passes the instance's own folder (under its state dir) in
`HARNESS_S3_STORAGE_DIR`; this hook, run before LocalStack creates its services (the
entry point `localstack.hooks.on_runtime_create` in this folder's pyproject.toml), points
the S3 provider there.
"""

from __future__ import annotations

import os

from localstack.runtime import hooks

ENV_VAR = "HARNESS_S3_STORAGE_DIR"


@hooks.on_runtime_create()
def use_instance_storage() -> None:
    folder = os.environ.get(ENV_VAR)
    if not folder:
        return
    os.makedirs(folder, mode=0o700, exist_ok=True)
    from localstack.services.s3 import provider

    provider.DEFAULT_S3_TMP_DIR = folder

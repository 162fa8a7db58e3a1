"""The `localstack` service of docker-compose.yml: the embedded LocalStack, in the
foreground of its container.

The same LocalStack as `HARNESS_BACKEND=embedded` on the host (pinned localstack-core,
our plugins, the local-process Lambda executor), from the venvs the image already holds
(HARNESS_CACHE_DIR), so a container starts with no download, no auth token and no
Docker socket. Only where it listens differs: all addresses of the container, which
the compose file publishes on the host's 127.0.0.1 only.
"""

from __future__ import annotations

import os

from harness import config
from harness.runtime import lambda_runtimes, localstack

PORT = 4566  # inside the container; docker-compose.yml publishes it


def main() -> None:
    settings = config.load()
    python = localstack.ensure_installed(settings)
    interpreters = lambda_runtimes.prepare(settings)
    files = localstack.data_dir(settings)
    localstack.make_data_dir(files, python)
    env = localstack.environment(settings, files, interpreters) | {
        "GATEWAY_LISTEN": f"0.0.0.0:{PORT}",
        "LOCALSTACK_HOST": os.environ.get("LOCALSTACK_HOST", f"localhost:{PORT}"),
    }
    os.chdir(files)
    # exec: LocalStack is PID 1's child no more, so `docker stop` reaches it directly.
    os.execve(str(python), [str(python), "-m", "localstack.runtime.main"], env)


if __name__ == "__main__":
    main()

"""``python -m harness.stubs``: run both stubs in the foreground until SIGTERM/SIGINT.

Once both servers listen, one JSON line goes to stdout -
``{"rekognition": url, "slack": url, "rekognition_port": n, "slack_port": n}`` - so
whoever started the process (``harness up``, a test) can wait for it and learn ephemeral
ports. Shutdown is clean: listening sockets are closed before the process exits 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from types import FrameType

from harness.stubs.httpserver import HOST
from harness.stubs.server import DEFAULT_REKOGNITION_PORT, DEFAULT_SLACK_PORT, StubServers


def _default_s3_endpoint() -> str:
    explicit = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    return explicit or f"http://127.0.0.1:{os.environ.get('HARNESS_PORT', '4566')}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m harness.stubs", description=__doc__)
    parser.add_argument(
        "--rekognition-port",
        type=int,
        default=int(os.environ.get("HARNESS_REKOGNITION_PORT", DEFAULT_REKOGNITION_PORT)),
        help="port of the Rekognition stub (0 = ephemeral; default %(default)s)",
    )
    parser.add_argument(
        "--slack-port",
        type=int,
        default=int(os.environ.get("HARNESS_SLACK_PORT", DEFAULT_SLACK_PORT)),
        help="port of the Slack webhook sink (0 = ephemeral; default %(default)s)",
    )
    parser.add_argument(
        "--s3-endpoint",
        default=_default_s3_endpoint(),
        help="S3 endpoint the Rekognition stub reads S3Object images from (default %(default)s)",
    )
    parser.add_argument(
        "--iam-endpoint",
        default=None,
        help="LocalStack whose IAM extension decides whether a DetectLabels caller may read "
        "the image (default: the S3 endpoint; '' checks nothing)",
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("HARNESS_STUB_HOST", HOST),
        help="address to bind (default %(default)s; env HARNESS_STUB_HOST). Anything but "
        "127.0.0.1 is for a container on a Docker network only (docker-compose.yml)",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("harness.stubs").info("signal %s: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    iam_endpoint = args.s3_endpoint if args.iam_endpoint is None else args.iam_endpoint
    servers = StubServers(
        args.rekognition_port,
        args.slack_port,
        s3_endpoint=args.s3_endpoint,
        host=args.host,
        iam_endpoint=iam_endpoint or None,
    )
    try:
        servers.start()
    except OSError as exc:
        print(f"cannot start stubs: {exc}", file=sys.stderr)
        return 1
    try:
        ready = {
            "rekognition": servers.rekognition_url,
            "slack": servers.slack_url,
            "rekognition_port": servers.rekognition_port,
            "slack_port": servers.slack_port,
        }
        print(json.dumps(ready), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        servers.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``StubServers``: both stubs together, in background threads of the current process.

This is what ``python -m harness.stubs`` runs in the foreground and what tests use
in-process; the ports default to ephemeral so parallel test sessions never collide.
"""

from __future__ import annotations

from typing import Self

from harness.stubs.client import RekognitionStubClient, SlackSinkClient
from harness.stubs.httpserver import HOST
from harness.stubs.rekognition.caller import iam_caller_check
from harness.stubs.rekognition.s3_reader import S3Reader
from harness.stubs.rekognition.stub import RekognitionStub
from harness.stubs.slack.sink import SlackSink

DEFAULT_REKOGNITION_PORT = 4580
DEFAULT_SLACK_PORT = 4581


class StubServers:
    """Start/stop the Rekognition stub and the Slack sink on 127.0.0.1.

    >>> with StubServers() as stubs:            # doctest: +SKIP
    ...     os.environ.update(stubs.env())
    ...     stubs.slack_client.wait_for_messages(1)
    """

    def __init__(
        self,
        rekognition_port: int = 0,
        slack_port: int = 0,
        s3_endpoint: str | None = None,
        s3_reader: S3Reader | None = None,
        host: str = HOST,
        iam_endpoint: str | None = None,
    ) -> None:
        caller_check = iam_caller_check(iam_endpoint) if iam_endpoint else None
        self.rekognition = RekognitionStub(
            rekognition_port, s3_endpoint, s3_reader, host, caller_check
        )
        self.slack = SlackSink(slack_port, host)

    def start(self) -> Self:
        self.rekognition.start()
        try:
            self.slack.start()
        except BaseException:
            self.rekognition.stop()
            raise
        return self

    def stop(self) -> None:
        self.slack.stop()
        self.rekognition.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def rekognition_port(self) -> int:
        return self.rekognition.port

    @property
    def slack_port(self) -> int:
        return self.slack.port

    @property
    def rekognition_url(self) -> str:
        return self.rekognition.url

    @property
    def slack_url(self) -> str:
        return self.slack.url

    def slack_webhook_url(self, path: str = "/services/T000/B000/XXXX") -> str:
        return self.slack.webhook_url(path)

    @property
    def rekognition_client(self) -> RekognitionStubClient:
        return RekognitionStubClient(self.rekognition_url)

    @property
    def slack_client(self) -> SlackSinkClient:
        return SlackSinkClient(self.slack_url)

    def env(self) -> dict[str, str]:
        """Environment that points an unmodified boto3 (and the harness) at the stubs."""
        return {
            "AWS_ENDPOINT_URL_REKOGNITION": self.rekognition_url,
            "HARNESS_REKOGNITION_PORT": str(self.rekognition_port),
            "HARNESS_SLACK_PORT": str(self.slack_port),
        }

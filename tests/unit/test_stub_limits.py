"""Bodies over the real APIs' limits get the real APIs' answers, and the stubs refuse the
far-too-large ones without reading them into memory.

Rekognition: image bytes over 5 MB (decoded) and S3 objects over 15 MB are
`ImageTooLargeException` (400, JSON 1.1). Slack: `text` over 40,000 characters is 400
`msg_too_long`, a body over 1 MiB is 413.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from PIL import Image

from harness.stubs.client import RekognitionStubClient, SlackSinkClient
from harness.stubs.httpserver import StubHandler
from harness.stubs.rekognition.images import MAX_BYTES_SIZE, MAX_S3_SIZE
from harness.stubs.rekognition.s3_reader import dict_s3_reader
from harness.stubs.rekognition.stub import MAX_REQUEST_BYTES, RekognitionStub
from harness.stubs.slack.sink import MAX_BODY_BYTES, MAX_TEXT_CHARS, SlackSink

OBJECTS: dict[tuple[str, str], bytes] = {}
HOOK = "/services/T000/B000/XXXX"


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (160, 120), (40, 90, 200)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture(scope="module")
def stub() -> Iterator[RekognitionStub]:
    with RekognitionStub(s3_reader=dict_s3_reader(OBJECTS)) as server:
        yield server


def client(endpoint: str) -> Any:
    return boto3.client(
        "rekognition",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def error_of(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def reads(monkeypatch) -> list[int]:
    """The length of every request body a stub read whole."""
    lengths: list[int] = []
    original = StubHandler.read_body

    def read_body(self: StubHandler) -> bytes:
        lengths.append(self.body_length())
        return original(self)

    monkeypatch.setattr(StubHandler, "read_body", read_body)
    return lengths


def test_the_request_limit_is_the_base64_of_the_largest_image_plus_json():
    assert len(base64.b64encode(b"\0" * MAX_BYTES_SIZE)) < MAX_REQUEST_BYTES
    assert len(base64.b64encode(b"\0" * MAX_BYTES_SIZE)) + 2 * 1024 * 1024 > MAX_REQUEST_BYTES


def test_image_bytes_just_over_5_mb_are_read_and_refused_as_too_large(stub, reads):
    data = jpeg() + b"\0" * (MAX_BYTES_SIZE + 1 - len(jpeg()))
    assert len(data) == MAX_BYTES_SIZE + 1

    assert error_of(lambda: client(stub.url).detect_labels(Image={"Bytes": data})) == (
        "ImageTooLargeException",
        400,
    )
    assert reads and reads[-1] <= MAX_REQUEST_BYTES


def test_a_body_far_over_the_limit_is_refused_unread_and_the_connection_stays_usable(stub, reads):
    control = RekognitionStubClient(stub.url)
    control.clear_calls()
    huge = jpeg() + b"\0" * (3 * MAX_BYTES_SIZE)  # botocore sends ~20 MB of base64

    rekognition = client(stub.url)
    assert error_of(lambda: rekognition.detect_labels(Image={"Bytes": huge})) == (
        "ImageTooLargeException",
        400,
    )
    assert rekognition.detect_labels(Image={"Bytes": jpeg()})["Labels"]  # next call is fine

    assert all(length <= MAX_REQUEST_BYTES for length in reads)  # the huge one never read
    refused, fine = control.calls()
    assert (refused["error"], refused["status"], refused["size"]) == (
        "ImageTooLargeException",
        400,
        None,
    )
    assert fine["outcome"] == "labels"


def test_a_declared_length_far_over_the_limit_is_answered_without_waiting_for_it(stub):
    """The client says 100 MB and sends a few bytes: the answer comes at once (a stub
    that read the body first would wait for the rest until the socket timed out)."""
    with socket.create_connection(("127.0.0.1", stub.port), timeout=10) as conn:
        conn.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
            b"X-Amz-Target: RekognitionService.DetectLabels\r\n"
            b"Content-Length: 100000000\r\n\r\n" + b'{"Image": {"Bytes": "AAAA'
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"Connection: close" in head
    assert json.loads(body)["__type"] == "ImageTooLargeException"


class _LyingS3(BaseHTTPRequestHandler):
    """An S3 whose object declares 16 MB and then sends almost nothing."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(MAX_S3_SIZE + 1024 * 1024))
        self.send_header("ETag", '"e"')
        self.end_headers()
        self.wfile.write(jpeg())
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_an_s3_object_over_15_mb_is_refused_from_its_length_without_reading_it():
    s3 = ThreadingHTTPServer(("127.0.0.1", 0), _LyingS3)
    threading.Thread(target=s3.serve_forever, daemon=True).start()
    try:
        with RekognitionStub(s3_endpoint=f"http://127.0.0.1:{s3.server_address[1]}") as server:
            image = {"S3Object": {"Bucket": "images", "Name": "ingest/huge.jpg"}}
            assert error_of(lambda: client(server.url).detect_labels(Image=image)) == (
                "ImageTooLargeException",
                400,
            )
    finally:
        s3.shutdown()
        s3.server_close()


def test_s3_objects_between_5_and_15_mb_are_fine_and_over_15_mb_too_large(stub):
    OBJECTS[("images", "ingest/big.jpg")] = jpeg() + b"\0" * (MAX_BYTES_SIZE + 1)
    OBJECTS[("images", "ingest/huge.jpg")] = jpeg() + b"\0" * MAX_S3_SIZE
    rekognition = client(stub.url)
    big = {"S3Object": {"Bucket": "images", "Name": "ingest/big.jpg"}}
    huge = {"S3Object": {"Bucket": "images", "Name": "ingest/huge.jpg"}}
    assert rekognition.detect_labels(Image=big)["Labels"]
    assert error_of(lambda: rekognition.detect_labels(Image=huge)) == (
        "ImageTooLargeException",
        400,
    )


# --- Slack ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sink() -> Iterator[SlackSink]:
    with SlackSink() as server:
        yield server


def post(url: str, data: bytes) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_slack_text_over_40000_characters_is_msg_too_long(sink):
    slack = SlackSinkClient(sink.url)
    slack.reset()
    longest = json.dumps({"text": "가" * MAX_TEXT_CHARS}).encode()
    too_long = json.dumps({"text": "가" * (MAX_TEXT_CHARS + 1)}).encode()

    assert post(sink.url + HOOK, longest) == (200, "ok")
    assert post(sink.url + HOOK, too_long) == (400, "msg_too_long")
    delivered, refused = slack.messages(include_failed=True)
    assert (delivered["failed"], refused["failed"], refused["reason"]) == (
        False,
        True,
        "msg_too_long",
    )


def test_slack_body_over_1_mib_is_413_unread_and_the_fail_switch_is_kept(sink, reads):
    slack = SlackSinkClient(sink.url)
    slack.reset()
    slack.fail_next(1)
    body = json.dumps({"text": "x", "blocks": [{"type": "divider"}] * 100_000}).encode()
    assert len(body) > MAX_BODY_BYTES
    reads.clear()

    assert post(sink.url + HOOK, body) == (413, "request_too_large")
    assert reads == []
    assert post(sink.url + HOOK, b'{"text": "next"}') == (500, "rollup_error")  # still armed
    refused, failed = slack.messages(include_failed=True)
    assert (refused["status"], refused["body"], refused["size"]) == (413, None, len(body))
    assert refused["failed"] and failed["reason"] == "injected"

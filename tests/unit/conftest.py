"""Shared helpers for unit tests of the Lambda functions (no AWS needed).

Each function folder is deployed as the root of its zip, so its modules import
each other by plain name (`import labeling`). Tests do the same by putting
`lambdas/<name>` on sys.path. The only name the functions share is `app`; it is
imported by file path under a unique module name (`lambda_<name>_app`), so the
two handlers never clash. Helper modules must have names unique across
functions; `load_lambda` checks that.

Also here: the recorded events (tests/unit/events), fakes of the boto3 clients
the functions use (plain classes raising botocore's ClientError with the real
error codes), and a real local HTTP server standing in for the Slack webhook.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

LAMBDAS_DIR = Path(__file__).resolve().parents[2] / "lambdas"
EVENTS_DIR = Path(__file__).resolve().parent / "events"


def load_lambda_module(function: str, module: str = "app") -> ModuleType:
    """Import `lambdas/<function>/<module>.py` and return the module."""
    directory = LAMBDAS_DIR / function
    if not (directory / f"{module}.py").is_file():
        raise FileNotFoundError(f"no module {module}.py in {directory}")
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    if module != "app":
        loaded = importlib.import_module(module)
        origin = Path(loaded.__file__ or "").resolve().parent
        if origin != directory:
            raise ImportError(
                f"module {module!r} resolved to {origin}, not {directory}: "
                "helper module names must be unique across lambdas/"
            )
        return loaded
    unique_name = f"lambda_{function}_app"
    if unique_name in sys.modules:
        return sys.modules[unique_name]
    spec = importlib.util.spec_from_file_location(unique_name, directory / "app.py")
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[unique_name] = loaded
    try:
        spec.loader.exec_module(loaded)
    except BaseException:
        del sys.modules[unique_name]
        raise
    return loaded


def client_error(code: str, operation: str, status: int = 400, message: str = "") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message or code},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


class FakeS3:
    """Objects keyed by (bucket, key); records every write and delete."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.puts: list[dict[str, Any]] = []
        self.deletes: list[tuple[str, str]] = []
        self.fail_puts_under: str | None = None

    def add(self, bucket: str, key: str, body: bytes = b"\xff\xd8image", etag: str = "") -> None:
        self.objects[(bucket, key)] = {"Body": body, "ETag": f'"{etag}"', "ContentType": ""}

    def document(self, bucket: str, key: str) -> dict[str, Any]:
        return json.loads(self.objects[(bucket, key)]["Body"])

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(key for (_, key) in self.objects if key.startswith(prefix))

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if (Bucket, Key) not in self.objects:
            raise client_error("404", "HeadObject", 404, "Not Found")
        obj = self.objects[(Bucket, Key)]
        return {"ETag": obj["ETag"], "ContentLength": len(obj["Body"])}

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if (Bucket, Key) not in self.objects:
            raise client_error("NoSuchKey", "GetObject", 404, "The specified key does not exist.")
        obj = self.objects[(Bucket, Key)]
        return {"Body": io.BytesIO(obj["Body"]), "ETag": obj["ETag"]}

    def put_object(self, Bucket: str, Key: str, Body: bytes, ContentType: str) -> dict[str, Any]:
        if self.fail_puts_under is not None and Key.startswith(self.fail_puts_under):
            raise client_error("AccessDenied", "PutObject", 403, "Access Denied")
        self.puts.append({"Bucket": Bucket, "Key": Key, "ContentType": ContentType})
        self.objects[(Bucket, Key)] = {
            "Body": Body,
            "ETag": '"written"',
            "ContentType": ContentType,
        }
        return {}

    def delete_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self.deletes.append((Bucket, Key))
        self.objects.pop((Bucket, Key), None)
        return {}


class FakeRekognition:
    """Returns `response` for every image unless `errors[key]` says to raise."""

    def __init__(self, response: dict[str, Any]) -> None:
        self.response = response
        self.errors: dict[str, Exception] = {}
        self.calls: list[dict[str, Any]] = []

    def detect_labels(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        name = kwargs["Image"]["S3Object"]["Name"]
        if name in self.errors:
            raise self.errors[name]
        return self.response

    def names(self) -> list[str]:
        return [call["Image"]["S3Object"]["Name"] for call in self.calls]


def read_event(name: str) -> dict[str, Any]:
    """A recorded event from tests/unit/events (name without .json)."""
    return json.loads((EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def load_lambda() -> Callable[..., ModuleType]:
    """`load_lambda("labeler", "labeling")` -> the module (see load_lambda_module)."""
    return load_lambda_module


@pytest.fixture
def event() -> Callable[[str], dict[str, Any]]:
    """`event("sqs_sns_s3_put")` -> a fresh copy of a recorded event."""
    return read_event


@pytest.fixture
def lambda_context() -> SimpleNamespace:
    """The attributes of LambdaContext that Powertools' inject_lambda_context reads."""
    return SimpleNamespace(
        function_name="unit-test",
        function_version="$LATEST",
        invoked_function_arn="arn:aws:lambda:ap-northeast-2:123456789012:function:unit-test",
        memory_limit_in_mb=512,
        aws_request_id="00000000-0000-4000-8000-000000000000",
        log_group_name="/aws/lambda/unit-test",
        log_stream_name="2024/05/01/[$LATEST]0123456789abcdef",
        get_remaining_time_in_millis=lambda: 60_000,
    )


@pytest.fixture
def detect_labels_response() -> dict[str, Any]:
    """DetectLabels answer in the shape of the seed's sample (LabelModelVersion 3.0)."""
    return read_event("rekognition_detect_labels_response")


@pytest.fixture
def fake_s3() -> FakeS3:
    return FakeS3()


@pytest.fixture
def fake_rekognition(detect_labels_response: dict[str, Any]) -> FakeRekognition:
    return FakeRekognition(detect_labels_response)


@pytest.fixture(name="client_error")
def client_error_fixture() -> Callable[..., ClientError]:
    """`client_error("ThrottlingException", "DetectLabels", 400)` -> botocore ClientError."""
    return client_error


# --- slack_notifier: fake SQS/SSM clients and a real local webhook server -----


class FakeSQS:
    """Answers depth queries for known queues; `error` makes every call fail."""

    def __init__(self, depths: dict[str, int] | None = None) -> None:
        self.depths = depths or {}
        self.error: Exception | None = None
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_queue_url(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("get_queue_url", kwargs))
        if self.error is not None:
            raise self.error
        name = kwargs["QueueName"]
        if name not in self.depths:
            raise client_error("AWS.SimpleQueueService.NonExistentQueue", "GetQueueUrl")
        return {"QueueUrl": f"https://sqs.ap-northeast-2.amazonaws.com/123456789012/{name}"}

    def get_queue_attributes(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("get_queue_attributes", kwargs))
        name = kwargs["QueueUrl"].rsplit("/", 1)[1]
        return {"Attributes": {"ApproximateNumberOfMessages": str(self.depths[name])}}


class FakeSSM:
    """One SecureString parameter; counts reads so caching can be checked."""

    def __init__(self, name: str, value: str) -> None:
        self.parameters = {name: value}
        self.error: Exception | None = None
        self.calls: list[dict[str, Any]] = []

    def get_parameter(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        if kwargs["Name"] not in self.parameters:
            raise client_error("ParameterNotFound", "GetParameter")
        value = self.parameters[kwargs["Name"]]
        return {"Parameter": {"Name": kwargs["Name"], "Type": "SecureString", "Value": value}}


class WebhookServer:
    """A real HTTP server on 127.0.0.1 standing in for Slack's webhook endpoint.

    Set `status`, `body` and `delay` to choose the answer; `requests` holds
    what was posted (path, content type, decoded JSON).
    """

    def __init__(self) -> None:
        self.status = 200
        self.body = b"ok"
        self.delay = 0.0
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.requests.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "json": json.loads(raw),
                    }
                )
                time.sleep(server.delay)
                try:
                    self.send_response(server.status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(server.body)))
                    self.end_headers()
                    self.wfile.write(server.body)
                except OSError:  # the client gave up (timeout test)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/services/T000/B000/XXXXXXXX"


@pytest.fixture
def webhook_server(monkeypatch) -> Iterator[WebhookServer]:
    """Started per test; proxies are disabled so urllib talks to it directly."""
    for name in (
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    server = WebhookServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def fake_sqs() -> FakeSQS:
    return FakeSQS({"image-labeling-dlq": 7})


@pytest.fixture
def fake_ssm() -> FakeSSM:
    """Holds /image-pipeline/slack-webhook-url (a placeholder URL; tests replace it)."""
    return FakeSSM("/image-pipeline/slack-webhook-url", "https://hooks.slack.com/services/T/B/X")


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """Every unit test gets a state dir of its own. Under `make test` a worker runs unit
    tests after its stack group, with HARNESS_STATE_DIR naming that stack's folder, still
    running: a test reading the default would read, and could remove, its process
    records (it happened: LocalStack ran on without a record, its files deleted)."""
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path_factory.mktemp("state")))

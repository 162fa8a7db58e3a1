"""The Rekognition stub, driven by an unmodified boto3 client over real HTTP."""

from __future__ import annotations

import hashlib
import io
import json
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from PIL import Image

from harness.stubs.client import RekognitionStubClient
from harness.stubs.rekognition import stub as stub_module
from harness.stubs.rekognition.s3_reader import dict_s3_reader
from harness.stubs.rekognition.stub import RekognitionStub

BUCKET = "images"
S3_NOT_FOUND = (
    "Unable to get object metadata from S3. Check object key, region and/or access permissions."
)
LABEL_KEYS = ["Name", "Confidence", "Instances", "Parents", "Aliases", "Categories"]


def make_image(
    fmt: str = "JPEG",
    size: tuple[int, int] = (160, 120),
    color: tuple[int, int, int] = (40, 90, 200),
    noise: bool = False,
) -> bytes:
    if noise:
        img = Image.frombytes("RGB", size, random.Random(7).randbytes(size[0] * size[1] * 3))
    else:
        img = Image.new("RGB", size, color)
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


OBJECTS: dict[tuple[str, str], bytes] = {}


@pytest.fixture(scope="module")
def stub() -> Iterator[RekognitionStub]:
    with RekognitionStub(s3_reader=dict_s3_reader(OBJECTS)) as server:
        yield server


@pytest.fixture(scope="module")
def rekognition(stub: RekognitionStub) -> Any:
    return boto3.client(
        "rekognition",
        endpoint_url=stub.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=25
        ),
    )


@pytest.fixture
def control(stub: RekognitionStub) -> Iterator[RekognitionStubClient]:
    client = RekognitionStubClient(stub.url)
    client.reset()
    OBJECTS.clear()
    yield client
    client.reset()


def put(key: str, data: bytes) -> dict[str, Any]:
    OBJECTS[(BUCKET, key)] = data
    return {"S3Object": {"Bucket": BUCKET, "Name": key}}


def error_of(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


# --- default answer ---------------------------------------------------------------------


def test_default_labels_have_the_seed_shape(rekognition: Any, control: RekognitionStubClient):
    response = rekognition.detect_labels(Image=put("ingest/street.jpg", make_image()))

    assert response["LabelModelVersion"] == "3.0"
    labels = response["Labels"]
    names = [label["Name"] for label in labels]
    assert {"City", "Road", "Street", "Person", "Portrait"} <= set(names)
    for label in labels:
        assert list(label) == LABEL_KEYS
        assert 55 <= label["Confidence"] <= 100  # DetectLabels' default MinConfidence
        assert all(set(item) == {"Name"} for key in LABEL_KEYS[3:] for item in label[key])
    confidences = [label["Confidence"] for label in labels]
    assert confidences == sorted(confidences, reverse=True)
    street = labels[names.index("Street")]
    assert street["Parents"] == [{"Name": "City"}, {"Name": "Road"}, {"Name": "Urban"}]
    person = labels[names.index("Person")]
    assert person["Aliases"] == [{"Name": "Human"}]
    [instance] = person["Instances"]
    box = instance["BoundingBox"]
    assert set(box) == {"Width", "Height", "Left", "Top"}
    assert all(0.0 <= v <= 1.0 for v in box.values())
    assert box["Left"] + box["Width"] <= 1.0 + 1e-6
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert response["ResponseMetadata"]["RequestId"] == headers["x-amzn-requestid"]


def test_default_labels_are_repeatable_per_image_and_differ_between_images(
    rekognition: Any, control: RekognitionStubClient
):
    blue, green = make_image(color=(40, 90, 200)), make_image(color=(30, 160, 40))

    first = rekognition.detect_labels(Image={"Bytes": blue})["Labels"]
    again = rekognition.detect_labels(Image={"Bytes": blue})["Labels"]
    other = rekognition.detect_labels(Image={"Bytes": green})["Labels"]

    assert first == again
    assert first != other
    assert "Sky" in {label["Name"] for label in first}
    assert "Vegetation" in {label["Name"] for label in other}


def test_min_confidence_and_max_labels_filter_the_default(
    rekognition: Any, control: RekognitionStubClient
):
    image = {"Bytes": make_image(noise=True)}
    everything = rekognition.detect_labels(Image=image, MinConfidence=0)["Labels"]
    confident = rekognition.detect_labels(Image=image, MinConfidence=99)["Labels"]
    top3 = rekognition.detect_labels(Image=image, MaxLabels=3, MinConfidence=0)["Labels"]

    assert 0 < len(confident) < len(everything)
    assert all(label["Confidence"] >= 99 for label in confident)
    assert top3 == everything[:3]


def test_image_properties_feature(rekognition: Any, control: RekognitionStubClient):
    response = rekognition.detect_labels(
        Image={"Bytes": make_image(color=(255, 0, 0))}, Features=["IMAGE_PROPERTIES"]
    )

    assert response["Labels"] == []
    [colour] = response["ImageProperties"]["DominantColors"]
    assert colour["Red"] > 240 and colour["Green"] < 15 and colour["Blue"] < 15
    assert colour["HexCode"].startswith("#F") and colour["SimplifiedColor"] == "red"
    assert set(response["ImageProperties"]["Quality"]) == {"Brightness", "Sharpness", "Contrast"}


# --- rules ------------------------------------------------------------------------------


def test_rules_match_by_glob_regex_and_sha256_first_match_wins(
    rekognition: Any, control: RekognitionStubClient
):
    special = make_image(color=(1, 2, 3))
    control.set_rules(
        [
            {"key_glob": "ingest/cats/*.jpg", "labels": [{"Name": "Cat", "Confidence": 97.5}]},
            {"key_regex": r"^ingest/.*\.png$", "labels": ["Png"]},
            {"sha256": hashlib.sha256(special).hexdigest(), "labels": ["Special"]},
            {"key_glob": "ingest/*", "labels": ["Fallback"]},
        ]
    )

    def names(image: dict[str, Any]) -> list[str]:
        return [label["Name"] for label in rekognition.detect_labels(Image=image)["Labels"]]

    assert names(put("ingest/cats/tom.jpg", make_image())) == ["Cat"]
    assert names(put("ingest/a/b.png", make_image("PNG"))) == ["Png"]
    assert names(put("ingest/cats/x.png", make_image("PNG"))) == ["Png"]
    assert names({"Bytes": special}) == ["Special"]  # key rules never match Bytes input
    assert names(put("ingest/other.jpg", make_image())) == ["Fallback"]
    assert "Fallback" not in names({"Bytes": make_image()})  # default answer
    assert [c["rule"] for c in control.calls()] == [0, 1, 1, 2, 3, None]


def test_rule_labels_are_filled_to_the_api_shape_and_filtered(
    rekognition: Any, control: RekognitionStubClient
):
    control.set_rules(
        [
            {
                "key_glob": "*",
                "labels": [
                    {"Name": "Low", "Confidence": 60.0},
                    {"Name": "Dog", "Confidence": 99.1, "Parents": [{"Name": "Animal"}]},
                    {"Name": "Animal", "Confidence": 99.1},
                    "Pet",
                ],
            }
        ]
    )
    image = put("ingest/dog.jpg", make_image())

    labels = rekognition.detect_labels(Image=image, MinConfidence=70)["Labels"]
    top = rekognition.detect_labels(Image=image, MaxLabels=1)["Labels"]

    assert [label["Name"] for label in labels] == ["Dog", "Animal", "Pet"]
    assert all(list(label) == LABEL_KEYS for label in labels)
    assert labels[0]["Parents"] == [{"Name": "Animal"}]
    assert labels[2]["Confidence"] == 99.0
    assert [label["Name"] for label in top] == ["Dog"]


def test_rule_error_is_a_real_client_error(rekognition: Any, control: RekognitionStubClient):
    control.set_rules(
        [{"key_glob": "ingest/bad/*", "error": {"type": "InvalidImageFormatException"}}]
    )

    code, status, message = error_of(
        lambda: rekognition.detect_labels(Image=put("ingest/bad/x.jpg", make_image()))
    )

    assert (code, status, message) == (
        "InvalidImageFormatException",
        400,
        "Request has invalid image format",
    )
    [call] = control.calls()
    assert (call["outcome"], call["error"], call["rule"]) == ("error", code, 0)


# --- S3 input, validation and limits ---------------------------------------------------


def test_s3_object_is_read_through_the_reader_and_logged(
    rekognition: Any, control: RekognitionStubClient
):
    data = make_image()

    rekognition.detect_labels(Image=put("ingest/한글 이름.jpg", data))
    code, status, message = error_of(
        lambda: rekognition.detect_labels(
            Image={"S3Object": {"Bucket": BUCKET, "Name": "ingest/missing.jpg"}}
        )
    )

    assert (code, status, message) == ("InvalidS3ObjectException", 400, S3_NOT_FOUND)
    ok, missing = control.calls()
    assert (ok["source"], ok["bucket"], ok["key"]) == ("s3", BUCKET, "ingest/한글 이름.jpg")
    assert ok["sha256"] == hashlib.sha256(data).hexdigest()
    assert ok["outcome"] == "labels" and ok["labels"] > 0 and ok["status"] == 200
    assert (missing["outcome"], missing["error"], missing["sha256"]) == (
        "error",
        "InvalidS3ObjectException",
        None,
    )


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("gif", make_image("GIF"), "InvalidImageFormatException"),
        ("bmp", make_image("BMP"), "InvalidImageFormatException"),
        ("truncated jpeg", make_image(noise=True)[:2000], "InvalidImageFormatException"),
        (
            "jpeg magic then junk",
            b"\xff\xd8\xff\xe0" + b"junk" * 100,
            "InvalidImageFormatException",
        ),
        ("corrupt png", make_image("PNG", noise=True)[:-40], "InvalidImageFormatException"),
        ("too narrow", make_image(size=(79, 200)), "InvalidParameterException"),
        ("too short", make_image("PNG", size=(200, 79)), "InvalidParameterException"),
        ("too wide", make_image("PNG", size=(10_001, 80)), "ImageTooLargeException"),
    ],
)
def test_invalid_images_are_rejected_like_rekognition(
    rekognition: Any, control: RekognitionStubClient, name: str, data: bytes, code: str
):
    assert error_of(lambda: rekognition.detect_labels(Image={"Bytes": data}))[:2] == (code, 400)


def test_minimum_size_image_is_accepted(rekognition: Any, control: RekognitionStubClient):
    response = rekognition.detect_labels(Image={"Bytes": make_image("PNG", size=(80, 80))})
    assert response["Labels"]


def test_size_limits_differ_for_bytes_and_s3(rekognition: Any, control: RekognitionStubClient):
    padding = b"\0" * (5 * 1024 * 1024)
    six_mb_jpeg = make_image() + padding  # valid JPEG plus trailing data: 5 MB + a bit
    fifteen_mb = make_image() + b"\0" * (15 * 1024 * 1024)

    too_big = error_of(lambda: rekognition.detect_labels(Image={"Bytes": six_mb_jpeg}))
    from_s3 = rekognition.detect_labels(Image=put("ingest/big.jpg", six_mb_jpeg))
    s3_too_big = error_of(
        lambda: rekognition.detect_labels(Image=put("ingest/huge.jpg", fifteen_mb))
    )

    assert too_big[:2] == ("ImageTooLargeException", 400)
    assert from_s3["Labels"]
    assert s3_too_big[:2] == ("ImageTooLargeException", 400)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"MinConfidence": 100.5},
        {"MaxLabels": 1001},
        {"Features": ["GENERAL_LABELS", "FACES"]},  # botocore does not check enums
    ],
)
def test_out_of_range_parameters(rekognition: Any, control: RekognitionStubClient, kwargs: dict):
    image = {"Bytes": make_image()}
    code, status, _ = error_of(lambda: rekognition.detect_labels(Image=image, **kwargs))
    assert (code, status) == ("InvalidParameterException", 400)


def test_both_image_sources_is_invalid(rekognition: Any, control: RekognitionStubClient):
    image = {"Bytes": make_image(), **put("ingest/x.jpg", make_image())}
    assert error_of(lambda: rekognition.detect_labels(Image=image))[:2] == (
        "InvalidParameterException",
        400,
    )


def test_unknown_operation(stub: RekognitionStub, rekognition: Any, control: RekognitionStubClient):
    code, status, _ = error_of(lambda: rekognition.detect_faces(Image={"Bytes": make_image()}))
    request = urllib.request.Request(
        stub.url + "/",
        data=b"{}",
        method="POST",
        headers={"X-Amz-Target": "RekognitionService.Nope"},
    )
    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(request, timeout=5)

    assert (code, status) == ("UnknownOperationException", 400)
    assert raw.value.code == 400
    assert json.loads(raw.value.read()) == {
        "__type": "com.amazon.coral.service#UnknownOperationException"
    }
    assert raw.value.headers["x-amzn-RequestId"]


# --- faults -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("ThrottlingException", 500),
        ("ProvisionedThroughputExceededException", 400),
        ("InternalServerError", 500),
        ("AccessDeniedException", 400),
    ],
)
def test_fault_first_n_then_recovers(
    rekognition: Any, control: RekognitionStubClient, error: str, status: int
):
    control.add_fault(error, first_n=2)
    image = {"Bytes": make_image()}

    failures = [error_of(lambda: rekognition.detect_labels(Image=image))[:2] for _ in range(2)]
    recovered = rekognition.detect_labels(Image=image)

    assert failures == [(error, status)] * 2
    assert recovered["Labels"]
    assert [c["error"] for c in control.calls()] == [error, error, None]
    assert control.faults()[0]["fired"] == 2


def test_fault_rate_is_reproducible_with_its_seed(rekognition: Any, control: RekognitionStubClient):
    image = {"Bytes": make_image()}

    def run() -> list[bool]:
        control.set_faults([{"error": "ThrottlingException", "rate": 0.5, "seed": 42}])
        outcomes = []
        for _ in range(16):
            try:
                rekognition.detect_labels(Image=image)
                outcomes.append(False)
            except ClientError:
                outcomes.append(True)
        return outcomes

    first, second = run(), run()
    rng = random.Random(42)
    assert first == second == [rng.random() < 0.5 for _ in range(16)]
    assert 0 < sum(first) < 16


class FakeClock:
    """The stub's `time`: `sleep` is recorded (or handed to `on_sleep`) and moves the
    clock on instead of waiting, so tests check what was slept, not how long it took."""

    def __init__(self, on_sleep: Callable[[float], None] | None = None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds
        if self.on_sleep:
            self.on_sleep(seconds)


@pytest.fixture
def stub_clock(monkeypatch) -> FakeClock:
    clock = FakeClock()
    monkeypatch.setattr(stub_module, "time", clock)
    return clock


def test_fault_latency_without_error(
    rekognition: Any, control: RekognitionStubClient, stub_clock: FakeClock
):
    control.add_fault(None, latency_ms=300, first_n=1)
    image = {"Bytes": make_image()}

    slow = rekognition.detect_labels(Image=image)
    assert stub_clock.sleeps == [0.3]
    rekognition.detect_labels(Image=image)

    assert slow["Labels"]
    assert stub_clock.sleeps == [0.3]  # the second call did not wait
    first, second = control.calls()
    assert first["latency_ms"] >= 300 > second["latency_ms"]


def test_fault_scoped_by_key_glob_and_until(rekognition: Any, control: RekognitionStubClient):
    control.set_faults(
        [
            {"error": "ThrottlingException", "key_glob": "ingest/hot/*"},
            {"error": "InternalServerError", "until": time.time() - 1},
        ]
    )

    hot = error_of(lambda: rekognition.detect_labels(Image=put("ingest/hot/a.jpg", make_image())))
    cold = rekognition.detect_labels(Image=put("ingest/cold/a.jpg", make_image()))
    raw = rekognition.detect_labels(Image={"Bytes": make_image()})

    assert hot[:2] == ("ThrottlingException", 500)
    assert cold["Labels"] and raw["Labels"]
    assert [f["fired"] for f in control.faults()] == [1, 0]


def test_concurrent_calls_are_served_in_parallel(
    rekognition: Any,
    control: RekognitionStubClient,
    stub_clock: FakeClock,
    record_property: Callable[[str, object], None],
):
    """Every call's latency fault waits at a barrier of 20: it opens only when all 20 calls
    are inside the stub at once, which a stub serving them one by one never reaches."""
    barrier = threading.Barrier(20, timeout=30)
    stub_clock.on_sleep = lambda seconds: barrier.wait()
    control.add_fault(None, latency_ms=250)
    images = [put(f"ingest/p/{i}.jpg", make_image(color=(i * 10, 50, 90))) for i in range(20)]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda image: rekognition.detect_labels(Image=image), images))
    record_property("seconds_for_20_concurrent_calls", round(time.perf_counter() - started, 3))

    assert not barrier.broken and stub_clock.sleeps == [0.25] * 20
    assert all(result["Labels"] for result in results)
    calls = control.calls()
    assert len(calls) == 20
    assert {c["key"] for c in calls} == {f"ingest/p/{i}.jpg" for i in range(20)}
    assert len({c["request_id"] for c in calls}) == 20


def test_endpoint_from_environment(
    stub: RekognitionStub, control: RekognitionStubClient, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", stub.url)
    client = boto3.client(
        "rekognition",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    client.detect_labels(Image={"Bytes": make_image()})

    assert len(control.calls()) == 1


class _FakeS3Handler(BaseHTTPRequestHandler):
    """Just enough S3 for GetObject with path-style addressing: /<bucket>/<key>."""

    objects: ClassVar[dict[str, bytes]] = {}
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        self.paths.append(path)
        body = self.objects.get(path)
        if body is None:
            body = b"<Error><Code>NoSuchKey</Code><Message>missing</Message></Error>"
            self.send_response(404)
            self.send_header("Content-Type", "application/xml")
        else:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_default_reader_uses_boto3_s3_path_style(monkeypatch: pytest.MonkeyPatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    data = make_image()
    _FakeS3Handler.objects = {"/images/ingest/a b.jpg": data}
    _FakeS3Handler.paths = []
    s3 = ThreadingHTTPServer(("127.0.0.1", 0), _FakeS3Handler)
    threading.Thread(target=s3.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{s3.server_address[1]}"
    try:
        with RekognitionStub(s3_endpoint=endpoint) as stub:
            client = boto3.client(
                "rekognition",
                endpoint_url=stub.url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            found = client.detect_labels(
                Image={"S3Object": {"Bucket": BUCKET, "Name": "ingest/a b.jpg"}}
            )
            missing = error_of(
                lambda: client.detect_labels(
                    Image={"S3Object": {"Bucket": BUCKET, "Name": "nope.jpg"}}
                )
            )
            calls = RekognitionStubClient(stub.url).calls()
    finally:
        s3.shutdown()
        s3.server_close()

    assert found["Labels"]
    assert calls[0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert missing[:2] == ("InvalidS3ObjectException", 400)
    assert _FakeS3Handler.paths[0] == "/images/ingest/a b.jpg"  # bucket in the path

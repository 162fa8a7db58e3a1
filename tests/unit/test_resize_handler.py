"""The resize function's orchestration and handler (lambdas/resize/resizing.py, app.py).

Fake S3 and SQS clients hold what the function writes; they raise botocore's
ClientError with the real error codes, like tests/unit/conftest.py's fakes.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from harness.build.fixtures import ImageSpec, render

UPLOAD, SERVED = "upload-bucket", "served-bucket"
QUEUE = "https://sqs.ap-northeast-2.amazonaws.com/123456789012/imgpipe-catalog"
JPEG = render(ImageSpec(width=1600, height=1200, seed=3))


class Objects:
    """S3 objects by (bucket, key), with every write and delete recorded."""

    def __init__(self, client_error) -> None:
        self.client_error = client_error
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.deleted: list[tuple[str, str]] = []
        self.fail_put_bucket: str | None = None

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if (Bucket, Key) not in self.objects:
            raise self.client_error("NoSuchKey", "GetObject", 404)
        body = self.objects[(Bucket, Key)]["Body"]
        return {"Body": io.BytesIO(body), "ContentLength": len(body)}

    def put_object(self, Bucket: str, Key: str, Body: bytes, **extra: Any) -> dict:
        if Bucket == self.fail_put_bucket:
            raise self.client_error("ServiceUnavailable", "PutObject", 503)
        self.objects[(Bucket, Key)] = {"Body": Body, **extra}
        return {}

    def delete_object(self, Bucket: str, Key: str) -> dict:
        self.deleted.append((Bucket, Key))
        self.objects.pop((Bucket, Key), None)
        return {}

    def keys(self, bucket: str) -> list[str]:
        return sorted(key for (b, key) in self.objects if b == bucket)

    def json(self, bucket: str, key: str) -> dict:
        return json.loads(self.objects[(bucket, key)]["Body"])


class Queue:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    def send_message(self, QueueUrl: str, MessageBody: str) -> dict:
        self.sent.append({"QueueUrl": QueueUrl, "Body": json.loads(MessageBody)})
        return {"MessageId": str(len(self.sent))}


@pytest.fixture
def resizing(load_lambda):
    return load_lambda("resize", "resizing")


@pytest.fixture
def s3(client_error) -> Objects:
    return Objects(client_error)


@pytest.fixture
def sqs() -> Queue:
    return Queue()


@pytest.fixture
def config(resizing):
    return resizing.Config(served_bucket=SERVED, queue_url=QUEUE)


def s3_event(*keys: str, event_name: str = "ObjectCreated:Put") -> dict:
    """What S3 sends to a Lambda notification (keys URL-encoded, spaces as +)."""
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": event_name,
                "s3": {
                    "bucket": {"name": UPLOAD, "arn": f"arn:aws:s3:::{UPLOAD}"},
                    "object": {"key": key, "size": 1234, "eTag": "0123abcd"},
                },
            }
            for key in keys
        ]
    }


def test_an_original_becomes_four_renditions_and_one_message(resizing, s3, sqs, config):
    s3.objects[(UPLOAD, "origin/actor/1234_2.jpg")] = {"Body": JPEG}
    s3.objects[(UPLOAD, "rejected/actor/1234_2.jpg.json")] = {"Body": b"{}"}  # an old rejection
    outcomes = resizing.process_event(
        s3_event("origin/actor/1234_2.jpg"), s3=s3, sqs=sqs, config=config
    )
    assert [o.status for o in outcomes] == ["resized"]
    assert s3.keys(SERVED) == [
        "actor/large/1234_large_2.jpg",
        "actor/medium/1234_medium_2.jpg",
        "actor/small/1234_small_2.jpg",
        "actor/thumb/1234_thumb_2.jpg",
    ]
    stored = s3.objects[(SERVED, "actor/large/1234_large_2.jpg")]
    assert stored["ContentType"] == "image/jpeg"
    assert stored["Metadata"] == {
        "source-key": "origin/actor/1234_2.jpg",
        "source-etag": "0123abcd",
    }
    assert [m["QueueUrl"] for m in sqs.sent] == [QUEUE]
    message = sqs.sent[0]["Body"]
    assert (message["version"], message["vertical"], message["cd_idx"], message["sequence"]) == (
        1,
        "actor",
        1234,
        2,
    )
    assert [(i["size"], i["width"], i["height"]) for i in message["images"]] == [
        ("large", 1280, 960),
        ("medium", 800, 600),
        ("small", 400, 300),
        ("thumb", 160, 120),
    ]
    assert all(i["bytes"] == len(s3.objects[(SERVED, i["key"])]["Body"]) for i in message["images"])
    assert message["source"]["key"] == "origin/actor/1234_2.jpg"
    assert message["source"]["size"] == len(JPEG)
    assert message["resized_at"].endswith("Z")
    assert (UPLOAD, "rejected/actor/1234_2.jpg.json") in s3.deleted


@pytest.mark.parametrize(
    ("key", "body", "code", "record"),
    [
        ("origin/actor/photo.jpg", JPEG, "BadName", "rejected/actor/photo.jpg.json"),
        ("origin/actor/12_1.png", JPEG, "BadName", "rejected/actor/12_1.png.json"),
        (
            "origin/actor/12_1.jpg",
            render(ImageSpec(format="png")),
            "NotJpeg",
            "rejected/actor/12_1.jpg.json",
        ),
        (
            "origin/actor/12_1.jpg",
            render(ImageSpec(damage="truncated", width=800, height=600)),
            "Unreadable",
            "rejected/actor/12_1.jpg.json",
        ),
        ("origin/actor/a/1_1.jpg", JPEG, "BadName", "rejected/actor/a/1_1.jpg.json"),
    ],
)
def test_rejects_get_a_record_with_the_reason_and_nothing_else(
    resizing, s3, sqs, config, key, body, code, record
):
    s3.objects[(UPLOAD, key)] = {"Body": body}
    outcomes = resizing.process_event(s3_event(key), s3=s3, sqs=sqs, config=config)
    assert [o.status for o in outcomes] == ["rejected"]
    document = s3.json(UPLOAD, record)
    assert document["code"] == code
    assert document["reason"]
    assert document["source"] == {"bucket": UPLOAD, "key": key, "etag": "0123abcd", "size": 1234}
    assert document["rejected_at"].endswith("Z")
    assert s3.keys(SERVED) == [] and sqs.sent == []


def test_the_seeds_own_upload_is_resized_and_catalogued(resizing, s3, sqs, config, load_lambda):
    """Seed B's runbook uploads to origin/ssgdfm_eye: an underscore in the vertical."""
    key = "origin/ssgdfm_eye/1001_1.jpg"
    s3.objects[(UPLOAD, key)] = {"Body": JPEG}
    outcomes = resizing.process_event(s3_event(key), s3=s3, sqs=sqs, config=config)
    assert [o.status for o in outcomes] == ["resized"]
    assert s3.keys(SERVED)[0] == "ssgdfm_eye/large/1001_large_1.jpg"
    assert "rejected/ssgdfm_eye/1001_1.jpg.json" not in s3.keys(UPLOAD)
    # The loader (a separate zip) accepts the message and keeps where each rendition lives.
    catalog_rows = load_lambda("catalog_loader", "catalog_rows")
    rows = catalog_rows.rows_from_message(json.dumps(sqs.sent[0]["Body"]), "image.example.com")
    assert [(r.vertical, r.image_size, r.s3_bucket, r.s3_key) for r in rows] == [
        ("ssgdfm_eye", size, SERVED, f"ssgdfm_eye/{size}/1001_{size}_1.jpg")
        for size in ("large", "medium", "small", "thumb")
    ]
    assert rows[0].url == "https://image.example.com/ssgdfm_eye/large/1001_large_1.jpg"


@pytest.mark.parametrize(
    ("key", "part", "value", "rule_fragment"),
    [
        ("origin/SSGDFM_eye/1_1.jpg", "vertical", "SSGDFM_eye", "lowercase letters, digits, under"),
        ("origin/ssgdfm_eye/1_1.JPG", "file name", "1_1.JPG", "{cd_idx}_{sequence}.jpg"),
        ("origin/ssgdfm_eye/x/1_1.jpg", "key", "origin/ssgdfm_eye/x/1_1.jpg", "one folder"),
    ],
)
def test_a_bad_name_record_names_the_rule_and_the_offending_part(
    resizing, s3, sqs, config, key, part, value, rule_fragment
):
    s3.objects[(UPLOAD, key)] = {"Body": JPEG}
    resizing.process_event(s3_event(key), s3=s3, sqs=sqs, config=config)
    document = s3.json(UPLOAD, resizing.rejection_key(key, config))
    assert document["code"] == "BadName"
    assert document["part"] == {"name": part, "value": value}
    assert rule_fragment in document["rule"]
    assert value in document["reason"]


def header_only_bomb(width: int, height: int) -> bytes:
    """A small JPEG's headers declaring width x height, without its scan data."""
    data = bytearray(render(ImageSpec(width=16, height=16)))
    sof = next(
        i for i in range(2, len(data) - 1) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC2)
    )
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    sos = data.index(b"\xff\xda", sof)
    return bytes(data[: sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")])


@pytest.mark.parametrize(("width", "height"), [(20_000, 20_000), (12_000, 10_000)])
def test_a_decompression_bomb_is_rejected_not_retried(
    resizing, s3, sqs, config, monkeypatch, width, height
):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
    bomb = header_only_bomb(width, height)
    assert len(bomb) < 2_000
    key = "origin/actor/66_1.jpg"
    s3.objects[(UPLOAD, key)] = {"Body": bomb}
    outcomes = resizing.process_event(s3_event(key), s3=s3, sqs=sqs, config=config)  # no raise
    assert [o.status for o in outcomes] == ["rejected"]
    document = s3.json(UPLOAD, "rejected/actor/66_1.jpg.json")
    assert document["code"] == "TooManyPixels"
    assert f"{width}x{height}" in document["reason"]
    assert "100000000 pixels" in document["rule"]
    assert s3.keys(SERVED) == [] and sqs.sent == []


def test_url_encoded_keys_are_decoded_before_the_rule_is_applied(resizing, s3, sqs, config):
    s3.objects[(UPLOAD, "origin/actor/1 2.jpg")] = {"Body": JPEG}
    outcomes = resizing.process_event(
        s3_event("origin/actor/1+2.jpg"), s3=s3, sqs=sqs, config=config
    )
    assert outcomes[0].status == "rejected"
    assert s3.json(UPLOAD, "rejected/actor/1 2.jpg.json")["source"]["key"] == "origin/actor/1 2.jpg"


def test_oversized_upload_is_rejected_without_reading_it(resizing, s3, sqs, resizing_config_small):
    event = s3_event("origin/actor/1_1.jpg")
    event["Records"][0]["s3"]["object"]["size"] = 10_000
    outcomes = resizing.process_event(event, s3=s3, sqs=sqs, config=resizing_config_small)
    assert outcomes[0].detail.startswith("TooLarge")


@pytest.fixture
def resizing_config_small(resizing):
    return resizing.Config(served_bucket=SERVED, queue_url=QUEUE, max_source_bytes=5_000)


def test_an_object_deleted_before_resizing_is_skipped(resizing, s3, sqs, config):
    outcomes = resizing.process_event(
        s3_event("origin/actor/1_1.jpg"), s3=s3, sqs=sqs, config=config
    )
    assert [(o.status, o.detail) for o in outcomes] == [
        ("skipped", "deleted before it was resized")
    ]


def test_folder_markers_and_other_events_are_skipped(resizing, s3, sqs, config):
    outcomes = resizing.process_event(s3_event("origin/actor/"), s3=s3, sqs=sqs, config=config)
    outcomes += resizing.process_event(
        s3_event("origin/actor/1_1.jpg", event_name="ObjectRemoved:Delete"),
        s3=s3,
        sqs=sqs,
        config=config,
    )
    assert [o.status for o in outcomes] == ["skipped", "skipped"]
    assert sqs.sent == []


def test_a_failing_write_raises_after_trying_every_object(resizing, s3, sqs, config):
    s3.objects[(UPLOAD, "origin/actor/1_1.jpg")] = {"Body": JPEG}
    s3.objects[(UPLOAD, "origin/actor/bad.jpg")] = {"Body": JPEG}
    s3.fail_put_bucket = SERVED
    with pytest.raises(RuntimeError, match=r"origin/actor/1_1.jpg: ClientError"):
        resizing.process_event(
            s3_event("origin/actor/1_1.jpg", "origin/actor/bad.jpg"),
            s3=s3,
            sqs=sqs,
            config=config,
        )
    assert sqs.sent == []  # no message for renditions that were not written
    assert "rejected/actor/bad.jpg.json" in s3.keys(UPLOAD)  # the other object was handled


def test_sizes_and_limits_come_from_the_environment(resizing):
    config = resizing.Config.from_env(
        {
            "SERVED_BUCKET": SERVED,
            "QUEUE_URL": QUEUE,
            "IMAGE_SIZES": "big=1000, tiny=50",
            "JPEG_QUALITY": "70",
            "MAX_SOURCE_PIXELS": "2000000",
        }
    )
    assert config.sizes == {"big": 1000, "tiny": 50}
    assert (config.jpeg_quality, config.max_source_pixels) == (70, 2_000_000)
    assert resizing.Config.from_env({"SERVED_BUCKET": SERVED, "QUEUE_URL": QUEUE}).sizes == {
        "large": 1280,
        "medium": 800,
        "small": 400,
        "thumb": 160,
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QUEUE_URL": QUEUE}, "SERVED_BUCKET"),
        ({"SERVED_BUCKET": SERVED, "QUEUE_URL": QUEUE, "IMAGE_SIZES": "big"}, "name=longest_edge"),
        ({"SERVED_BUCKET": SERVED, "QUEUE_URL": QUEUE, "IMAGE_SIZES": "Big=10"}, "lowercase"),
        ({"SERVED_BUCKET": SERVED, "QUEUE_URL": QUEUE, "IMAGE_SIZES": "a=9999"}, "16-8192"),
        ({"SERVED_BUCKET": SERVED, "QUEUE_URL": QUEUE, "IMAGE_SIZES": "a=20,a=30"}, "twice"),
        ({"SERVED_BUCKET": SERVED, "QUEUE_URL": QUEUE, "JPEG_QUALITY": "100"}, "JPEG_QUALITY"),
    ],
)
def test_bad_settings_fail_loudly(resizing, env, message):
    with pytest.raises(ValueError, match=message):
        resizing.Config.from_env(env)


def test_handler_summarises_the_outcomes(load_lambda, s3, sqs, lambda_context, monkeypatch):
    app = load_lambda("resize", "app")
    monkeypatch.setattr(app, "_clients", {"s3": s3, "sqs": sqs})
    monkeypatch.setenv("SERVED_BUCKET", SERVED)
    monkeypatch.setenv("QUEUE_URL", QUEUE)
    monkeypatch.delenv("IMAGE_SIZES", raising=False)
    s3.objects[(UPLOAD, "origin/actor/7_1.jpg")] = {"Body": JPEG}
    s3.objects[(UPLOAD, "origin/actor/notes.txt")] = {"Body": b"hello"}
    summary = app.handler(
        s3_event("origin/actor/7_1.jpg", "origin/actor/notes.txt", "origin/actor/"), lambda_context
    )
    assert summary == {
        "resized": ["origin/actor/7_1.jpg"],
        "rejected": ["origin/actor/notes.txt"],
        "skipped": ["origin/actor/"],
    }
    assert len(sqs.sent) == 1

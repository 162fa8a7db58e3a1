"""Replay trusts nothing in a recording: keys never reach outside `--objects`, every
malformed entry is one `file:line: reason`, and large recordings are read in one pass.

No AWS: planning runs with the stack "not running", and materialising objects runs
against an in-memory S3 that records what was put.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import config
from harness.cli import replay as replay_cli
from harness.events import recordings, replay
from harness.systems.labeling.pipeline import LabelingPipeline

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"
SECRET = b"outside the objects folder: must never be uploaded"
REWRITER = replay.Rewriter(default_bucket="local-images", region="us-east-1", account="0" * 12)


def s3_event(key: str, bucket: str = "prod-image-upload", name: str = "ObjectCreated:Put"):
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": name,
                "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}},
            }
        ]
    }


def recording(tmp_path: Path, *payloads: object, name: str = "rec.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(p) + "\n" for p in payloads), encoding="utf-8")
    return path


def plan(recorded, objects_dir: Path | None):
    options = replay.Options(to="queue", objects_dir=objects_dir)
    return replay.plan(None, recorded, REWRITER, options, stack_running=False)  # type: ignore[arg-type]


# --- keys and --objects -----------------------------------------------------------


@pytest.fixture
def objects(tmp_path: Path) -> Path:
    """An --objects folder beside a file that must stay unread."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    folder = tmp_path / "objects"
    (folder / "ingest").mkdir(parents=True)
    (folder / "ingest" / "inside.jpg").write_bytes(b"inside bytes")
    (folder / "plain.jpg").write_bytes(b"found by file name")
    return folder


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("../secret.txt", "has a '..' segment"),
        ("ingest/../../secret.txt", "has a '..' segment"),
        ("..", "has a '..' segment"),
        ("{root}/secret.txt", "is an absolute path"),
        ("/etc/passwd", "is an absolute path"),
        ("ingest/a\0b.jpg", "holds a NUL character"),
    ],
)
def test_keys_that_are_paths_out_of_the_folder_are_refused_naming_the_record(
    tmp_path, objects, key, why
):
    key = key.format(root=tmp_path)
    recorded, errors = recordings.read(
        [recording(tmp_path, s3_event("ingest/inside.jpg"), s3_event(key))]
    )
    assert errors == []

    good, bad = plan(recorded, objects)

    assert good.objects[0].source == f"file {objects.resolve() / 'ingest' / 'inside.jpg'}"
    assert good.refused == []
    [obj] = bad.objects
    assert (obj.source, obj.path) == ("refused", None)
    [message] = bad.refused
    assert message.startswith(f"{tmp_path / 'rec.jsonl'}:2: refused with --objects: key ")
    assert why in message


def test_without_objects_folder_such_keys_get_a_placeholder(tmp_path):
    recorded, _ = recordings.read([recording(tmp_path, s3_event("../secret.txt"))])
    [event] = plan(recorded, None)
    assert (event.objects[0].source, event.refused) == ("placeholder", [])


def test_symbolic_links_out_of_the_folder_are_refused(tmp_path, objects):
    (objects / "ingest" / "link.jpg").symlink_to(tmp_path / "secret.txt")
    (objects / "escape").symlink_to(tmp_path, target_is_directory=True)
    (objects / "ingest" / "ok.jpg").symlink_to(objects / "plain.jpg")  # stays inside
    recorded, _ = recordings.read(
        [
            recording(
                tmp_path,
                s3_event("ingest/link.jpg"),
                s3_event("escape/secret.txt"),
                s3_event("ingest/ok.jpg"),
                s3_event("elsewhere/plain.jpg"),  # DIR/<file name>
            )
        ]
    )

    link, escape, ok, by_name = plan(recorded, objects)

    assert "leads outside the --objects folder" in link.refused[0]
    assert "leads outside the --objects folder" in escape.refused[0]
    assert ok.objects[0].path == (objects / "plain.jpg").resolve()
    assert by_name.objects[0].path == (objects / "plain.jpg").resolve()


class MemoryS3:
    """Just enough S3 for `materialize`: what was put, by (bucket, key)."""

    class exceptions:
        class ClientError(Exception):
            pass

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def get_bucket_notification_configuration(self, Bucket):
        return {"QueueConfigurations": []}

    def put_bucket_notification_configuration(self, Bucket, NotificationConfiguration):
        pass

    def put_object(self, Bucket, Key, Body, ContentType):
        self.objects[(Bucket, Key)] = Body

    def head_object(self, Bucket, Key):
        if (Bucket, Key) not in self.objects:
            raise self.exceptions.ClientError("404")
        return {"ContentLength": len(self.objects[(Bucket, Key)]), "ETag": '"e"'}


class FakePipeline:
    def __init__(self, state_dir: Path) -> None:
        self.s3 = MemoryS3()
        self.settings = type("Settings", (), {"state_dir": state_dir})()


def test_refused_objects_are_never_read_nor_put_and_a_link_swapped_in_later_is_refused(
    tmp_path, objects
):
    recorded, _ = recordings.read(
        [
            recording(
                tmp_path,
                s3_event("../secret.txt"),
                s3_event("ingest/inside.jpg"),
                s3_event("plain.jpg"),
            )
        ]
    )
    planned = plan(recorded, objects)
    # Between the plan and the upload, a file is replaced by a link out of the folder.
    (objects / "plain.jpg").unlink()
    (objects / "plain.jpg").symlink_to(tmp_path / "secret.txt")
    pipeline = FakePipeline(tmp_path / "state")

    errors = replay.materialize(pipeline, planned, progress=lambda _: None)  # type: ignore[arg-type]

    assert SECRET not in pipeline.s3.objects.values()
    assert pipeline.s3.objects == {("local-images", "ingest/inside.jpg"): b"inside bytes"}
    assert errors[("local-images", "../secret.txt")].startswith(f"{tmp_path / 'rec.jsonl'}:1: ")
    assert "leads outside" in errors[("local-images", "plain.jpg")]
    assert planned[1].event["Records"][0]["s3"]["object"]["size"] == len(b"inside bytes")


# --- malformed entries ------------------------------------------------------------

VALID = s3_event("ingest/ok.jpg")
MALFORMED = [
    ({"Records": [{"s3": None}]}, "S3 event: Records[0].s3 is null, not an object"),
    ({"Records": [{"s3": []}]}, "S3 event: Records[0].s3 is a list, not an object"),
    (
        {"Records": [{"s3": {"object": {"key": "k"}}}]},
        "S3 event: Records[0].s3.bucket is missing",
    ),
    (
        {"Records": [{"s3": {"bucket": None, "object": {"key": "k"}}}]},
        "S3 event: Records[0].s3.bucket is null, not an object",
    ),
    (
        {"Records": [{"s3": {"bucket": {"name": 5}, "object": {"key": "k"}}}]},
        "S3 event: Records[0].s3.bucket.name is a number, not a string",
    ),
    (
        {"Records": [{"s3": {"bucket": {"name": "b"}}}]},
        "S3 event: Records[0].s3.object is missing",
    ),
    (
        {"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": ["k"]}}}]},
        "S3 event: Records[0].s3.object.key is a list, not a string",
    ),
    (
        {"Records": [VALID["Records"][0], {"s3": None}]},
        "S3 event: Records[1].s3 is null, not an object",
    ),
    (
        {"Records": [VALID["Records"][0] | {"eventName": True}]},
        "S3 event: Records[0].eventName is a boolean, not a string",
    ),
    ({"Records": []}, "Records is empty"),
    ({"Records": None}, "unknown shape"),
    ({"Records": "x"}, "unknown shape"),
    ({}, "unknown shape: not an S3 event notification"),
    ([], "a JSON list, not an object"),
    ("text", "a JSON str, not an object"),
    (None, "a JSON NoneType, not an object"),
    ({"Type": "Notification", "Message": None}, "SNS Message is not a JSON object"),
    (
        {"Type": "Notification", "Message": json.dumps({"Records": [{"s3": None}]})},
        "SNS Message: Records[0].s3 is null, not an object",
    ),
    (
        {"MessageId": "m", "Body": {"Records": [{"s3": {"bucket": {}}}]}},
        "SQS Body: Records[0].s3.bucket.name is missing",
    ),
    ({"Records": [{"eventSource": "aws:sqs", "body": None}]}, "Records[0]: SQS body is not"),
    ({"Records": [{"EventSource": "aws:sns", "Sns": None}]}, "Records[0]: unknown shape"),
    ({"Messages": [None]}, "Messages[0]: a JSON NoneType, not an object"),
    ({"source": "aws.s3", "detail-type": "Object Created", "detail": ["x"]}, "detail is not"),
    (
        {"source": "aws.s3", "detail-type": ["Object Created"], "detail": {}},
        "detail is not an object",
    ),
    (
        {"source": "aws.s3", "detail-type": "Object Created", "detail": {"reason": ["Put"]}},
        "detail.reason is a list, not a string",
    ),
    (
        {
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {"bucket": "b", "object": "k"},
        },
        "without detail.bucket.name or detail.object.key",
    ),
]


def test_every_malformed_shape_is_one_file_line_reason_and_the_rest_still_plans(tmp_path):
    path = recording(tmp_path, VALID, *(payload for payload, _ in MALFORMED), VALID)

    recorded, errors = recordings.read([path])

    assert [e.location.line for e in recorded] == [1, len(MALFORMED) + 2]
    assert [e.location.line for e in errors] == list(range(2, len(MALFORMED) + 2))
    for error, (payload, reason) in zip(errors, MALFORMED, strict=True):
        assert reason in error.reason, (payload, error.reason)
        assert str(error).startswith(f"{path}:{error.location.line}: ")
    planned = plan(recorded, tmp_path)
    assert [p.objects[0].key for p in planned] == ["ingest/ok.jpg", "ingest/ok.jpg"]


def test_dry_run_reports_malformed_and_refused_entries_and_exits_1(tmp_path, monkeypatch):
    path = recording(tmp_path, VALID, {"Records": [{"s3": None}]}, s3_event("../x.jpg"))
    outputs = {"bucket": "local-images", "region": "us-east-1", "account_id": "0" * 12}
    pipeline = LabelingPipeline(config.load(), outputs)
    monkeypatch.setattr(replay_cli, "_running_pipeline", lambda **_: pipeline)
    monkeypatch.setattr(replay_cli.localstack, "health", lambda endpoint: None)

    result = CliRunner().invoke(
        replay_cli.replay,
        [str(path), "--dry-run", "--json", "--to", "queue", "--objects", str(tmp_path)],
    )

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert report["unreadable"] == [f"{path}:2: S3 event: Records[0].s3 is null, not an object"]
    assert report["refused"] == [
        f"{path}:3: refused with --objects: key '../x.jpg' has a '..' segment"
    ]
    assert [p["object_sources"] for p in report["plan"]] == [["placeholder"], ["refused"]]


# --- reading large recordings -----------------------------------------------------


def test_a_50k_record_array_is_read_with_the_line_of_each_record(tmp_path):
    count = 50_000
    records = [s3_event(f"ingest/{i}.jpg") for i in range(count)]
    path = tmp_path / "big.json"
    # One record a line after the opening bracket, except the first, pretty-printed.
    first = json.dumps(records[0], indent=1)
    rest = ",\n".join(json.dumps(r) for r in records[1:])
    path.write_text("[\n" + first + ",\n" + rest + "\n]\n", encoding="utf-8")
    first_lines = first.count("\n") + 1

    recorded, errors = recordings.read([path])

    assert errors == []
    assert len(recorded) == count
    assert recorded[0].location.line == 2
    assert recorded[1].location.line == 2 + first_lines
    assert recorded[-1].location.line == 2 + first_lines + count - 2
    assert recorded[-1].event["Records"][0]["s3"]["object"]["key"] == f"ingest/{count - 1}.jpg"


class CountingText(str):
    """A text that adds up how many characters `count` was asked to scan."""

    scanned = 0

    def count(self, sub, start=None, end=None):  # type: ignore[override]
        start = 0 if start is None else start
        end = len(self) if end is None else end
        CountingText.scanned += max(0, end - start)
        return super().count(sub, start, end)


def test_line_numbers_of_an_array_cost_one_pass_over_the_text():
    elements = [json.dumps({"n": i}) for i in range(2_000)]
    text = CountingText("[\n" + ",\n".join(elements) + "\n]")
    CountingText.scanned = 0

    items = list(recordings._array_items(text, 0, recordings._Lines(text), json.JSONDecoder()))

    assert [line for line, _ in items] == list(range(2, 2_002))
    assert CountingText.scanned <= len(text)  # counting from the start each time: ~n²/2


def test_json_lines_are_streamed_line_by_line(tmp_path, monkeypatch):
    good = json.dumps(VALID).encode()
    path = tmp_path / "rec.jsonl"
    path.write_bytes(good + b"\n" + b'{"bad": "\xff"}\n' + good + b"\n")
    for method in ("read_text", "read_bytes"):  # the file is never read whole
        monkeypatch.setattr(Path, method, lambda *a, **k: pytest.fail("read whole"))

    recorded, errors = recordings.read([path])

    assert [e.location.line for e in recorded] == [1, 3]
    assert [(e.location.line, e.reason) for e in errors] == [
        (2, "not UTF-8 text (byte 10 of the line)")
    ]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('[\n{"a": 1},\n{"a": 2}\n{"a": 3}\n]', 4, "not JSON: Expecting ',' delimiter"),
        ('[\n{"a": 1},\n]', 3, "not JSON: Expecting value"),
        ('[\n{"a": 1}\n', 3, "not JSON: Expecting ',' delimiter"),
        ('{\n"a": 1\n}\n\nx', 5, "not JSON: Extra data"),
        ("[\n" + "[" * 100_000, 2, "not readable: nested too deeply"),
    ],
)
def test_broken_arrays_are_reported_where_they_break(tmp_path, text, line, reason):
    path = tmp_path / "broken.json"
    path.write_text(text)
    _, errors = recordings.read([path])
    assert [(e.location.line, e.reason[: len(reason)]) for e in errors][-1:] == [(line, reason)]


def test_a_byte_order_mark_and_blank_lead_are_fine(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf\n\n" + json.dumps(VALID).encode())
    recorded, errors = recordings.read([path])
    assert (errors, [e.location.line for e in recorded]) == ([], [3])


def test_an_unreadable_file_is_one_error(tmp_path, monkeypatch):
    path = tmp_path / "locked.jsonl"
    path.write_text("{}\n{}\n")

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)
    _, errors = recordings.read([path])
    assert [(e.location.line, e.reason[:26]) for e in errors] == [(0, "cannot read the file: [Err")]

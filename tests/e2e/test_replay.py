"""`harness replay` and `harness record` on the real local stack (system A deployed)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.build.fixtures import ImageSpec, render
from harness.cli import main
from harness.events import record, recordings, replay
from harness.events.shapes import object_refs

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"
SHAPES = {
    "s3-event-notification.json": ("s3-event", ["ingest/summer trip/beach day +1.jpg"]),
    "sns-notification.json": ("sns-envelope", ["ingest/서울 야경.jpg"]),
    "sqs-receive-message.json": ("sqs-message", ["ingest/고양이/사진 1.png"]),
    "sqs-lambda-record.json": ("sqs-record", ["ingest/lambda/single record.jpeg"]),
    "sqs-lambda-event.json": (
        "sqs-lambda-event",
        ["ingest/batch/first.png", "ingest/batch/두 번째.JPG"],
    ),
    "eventbridge-object-created.json": ("eventbridge", ["ingest/eventbridge/부산 항구.jpg"]),
}


def replay_files(labeling, paths, **options) -> list[replay.EventReport]:
    recorded, errors = recordings.read(paths)
    assert errors == []
    rewriter = replay.Rewriter(
        default_bucket=labeling.bucket,
        region=labeling.outputs["region"],
        account=labeling.outputs["account_id"],
    )
    # A message that fails reaches the DLQ after 3 receives x 24 s (envs/local).
    opts = replay.Options(timeout=150, **options)
    planned = replay.plan(labeling, recorded, rewriter, opts)
    return replay.run(labeling, planned, opts, progress=lambda m: None)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_each_recorded_shape_is_replayed_through_the_topic_to_a_result(labeling, name):
    shape, keys = SHAPES[name]
    reports = replay_files(labeling, [EVENTS / name])
    assert [r.planned.recorded.shape for r in reports] == [shape] * len(keys)
    assert [r.status for r in reports] == ["result"] * len(keys), [r.detail for r in reports]
    for key in keys:
        result = labeling.result(key)
        assert result["source"]["key"] == key
        assert result["Labels"], "the Rekognition stub labels every image"
        head = labeling.s3.head_object(Bucket=labeling.bucket, Key=key)
        assert result["source"]["etag"] == head["ETag"].strip('"')  # the local object's
    # Objects were put in place with notifications suspended: one labeling per event.
    assert sorted(call["key"] for call in labeling.rekognition.calls()) == sorted(keys)
    assert all(r.seconds is not None and r.seconds >= 0 for r in reports)


def test_the_filter_policy_applies_when_publishing_to_the_topic(labeling):
    reports = replay_files(labeling, [EVENTS / "recording.jsonl"])
    assert [(r.planned.recorded.location.line, r.status) for r in reports] == [
        (1, "result"),
        (2, "filtered"),
        (3, "filtered"),
    ]
    assert "filter policy" in reports[1].detail
    # The delivered event was labeled; the filtered one reached nothing.
    assert labeling.result("ingest/recorded/midnight upload.jpg") is not None
    called = {call["key"] for call in labeling.rekognition.calls()}
    assert called == {"ingest/recorded/midnight upload.jpg"}
    assert labeling.keys("failures/") == []


def test_straight_to_the_queue_skips_the_filter_and_reports_the_dlq_reason(labeling):
    reports = replay_files(labeling, [EVENTS / "recording.jsonl"], to="queue")
    by_line = {r.planned.recorded.location.line: r for r in reports}
    assert by_line[1].status == "result"
    assert by_line[3].status == "ignored"  # s3:TestEvent: the labeler acknowledges it
    outside = by_line[2]
    assert outside.status == "dlq", outside.detail
    assert "KeyOutsideIngestPrefix" in outside.detail
    assert f"after {labeling.outputs['max_receive_count']} attempts" in outside.detail
    assert outside.failed and not by_line[1].failed
    letters = labeling.dead_letters()
    assert [letter.objects for letter in letters] == [["uploads/raw/not-under-ingest.jpg"]]


def test_objects_come_from_the_folder_given(labeling, tmp_path):
    photo = render(ImageSpec(format="png", width=161, height=97, seed=42))
    (tmp_path / "ingest" / "서울 야경.jpg").parent.mkdir(parents=True)
    (tmp_path / "ingest" / "서울 야경.jpg").write_bytes(photo)
    reports = replay_files(labeling, [EVENTS / "sns-notification.json"], objects_dir=tmp_path)
    assert reports[0].planned.objects[0].source.startswith("file ")
    assert reports[0].status == "result", reports[0].detail
    stored = labeling.s3.get_object(Bucket=labeling.bucket, Key="ingest/서울 야경.jpg")
    assert stored["Body"].read() == photo
    assert labeling.result("ingest/서울 야경.jpg")["source"]["size"] == len(photo)


def test_record_captures_the_topic_and_replay_reads_it_back(labeling, tmp_path):
    out = tmp_path / "captured.jsonl"
    ready = threading.Event()
    done: dict = {}
    keys = ["ingest/rec/첫 번째.jpg", "ingest/rec/two+plus.png"]

    def capture() -> None:
        done["recording"] = record.record(
            labeling, out, count=2, duration=60, on_ready=ready.set, progress=lambda m: None
        )

    thread = threading.Thread(target=capture)
    thread.start()
    assert ready.wait(30)
    labeling.upload(keys[0], render(ImageSpec(seed=5)))
    labeling.upload(keys[1], render(ImageSpec(format="png", seed=6)), "image/png")
    thread.join(90)
    assert done["recording"].written == 2
    lines = out.read_text(encoding="utf-8").splitlines()
    assert all(json.loads(line)["Type"] == "Notification" for line in lines)
    assert sorted(ref.key for line in lines for ref in object_refs(line)) == sorted(keys)
    # The temporary queue and subscription are gone.
    subscriptions = labeling.sqs.list_queues(QueueNamePrefix=f"{labeling.settings.name_prefix}-tap")
    assert subscriptions.get("QueueUrls", []) == []

    labeling.reset()
    reports = replay_files(labeling, [out])
    assert [r.planned.recorded.shape for r in reports] == ["sns-envelope", "sns-envelope"]
    assert [r.status for r in reports] == ["result", "result"]
    assert sorted(labeling.result(key)["source"]["key"] for key in keys) == sorted(keys)


def test_cli_reports_unreadable_lines_and_exits_1_but_replays_the_rest(labeling, tmp_path):
    good = (EVENTS / "recording.jsonl").read_text(encoding="utf-8").splitlines()[0]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(f'{good}\n{{"Records": [\nnot json at all\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["replay", str(mixed), "--json", "--timeout", "60"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert [event["status"] for event in report["events"]] == ["result"]
    assert report["unreadable"] == [
        f"{mixed}:2: not JSON: Expecting value (column 14)",
        f"{mixed}:3: not JSON: Expecting value (column 1)",
    ]


def test_cli_dry_run_changes_nothing(labeling):
    result = CliRunner().invoke(main, ["replay", str(EVENTS), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["plan"]
    assert len(plan) == 10
    assert {p["status"] for p in plan} == {"pending"}
    assert labeling.keys("") == []
    assert labeling.rekognition.calls() == []


def test_a_whole_folder_in_any_order_at_a_limited_rate(labeling):
    reports = replay_files(labeling, [EVENTS], keep_order=False, rate=20)
    statuses = sorted(r.status for r in reports)
    assert statuses == ["filtered"] * 2 + ["result"] * 8
    assert len(labeling.rekognition.calls()) == 8

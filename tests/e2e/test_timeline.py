"""Timelines from the real stack: a tap on the topic, the functions' logs, the stubs."""

from __future__ import annotations

import time
import uuid

from harness.build import fixtures
from harness.observe import browser, report, timeline
from harness.observe.report import SCHEMA
from harness.observe.tap import Tap
from harness.util.waiting import wait_for

# One of each, for an image labeled at the first attempt.
GOOD_HOPS = [
    "upload",
    "sns_publish",
    "sqs_delivery",
    "sqs_receive",
    "lambda",
    "rekognition",
    "result",
]


def names(hops: list[dict]) -> list[str]:
    return [hop["hop"] for hop in hops]


def first(hops: list[dict], name: str) -> dict:
    return next(hop for hop in hops if hop["hop"] == name)


def test_timelines_follow_good_and_poison_objects_to_result_dlq_alarm_and_slack(labeling, tmp_path):
    folder = f"ingest/tl-{uuid.uuid4().hex[:8]}/"
    good = [folder + "street.jpg", folder + "알파 채널/alpha +1.png"]
    poison, never = folder + "poison.jpg", folder + "never-uploaded.jpg"
    since = time.time()
    with Tap(labeling) as tap:
        labeling.upload(good[0], fixtures.data("jpeg-baseline"))
        labeling.upload(good[1], fixtures.data("png-alpha"), "image/png")
        labeling.upload(poison, fixtures.data("jpeg-truncated"))
        for key in good:
            labeling.wait_result(key)
        wait_for(labeling.dlq_depth, 150, "poison message in the DLQ", interval=0.5)
        # The alarm fires by itself 20-40 s later (2 of 2 periods of 10 s); forcing
        # an OK -> ALARM transition is quicker and sure, and its notification still goes
        # topic -> notifier Lambda -> Slack sink.
        alarm_set_at = 0.0
        for state in ("OK", "ALARM"):
            alarm_set_at = time.time()
            labeling.cloudwatch.set_alarm_state(
                AlarmName=labeling.outputs["alarm_name"],
                StateValue=state,
                StateReason=f"{state} set by the timeline test",
            )
        wait_for(
            lambda: [m for m in labeling.slack.messages() if m["received_at"] >= alarm_set_at],
            30,
            "Slack post of the forced alarm",
        )
        hops = timeline.collect(labeling, [*good, poison, never], since, tap)

    assert set(hops) == {*good, poison, never}
    for key in good:
        found = hops[key]
        assert sorted(names(found)) == sorted(GOOD_HOPS), found
        at = {hop["hop"]: hop["at"] for hop in found}
        # Each subscriber's chain in order. Across the two, LocalStack's SNS Timestamp
        # is stamped per copy at delivery (infra/envs/differences.yaml), so the tap's
        # publish hop may follow the labeler's receive by a few milliseconds.
        assert since <= at["upload"] <= at["sns_publish"] <= at["sqs_delivery"]
        assert at["upload"] <= at["sqs_receive"] <= at["rekognition"] <= at["result"]
        assert first(found, "sns_publish")["detail"]["via"] == "SNS Timestamp of the tap's copy"
        assert first(found, "upload")["detail"]["via"] == "S3 event time"
        assert first(found, "sqs_delivery")["detail"]["queue"] == tap.queue_name
        assert first(found, "sqs_receive")["detail"]["receive_count"] == 1
        invocation = first(found, "lambda")["detail"]
        assert invocation["function"] == "labeler" and invocation["outcome"] == "labeled"
        assert invocation["duration_ms"] > 0 and invocation["error"] is None
        assert first(found, "rekognition")["detail"]["outcome"] == "labels"
        result = first(found, "result")["detail"]
        assert result["result_key"] == labeling.result_key(key) and result["label_count"] > 0
        assert names(found)[0] == "upload" and names(found)[-1] == "result"

    found = hops[poison]
    attempts = int(labeling.outputs["max_receive_count"])
    receives = [h["detail"]["receive_count"] for h in found if h["hop"] == "sqs_receive"]
    assert receives == list(range(1, attempts + 1))
    failures = [h["detail"] for h in found if h["hop"] == "lambda" and h["detail"]["error"]]
    assert len(failures) == attempts
    assert all(f["error_code"] == "InvalidImageFormatException" for f in failures)
    calls = [h["detail"]["error"] for h in found if h["hop"] == "rekognition"]
    assert calls == ["InvalidImageFormatException"] * attempts
    dead = first(found, "dlq")
    assert dead["detail"]["attempts"] == attempts
    assert "invalid image format" in dead["detail"]["error"]
    assert "result" not in names(found)
    after = found[names(found).index("dlq") :]
    alarms = [h for h in after if h["hop"] == "alarm" and h["detail"]["to"] == "ALARM"]
    assert alarms, after
    forced = next(h for h in alarms if h["detail"]["reason"] == "ALARM set by the timeline test")
    assert alarm_set_at <= forced["at"]  # the change's own time, not the one before it
    posts = [h for h in after if h["hop"] == "slack" and h["at"] >= forced["at"]]
    assert posts and labeling.outputs["alarm_name"] in posts[0]["detail"]["text"]
    notifier = [h for h in after if h["hop"] == "lambda" and h["detail"]["function"] == "notifier"]
    assert notifier and notifier[-1]["detail"]["duration_ms"] > 0
    assert not any(h["hop"] in {"alarm", "slack"} for key in good for h in hops[key])

    assert names(hops[never]) == ["no_trace"]

    run = {
        "schema": SCHEMA,
        "started_at": since,
        "finished_at": time.time(),
        "target": "local",
        "scenarios": [
            {
                "name": "timeline e2e",
                "file": __file__,
                "status": "passed",
                "reason": None,
                "duration_s": time.time() - since,
                "steps": [],
                "objects": hops,
                "counts": {"objects": len(hops)},
            }
        ],
    }
    html_path = report.write(run, tmp_path)[1]
    dom = browser.Dom(browser.dump_dom(html_path))
    # One waterfall row per hop, its state in its class.
    rows = dom.having_class("hop-row")
    assert len(rows) == sum(len(h) for h in hops.values())
    erroneous = sum(1 for found in hops.values() for hop in found if hop["detail"].get("error"))
    assert erroneous == 2 * attempts + 2  # labeler runs and Rekognition calls, DLQ, no_trace
    assert sum("error" in row["class"].split() for row in rows) == erroneous

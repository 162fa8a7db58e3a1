"""`docker compose up` runs the whole demo, systems A and B, and its outcomes are there.

The stack (tests/docker/conftest.py: `compose_stack`) is up and the demo container has
exited 0. What it did is checked through LocalStack's published port (the results),
the demo's log (the Slack payload: system B's part resets the sink afterwards), and the
harness's own commands in a container of the stack (the DLQ with its reason; `harness
verify`: 4 rows per image).
"""

from __future__ import annotations

import json

import boto3
import docker_lane as lane
import pytest

from harness.systems.catalog import demo as catalog_demo
from harness.systems.labeling import demo as labeling_demo

SIZES = 4  # rows (and served objects) per image: large, medium, small, thumb


def _harness(compose: lane.Compose, *args: str) -> str:
    """Run `harness ARGS` in a one-off container of the demo service (no new deploy)."""
    done = compose.run("run", "--rm", "--no-deps", "-T", "demo", "harness", *args, timeout=600)
    if done.returncode != 0:
        raise compose.failure(f"`harness {' '.join(args)}`", done.stdout + done.stderr)
    return done.stdout


@pytest.fixture(scope="module")
def s3(lane_ports):
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{lane_ports['HARNESS_PORT']}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _objects(s3, prefix: str) -> set[str]:
    keys = set()
    for bucket in s3.list_buckets()["Buckets"]:
        listed = s3.list_objects_v2(Bucket=bucket["Name"], Prefix=prefix)
        keys |= {item["Key"] for item in listed.get("Contents", [])}
    return keys


def test_the_demo_ran_to_its_end(compose_stack):
    log = compose_stack.logs("demo", lines=400)
    assert "Demo complete" in log, lane.tail(log)


def test_every_good_image_and_the_redriven_one_have_results(compose_stack, s3):
    results = _objects(s3, "results/demo/")
    for key in [*labeling_demo.GOOD, labeling_demo.THROTTLED]:
        expected = "results/" + key.removeprefix("ingest/") + ".json"
        assert expected in results, f"no result for {key}: {sorted(results)}"
    assert not any("notes" in key for key in results)


def test_the_dlq_keeps_the_non_image_with_its_reason(compose_stack):
    shown = json.loads(_harness(compose_stack, "dlq", "show", "--json", "--queue", "labeler-dlq"))
    text = json.dumps(shown)
    assert labeling_demo.NOT_AN_IMAGE.removeprefix("ingest/") in text, text
    assert "reason" in text and labeling_demo.THROTTLED not in text, text


def test_the_dlq_alarm_posted_to_slack(compose_stack):
    """The demo prints the payload the Slack sink received (system B's part of the demo
    resets the sink afterwards, so the log is where it is kept)."""
    log = compose_stack.logs("demo", lines=400)
    received = [line for line in log.splitlines() if "Slack received:" in line]
    assert received, lane.tail(log)
    assert "dlq-not-empty is ALARM" in received[0], received


def test_the_catalog_has_four_rows_per_image(compose_stack):
    report = json.loads(
        _harness(compose_stack, "verify", "--vertical", catalog_demo.VERTICAL, "--json")
    )
    entities = report["entities"]
    images = len(catalog_demo.GOOD) + len(catalog_demo.LATE)
    assert sum(len(entity["sequences"]) for entity in entities) == images, report
    for entity in entities:
        assert entity["ok"], entity
        assert entity["rows_found"] == SIZES * len(entity["sequences"]), entity

"""`harness promote smoke`'s scenario, run unchanged against the local stack.

On AWS it runs with real Rekognition and a real webhook; here the same code gets the
local stack's clients, so upload, tolerant result checks, the Slack notice and the
clean-up are proven offline.
"""

from __future__ import annotations

from harness.promote import workflow
from harness.runtime import aws


def test_smoke_labels_posts_and_leaves_nothing_behind(labeling, harness_settings):
    s3 = aws.client("s3", harness_settings)
    lambda_client = aws.client("lambda", harness_settings)
    before = set(labeling.keys(""))

    report = workflow.run_smoke(
        s3, lambda_client, labeling.outputs, slack=True, timeout=60, progress=lambda _: None
    )

    assert len(report.labels) == len(workflow.SMOKE_IMAGES)
    assert all(report.labels.values()), report.labels
    prefix = labeling.outputs["ingest_prefix"]
    assert {key.removeprefix(prefix).split("/", 1)[1] for key in report.labels} == set(
        workflow.SMOKE_IMAGES
    )
    assert report.slack == "posted a test notice"
    posted = labeling.slack.wait_for_messages(1, timeout=30, containing="harness promote smoke")
    assert labeling.outputs["alarm_name"] in str(posted[0])
    # Each upload and its result, at least; nothing of the run is left.
    assert report.deleted >= 2 * len(workflow.SMOKE_IMAGES)
    assert set(labeling.keys("")) == before

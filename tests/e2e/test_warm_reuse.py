"""A deployed stack is reused: no Terraform run when nothing changed, code-only updates."""

from __future__ import annotations

import json

from harness.build import deploy
from harness.build.fixtures import ImageSpec, render


def test_second_deploy_runs_no_terraform(local_deployment, harness_settings):
    record = deploy.deploy(harness_settings, progress=lambda m: None)
    assert record["applied"] is False
    assert record["outputs"] == local_deployment


def test_changed_code_is_uploaded_without_terraform(labeling, harness_settings, aws_client):
    previous = deploy.deployed(harness_settings)
    stale = json.loads(json.dumps(previous))
    stale["packages"]["labeler"] = "an-older-build"
    stale["fingerprint"]["lambdas"] = "an-older-tree"
    lam = aws_client("lambda")
    function = previous["outputs"]["labeler_function"]
    before = lam.get_function(FunctionName=function)["Configuration"]["LastModified"]

    record = deploy._update_code(
        harness_settings, "local", stale, deploy.fingerprint(harness_settings), lambda m: None
    )

    assert record["applied"] is False
    assert record["updated_functions"] == ["labeler"]
    after = lam.get_function(FunctionName=function)["Configuration"]
    assert after["LastModified"] != before
    assert after["CodeSha256"] == record["packages"]["labeler"]
    # The updated function still labels.
    key = "ingest/warm/after-update.jpg"
    labeling.upload(key, render(ImageSpec(seed=5)))
    assert labeling.wait_result(key)["source"]["key"] == key


def test_reset_empties_buckets_queues_and_stubs(labeling):
    labeling.upload("ingest/warm/one.jpg", render(ImageSpec(seed=6)))
    labeling.wait_result("ingest/warm/one.jpg")
    labeling.slack.fail_next(1)
    labeling.reset()
    assert labeling.keys("") == []
    assert labeling.queue_depth() == 0 and labeling.dlq_depth() == 0
    assert labeling.rekognition.calls() == []
    assert labeling.alarm_state() == "OK"

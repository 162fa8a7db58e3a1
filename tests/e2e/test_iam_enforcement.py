"""IAM is enforced in the local stack (issue 12): a grant the labeler needs on AWS is
needed here too.

The mutation: the labeler's role loses s3:GetObjectVersion (the defect of issue 12: on
a versioned bucket every event has a versionId, DetectLabels is called with
S3Object.Version, and Rekognition reads that version with the caller's permissions).
The image must then end in the DLQ with Rekognition's InvalidS3ObjectException, and the
denial must be in the denial log, naming the role, the action and the object. The role's
policy is restored afterwards and a redrive labels the image.
"""

from __future__ import annotations

import json
import time

import pytest
from resource_policies import without_action
from samples import JPEG, unique_folder

from harness.events import dlq
from harness.observe import denials
from harness.util.waiting import wait_for

POLICY = "labeler"  # the labeler role's inline policy (infra/modules/labeling)


@pytest.fixture
def labeler_role(labeling, aws_client) -> str:
    function = labeling.outputs["labeler_function"]
    arn = aws_client("lambda").get_function_configuration(FunctionName=function)["Role"]
    return arn.rsplit("/", 1)[1]


def test_the_iam_extension_is_enforcing(harness_settings):
    assert harness_settings.iam == "enforce", "run the e2e tests with IAM enforced"


def test_without_get_object_version_labeling_ends_in_the_dlq_with_a_denial(
    labeling, aws_client, labeler_role, harness_settings
):
    iam = aws_client("iam")
    original = iam.get_role_policy(RoleName=labeler_role, PolicyName=POLICY)["PolicyDocument"]
    assert "s3:GetObjectVersion" in json.dumps(original), "the fix of issue 12 is missing"
    versioning = labeling.s3.get_bucket_versioning(Bucket=labeling.bucket)
    assert versioning.get("Status") == "Enabled", "the local bucket must be versioned as on AWS"

    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    key = unique_folder() + "denied.jpg"
    mutated = without_action(original, "s3:GetObjectVersion")
    iam.put_role_policy(
        RoleName=labeler_role, PolicyName=POLICY, PolicyDocument=json.dumps(mutated)
    )
    try:
        labeling.upload(key, JPEG)
        letters = wait_for(
            lambda: [ls for ls in labeling.dead_letters() if key in ls.objects],
            timeout=150,  # 3 receives x 24 s visibility (envs/local), then the move
            what=f"{key} in the DLQ",
            interval=1,
        )
        assert letters[0].reasons, f"no failure record for {key}"
        assert letters[0].reasons[0]["error_code"] == "InvalidS3ObjectException"
        assert labeling.result(key) is None

        found = [
            d
            for d in denials.read(harness_settings.iam_denials, since)
            if d.get("action") == "s3:GetObjectVersion" and str(d.get("resource")).endswith(key)
        ]
        assert found, "no denial of s3:GetObjectVersion in the denial log"
        assert found[0]["role"].endswith(f":role/{labeler_role}")
        assert found[0]["via"] == "rekognition"
        assert found[0]["enforced"] is True
        assert found[0]["decision"] == "implicit_deny"
    finally:
        iam.put_role_policy(
            RoleName=labeler_role, PolicyName=POLICY, PolicyDocument=json.dumps(original)
        )

    # Restored: a redrive labels it, as the team would after fixing the role on AWS.
    report = dlq.redrive(labeling.sqs, labeling.outputs, progress=lambda m: None)
    assert report["moved"] >= 1
    assert labeling.wait_result(key, timeout=60)["source"]["version_id"]

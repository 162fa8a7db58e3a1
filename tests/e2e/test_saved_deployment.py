"""A saved deployment loads whole into a fresh LocalStack, and the pipeline works on it.

A stack of its own (its ports and prefix make its key unique, so the first start always
applies from scratch and saves): started, saved, stopped, started again. The second
start must load what the first one saved and run no Terraform, every resource must read
as it did before the restart, `terraform plan` of the same root must find nothing to
change (what an apply onto every load used to check), and the loaded pipeline must
label an image and post an alarm to Slack.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from typing import Any

import pytest

from harness import config
from harness.build import deploy, snapshots, terraform
from harness.build.fixtures import ImageSpec, render
from harness.runtime import aws, localstack, stack
from harness.systems.labeling.pipeline import LabelingPipeline
from harness.testing.side_by_side import side_by_side_environment
from harness.util.waiting import wait_for

# Fields that change with time or traffic, not with the deployment.
VOLATILE = {
    "LastModified",
    "RevisionId",
    "StateUpdatedTimestamp",
    "StateTransitionedTimestamp",
    "StateReason",
    "StateReasonData",
    "LastProcessingResult",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "LastModifiedTimestamp",
    "LastAccessedDate",
    "ResponseMetadata",
}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _bucket_policy(s3: Any, name: str) -> str | None:
    try:
        return s3.get_bucket_policy(Bucket=name)["Policy"]
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchBucketPolicy":
            raise
        return None


def inventory(settings: config.Settings) -> dict[str, Any]:
    """What the deployment made, read back through the AWS APIs."""
    lam, sqs, sns = (aws.client(n, settings) for n in ("lambda", "sqs", "sns"))
    s3, cw, iam = (aws.client(n, settings) for n in ("s3", "cloudwatch", "iam"))
    found: dict[str, Any] = {"functions": {}, "queues": {}, "topics": {}, "buckets": {}}
    for function in lam.list_functions()["Functions"]:
        name = function["FunctionName"]
        found["functions"][name] = {
            "configuration": lam.get_function(FunctionName=name)["Configuration"],
            "policy": json.loads(lam.get_policy(FunctionName=name)["Policy"])
            if name.endswith(("notifier", "resize"))
            else None,
            "mappings": lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"],
            "invoke_configs": lam.list_function_event_invoke_configs(FunctionName=name)[
                "FunctionEventInvokeConfigs"
            ],
        }
    for url in sqs.list_queues().get("QueueUrls", []):
        found["queues"][url] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    for topic in sns.list_topics()["Topics"]:
        arn = topic["TopicArn"]
        found["topics"][arn] = {
            "attributes": sns.get_topic_attributes(TopicArn=arn)["Attributes"],
            "subscriptions": [
                sns.get_subscription_attributes(SubscriptionArn=s["SubscriptionArn"])
                for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
            ],
        }
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        found["buckets"][name] = {
            "notifications": s3.get_bucket_notification_configuration(Bucket=name),
            "versioning": s3.get_bucket_versioning(Bucket=name).get("Status"),
            "policy": _bucket_policy(s3, name),
        }
    for name in found["buckets"]:
        versions = s3.list_object_versions(Bucket=name).get("Versions", [])
        found["buckets"][name]["objects"] = [
            (v["Key"], v["VersionId"], v["ETag"], v["Size"]) for v in versions
        ]
    ssm, secrets, kms = (aws.client(n, settings) for n in ("ssm", "secretsmanager", "kms"))
    found["parameters"] = {
        p["Name"]: ssm.get_parameter(Name=p["Name"], WithDecryption=True)["Parameter"]["Value"]
        for p in ssm.describe_parameters()["Parameters"]
    }
    found["secrets"] = {  # the database secret's value is put by `harness db`, not Terraform
        secret["Name"]: secrets.describe_secret(SecretId=secret["ARN"])
        for secret in secrets.list_secrets()["SecretList"]
    }
    found["keys"] = {
        key["KeyId"]: kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]
        for key in kms.list_keys()["Keys"]
    }
    found["alarms"] = cw.describe_alarms()["MetricAlarms"]
    found["roles"] = {
        role["RoleName"]: {
            "trust": role["AssumeRolePolicyDocument"],
            "inline": iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"],
        }
        for role in iam.list_roles()["Roles"]
    }
    return _clean(found)


@pytest.fixture
def own_stack(tmp_path, monkeypatch):
    """A stack of its own with saved deployments on; its saved one deleted at the end
    (its free ports make a key that never comes back)."""
    prefix = f"saved{uuid.uuid4().hex[:6]}"
    for name, value in side_by_side_environment(tmp_path / "state", prefix).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(snapshots.ENABLED_ENV, "1")  # what side-by-side stacks turn off
    settings = config.load()
    keys: list[str] = []
    try:
        yield settings, keys
    finally:
        stack.down(settings)
        for key in keys:
            if folder := snapshots.find(settings, key):
                snapshots.discard(folder)


def test_a_fresh_stack_loads_the_saved_deployment_whole_and_it_works(own_stack):
    settings, keys = own_stack
    said: list[str] = []
    started = time.monotonic()
    first = deploy.ready(settings, progress=said.append)
    from_scratch = time.monotonic() - started
    saved = deploy.deployed(settings)["snapshot"]
    keys.append(saved["key"])
    assert saved["loaded"] is False, said
    assert snapshots.find(settings, saved["key"]) is not None, said
    before = inventory(settings)
    assert len(before["functions"]) == 4 and len(before["alarms"]) >= 4, before

    stack.down(settings)
    said.clear()
    started = time.monotonic()
    second = deploy.ready(settings, progress=said.append)
    loaded = time.monotonic() - started
    print(f"[saved deployment] from scratch {from_scratch:.1f} s, loaded {loaded:.1f} s")
    record = deploy.deployed(settings)
    assert second.stack.started_localstack and second.applied
    assert record["snapshot"] == {"key": saved["key"], "loaded": True}, said
    assert any("loaded the saved deployment" in line for line in said), said
    # No Terraform run: neither the apply's announcement nor any command's "done in".
    assert not any("applying Terraform" in line for line in said), said
    assert not any(line.startswith("terraform ") for line in said), said
    assert second.outputs == first.outputs
    assert inventory(settings) == before
    assert_terraform_plans_no_change(settings)

    # The loaded pipeline runs: an image is labeled, an alarm reaches Slack.
    pipeline = LabelingPipeline(settings, second.outputs)
    key = second.outputs["ingest_prefix"] + "saved/after-load.jpg"
    pipeline.upload(key, render(ImageSpec(seed=81)))
    assert pipeline.wait_result(key, timeout=60)["Labels"]
    since = time.time()
    for state in ("OK", "ALARM"):
        pipeline.cloudwatch.set_alarm_state(
            AlarmName=second.outputs["alarm_name"], StateValue=state, StateReason="saved test"
        )
    wait_for(
        lambda: [m for m in pipeline.slack.messages() if m["received_at"] >= since],
        30,
        "Slack post of the alarm on the loaded stack",
    )


def assert_terraform_plans_no_change(settings: config.Settings) -> None:
    """`terraform plan -detailed-exitcode` of the deployed root, with the state the load
    put in place, against the loaded LocalStack: exit code 2 (changes) fails it."""
    work = deploy._work_dir(settings, "local")
    source, tf_env = deploy.initialised_root(settings)
    args = ["plan", "-detailed-exitcode", "-input=false", "-no-color", "-lock=false"]
    args += [f"-var-file={work / deploy.TFVARS}"]
    args += ["-state", str(work / snapshots.TFSTATE)]
    terraform.run(args, source, tf_env, capture=True)


PICKLER_CHECK = """
import queue, threading
import harness_state
from localstack.state import pickle
from moto.ssm.models import ParameterDict

harness_state._register_reducers()
held, held_r, shared = threading.Lock(), threading.RLock(), threading.Lock()
held.acquire()
held_r.acquire()
waiting = queue.Queue()
waiting.put("message")
parameters = ParameterDict("000000000000", "us-east-1")
parameters["/p"].append("value")
out = pickle.loads(pickle.dumps(
    {"held": held, "held_r": held_r, "queue": waiting, "ssm": parameters,
     "a": shared, "b": shared}
))
assert not out["held"].locked()
# dill gives an RLock back owned by the thread id that held it: this very thread could
# take it again, another could not.
taken = []
other = threading.Thread(target=lambda: taken.append(out["held_r"].acquire(blocking=False)))
other.start()
other.join()
assert taken == [True]
q = out["queue"]
assert q.not_empty._lock is q.mutex and q.not_full._lock is q.mutex
with q.mutex:
    q.not_empty.notify()  # raised "cannot notify on un-acquired lock" with a new lock
assert q.get_nowait() == "message"
ssm = out["ssm"]
assert (ssm.account_id, ssm.region_name, ssm["/p"], ssm["/missing"]) == (
    "000000000000", "us-east-1", ["value"], [])
assert out["a"] is out["b"]
print("pickled and back")
"""


def test_the_pickler_gives_back_free_locks_shared_conditions_and_ssm_parameters():
    """What the plugin teaches LocalStack's pickler, in LocalStack's own interpreter."""
    python = localstack.ensure_installed(config.load(), progress=lambda m: None)
    done = subprocess.run(
        [str(python), "-c", PICKLER_CHECK], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "pickled and back"

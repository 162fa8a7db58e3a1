"""A probe function for the foundation tests: each event field asks for one behaviour."""

import json
import os
import time

import boto3
import probe_dep


def handler(event, context):
    print(f"probe invoked: {json.dumps(event)[:200]}")
    if "Records" in event:
        return _record(event)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("fail"):
        raise ValueError(f"asked to fail: {event['fail']}")
    return {
        "echo": event,
        "pid": os.getpid(),
        "dep": probe_dep.VALUE,
        "dep_file": probe_dep.__file__,
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "function": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "home_aws_profile": os.environ.get("AWS_PROFILE"),
    }


def _record(event):
    """Write one marker object per record, so a test can see which source invoked us."""
    s3 = boto3.client("s3")
    for record in event["Records"]:
        source = record.get("eventSource") or record.get("EventSource")
        body = record.get("body") or record.get("Sns", {}).get("Message", "")
        s3.put_object(Bucket=os.environ["MARKER_BUCKET"], Key=f"{source}/{body}", Body=b"seen")
    return {"batchItemFailures": []}

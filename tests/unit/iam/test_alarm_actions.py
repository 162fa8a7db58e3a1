"""CloudWatch alarm actions go out as deliveries of `cloudwatch.amazonaws.com` with the
alarm's ARN (LocalStack's provider sends them without either), and a refused one does not
stop the alarm's other actions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from harness_iam.alarm_actions import AlarmActionClients, is_denial

from .conftest import ACCOUNT, REGION

ALARM_ARN = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:imgpipe-labeler-dlq-not-empty"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:imgpipe-events"


class Refused(Exception):
    """botocore's ClientError, as far as the wrapper looks at it."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


class FakeClient:
    """LocalStack's MetadataRequestInjector: `request_metadata` returns a client whose
    calls carry `_SourceArn` / `_ServicePrincipal`."""

    def __init__(self, sent: list[dict[str, Any]], metadata=None, fail: str | None = None):
        self.sent, self.metadata, self.fail = sent, metadata or {}, fail

    def request_metadata(self, source_arn=None, service_principal=None) -> FakeClient:
        metadata = {"_SourceArn": source_arn, "_ServicePrincipal": service_principal}
        return FakeClient(self.sent, metadata, self.fail)

    def publish(self, **params: Any) -> dict:
        if self.fail:
            raise Refused(self.fail)
        self.sent.append(self.metadata | params)
        return {"MessageId": "m1"}

    invoke = publish

    def get_topic_attributes(self, **params: Any) -> dict:
        return {"Attributes": {}}


class FakeServices:
    def __init__(self, client: FakeClient) -> None:
        self.sns = self.lambda_ = self.sqs = client


def factory(sent: list[dict[str, Any]], fail: str | None = None):
    made: list[dict[str, Any]] = []

    def connect_to(**kwargs: Any) -> FakeServices:
        made.append(kwargs)
        return FakeServices(FakeClient(sent, fail=fail))

    return connect_to, made


def test_an_sns_action_is_published_as_cloudwatch_for_its_alarm() -> None:
    sent: list[dict[str, Any]] = []
    connect_to, made = factory(sent)
    clients = AlarmActionClients(connect_to)
    message = json.dumps({"AlarmName": "x", "AlarmArn": ALARM_ARN})
    answer = clients(region_name=REGION, aws_access_key_id=ACCOUNT).sns.publish(
        TopicArn=TOPIC_ARN, Subject="ALARM", Message=message
    )
    assert answer == {"MessageId": "m1"}
    assert made == [{"region_name": REGION, "aws_access_key_id": ACCOUNT}]
    assert sent == [
        {
            "_SourceArn": ALARM_ARN,
            "_ServicePrincipal": "cloudwatch",
            "TopicArn": TOPIC_ARN,
            "Subject": "ALARM",
            "Message": message,
        }
    ]


def test_a_lambda_action_carries_the_alarm_arn_of_its_payload() -> None:
    sent: list[dict[str, Any]] = []
    clients = AlarmActionClients(factory(sent)[0])
    payload = json.dumps({"alarmArn": ALARM_ARN}).encode()
    clients(region_name=REGION).lambda_.invoke(FunctionName="f", Payload=payload)
    assert sent[0]["_ServicePrincipal"] == "cloudwatch"
    assert sent[0]["_SourceArn"] == ALARM_ARN


def test_other_calls_and_services_pass_untouched() -> None:
    sent: list[dict[str, Any]] = []
    clients = AlarmActionClients(factory(sent)[0])
    services = clients(region_name=REGION)
    assert services.sns.get_topic_attributes(TopicArn=TOPIC_ARN) == {"Attributes": {}}
    services.sqs.publish(TopicArn=TOPIC_ARN, Message="{}")  # not an alarm action
    services.sns.publish(TopicArn=TOPIC_ARN, Message="not json")  # no alarm named
    assert [s.get("_ServicePrincipal") for s in sent] == [None, None]


@pytest.mark.parametrize("code", ["AuthorizationError", "AccessDeniedException"])
def test_a_refused_action_is_skipped_so_the_next_action_still_runs(code: str) -> None:
    clients = AlarmActionClients(factory([], fail=code)[0])
    message = json.dumps({"AlarmArn": ALARM_ARN})
    assert clients(region_name=REGION).sns.publish(TopicArn=TOPIC_ARN, Message=message) == {}


def test_other_errors_are_raised_as_before() -> None:
    clients = AlarmActionClients(factory([], fail="NotFound")[0])
    with pytest.raises(Refused):
        clients(region_name=REGION).sns.publish(
            TopicArn=TOPIC_ARN, Message=json.dumps({"AlarmArn": ALARM_ARN})
        )
    assert not is_denial(ValueError("x"))

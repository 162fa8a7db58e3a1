"""A function's log shipping assumes its role again after a refusal: LocalStack's loop
assumes it once per version and stops for good when that is refused, so mending the
role's trust would not bring the function's logs back."""

from __future__ import annotations

from typing import Any

import pytest
from harness_iam.log_shipping import RoleLogClients


class Refused(Exception):
    """botocore's ClientError for a refused AssumeRole, as far as it matters here."""


class FakeConnect:
    """LocalStack's `connect_to`: `with_assumed_role` assumes the role at once."""

    def __init__(self) -> None:
        self.trusted = False
        self.assumed: list[dict[str, Any]] = []
        self.shipped: list[str] = []

    def with_assumed_role(self, **kwargs: Any) -> Any:
        self.assumed.append(kwargs)
        if not self.trusted:
            raise Refused("AccessDenied: lambda.amazonaws.com may not assume the role")
        connect = self

        class Services:
            class logs:  # a client attribute, named as on LocalStack's services
                class exceptions:  # botocore's name
                    ResourceNotFoundException = LookupError

                @staticmethod
                def put_log_events(**params: Any) -> dict:
                    connect.shipped.append(params["logStreamName"])
                    return {}

        return Services

    def __call__(self, **kwargs: Any) -> str:
        return f"plain clients {kwargs}"


ROLE = {"region_name": "us-east-1", "role_arn": "arn:aws:iam::000000000000:role/labeler"}


def test_the_role_is_assumed_when_logs_are_shipped_not_when_the_version_starts():
    connect = FakeConnect()
    clients = RoleLogClients(connect).with_assumed_role(**ROLE).logs
    assert connect.assumed == []  # LocalStack's loop would have ended here
    connect.trusted = True
    clients.put_log_events(logStreamName="one")
    assert connect.shipped == ["one"]
    assert connect.assumed == [ROLE]


def test_a_refused_batch_fails_and_the_next_one_assumes_the_role_again():
    connect = FakeConnect()
    clients = RoleLogClients(connect).with_assumed_role(**ROLE).logs
    with pytest.raises(Refused):  # LocalStack's loop logs and drops this batch
        clients.put_log_events(logStreamName="while-refused")
    connect.trusted = True  # the trust is mended
    clients.put_log_events(logStreamName="after")
    clients.put_log_events(logStreamName="later")
    assert connect.shipped == ["after", "later"]
    assert len(connect.assumed) == 2  # once refused, once granted, then kept
    assert clients.exceptions.ResourceNotFoundException is LookupError


def ship(logs_client: Any, stream: str) -> None:
    """One batch as LocalStack 4.13.1's `run_log_loop` ships it (the shape that matters:
    `exceptions` is read in the `except` clause, after the call failed)."""
    try:
        try:
            logs_client.put_log_events(logGroupName="g", logStreamName=stream, logEvents=[])
        except logs_client.exceptions.ResourceNotFoundException:
            raise AssertionError("no group is missing here") from None
    except Refused:
        pass  # LocalStack logs a warning and drops the batch


def test_a_refused_batch_in_localstacks_loop_assumes_the_role_once():
    connect = FakeConnect()
    clients = RoleLogClients(connect).with_assumed_role(**ROLE).logs
    ship(clients, "refused")
    assert len(connect.assumed) == 1 and connect.shipped == []
    connect.trusted = True
    ship(clients, "shipped")
    assert len(connect.assumed) == 2 and connect.shipped == ["shipped"]


def test_everything_else_is_connect_to_itself():
    connect = FakeConnect()
    wrapped = RoleLogClients(connect)
    assert wrapped(region_name="us-east-1") == "plain clients {'region_name': 'us-east-1'}"
    assert wrapped.shipped is connect.shipped

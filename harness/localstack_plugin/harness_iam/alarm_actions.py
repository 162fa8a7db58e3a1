"""CloudWatch alarm actions, made deliveries of the `cloudwatch.amazonaws.com` principal.

Why this exists: LocalStack 4.13's CloudWatch provider (`provider_v2`) runs an alarm's
SNS and Lambda actions with a plain internal client, `connect_to(region_name=...,
aws_access_key_id=<account>)`, without the `service_principal` and `source_arn` its other
services attach to their deliveries. The gateway cannot tell such an action from any
caller that signs with the account's id, so nothing would be checked. On AWS the action
is a delivery by `cloudwatch.amazonaws.com` with `aws:SourceArn` = the alarm's ARN: the
topic policy, and the key policy of an encrypted topic, must allow it.

`AlarmActionClients` wraps the provider's client factory so that each action carries that
identity (LocalStack's own `request_metadata`); the request handler then checks it like
every other delivery. A refused action is logged and skipped, as CloudWatch records a
failed action and still runs the alarm's other actions (the provider's own loop would
stop at the first error and skip, say, the fallback topic).

Pure Python: `extension.py` installs it on LocalStack's provider module.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

LOG = logging.getLogger("harness_iam")

SERVICE_PRINCIPAL = "cloudwatch"
# What harness_iam (responses.py) answers a refused SNS or Lambda call with.
DENIAL_CODES = frozenset({"AuthorizationError", "AccessDeniedException", "AccessDenied"})


def _alarm_arn(document: object, member: str) -> str | None:
    """The alarm's ARN from the message an action sends (SNS: `AlarmArn`; Lambda:
    `alarmArn`), or None when the document is not such a message."""
    if isinstance(document, bytes | bytearray):
        document = document.decode("utf-8", "replace")
    if not isinstance(document, str):
        return None
    try:
        parsed = json.loads(document)
    except ValueError:
        return None
    arn = parsed.get(member) if isinstance(parsed, dict) else None
    return arn if isinstance(arn, str) and arn.startswith("arn:") else None


def sns_alarm_arn(params: Mapping[str, Any]) -> str | None:
    return _alarm_arn(params.get("Message"), "AlarmArn")


def lambda_alarm_arn(params: Mapping[str, Any]) -> str | None:
    return _alarm_arn(params.get("Payload"), "alarmArn")


def is_denial(error: BaseException) -> bool:
    """True for the access denial of a service client (botocore's ClientError shape),
    without importing botocore: this module runs anywhere."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return False
    return str((response.get("Error") or {}).get("Code")) in DENIAL_CODES


class _Action:
    """One service client of an alarm action: `operation` goes out as the delivery of the
    alarm named in its message; every other attribute is the client's own."""

    def __init__(
        self,
        client: Any,
        operation: str,
        alarm_arn_of: Callable[[Mapping[str, Any]], str | None],
    ) -> None:
        self._client = client
        self._operation = operation
        self._alarm_arn_of = alarm_arn_of

    def __getattr__(self, name: str) -> Any:
        if name != self._operation:
            return getattr(self._client, name)

        def deliver(**params: Any) -> Any:
            alarm_arn = self._alarm_arn_of(params)
            client = self._client
            if alarm_arn:
                client = client.request_metadata(
                    source_arn=alarm_arn, service_principal=SERVICE_PRINCIPAL
                )
            try:
                return getattr(client, name)(**params)
            except Exception as exc:
                if not is_denial(exc):
                    raise
                LOG.warning(
                    "harness_iam: the action of alarm %s was refused and is not delivered: %s",
                    alarm_arn,
                    exc,
                )
                return {}

        return deliver


class _AlarmActionServices:
    """What `connect_to(...)` returns, with `sns` and `lambda_` as alarm actions."""

    def __init__(self, services: Any) -> None:
        self._services = services

    @property
    def sns(self) -> _Action:
        return _Action(self._services.sns, "publish", sns_alarm_arn)

    @property
    def lambda_(self) -> _Action:
        return _Action(self._services.lambda_, "invoke", lambda_alarm_arn)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._services, name)


class AlarmActionClients:
    """Stands in for `connect_to` in LocalStack's CloudWatch provider module, where it
    is used for alarm actions only."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory

    def __call__(self, *args: Any, **kwargs: Any) -> _AlarmActionServices:
        return _AlarmActionServices(self.factory(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.factory, name)


__all__ = [
    "SERVICE_PRINCIPAL",
    "AlarmActionClients",
    "is_denial",
    "lambda_alarm_arn",
    "sns_alarm_arn",
]

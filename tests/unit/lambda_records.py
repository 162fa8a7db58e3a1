"""Records that AWS services hand to our code, built once for every unit test.

`on_failure_record` is what Lambda sends to an asynchronous invocation's on-failure
destination after the last retry (the notifier-failures queue keeps these). The
notifier's handler, its event parser and the harness's redrive of failed notices all
read it, so all three test modules build it here, the same way.
"""

from __future__ import annotations

from typing import Any

NOTIFIER_ARN = "arn:aws:lambda:ap-northeast-2:123456789012:function:notifier:$LATEST"


def on_failure_record(
    payload: Any,
    *,
    error: str = "1 of 1 record(s) failed: WebhookError: Slack webhook answered HTTP 503",
    attempts: int = 3,
    at: str = "2024-05-01T15:13:02.411Z",
    function_arn: str = NOTIFIER_ARN,
    request_id: str = "e4b46cbf-b738-4f5f-9a5c-1d3b2f6e0a11",
) -> dict[str, Any]:
    """Lambda's failure record for `payload` after `attempts` invocations that failed."""
    return {
        "version": "1.0",
        "timestamp": at,
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": payload,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {"errorMessage": error, "errorType": "NotificationFailed"},
    }

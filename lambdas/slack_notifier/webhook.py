"""Fetch the Slack webhook URL from SSM and post to it.

The URL is a secret (anyone holding it can post to the channel), so it lives in
a SecureString parameter, never in an environment variable, and it is never
logged or put into an error message.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

# Enough of a Slack error body ("invalid_payload", "no_service", ...) to debug.
BODY_LIMIT = 500


class WebhookError(RuntimeError):
    """The post did not get a 2xx answer; raised so SNS/Lambda retry the delivery."""


def fetch_webhook_url(ssm: Any, parameter_name: str) -> str:
    """Decrypted value of the SecureString parameter holding the webhook URL."""
    response = ssm.get_parameter(Name=parameter_name, WithDecryption=True)
    url = response["Parameter"]["Value"].strip()
    if urlsplit(url).scheme not in ("https", "http"):
        raise ValueError(f"SSM parameter {parameter_name} does not hold an http(s) URL")
    return url


def post_json(url: str, payload: dict[str, Any], timeout: float) -> str:
    """POST payload as JSON; return the response body, raise WebhookError unless 2xx."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # http(s) only
            status = response.status
            body = response.read(BODY_LIMIT).decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        body = exc.read(BODY_LIMIT).decode("utf-8", errors="replace")
        raise WebhookError(f"Slack webhook answered HTTP {exc.code}: {body!r}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WebhookError(
            f"Slack webhook request failed (timeout {timeout}s): {type(exc).__name__}: {reason}"
        ) from exc
    if not 200 <= status < 300:
        raise WebhookError(f"Slack webhook answered HTTP {status}: {body!r}")
    return body

"""JSON over HTTP to the harness's own loopback servers: the stubs' control API,
LocalStack's health and our plugins' endpoints.

Written on the standard library's urllib: these are a handful of small calls to
loopback servers, one at a time, which need neither sessions nor retries from a library.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class HttpStatusError(RuntimeError):
    """The server answered with an error status; `body` is what it said."""

    def __init__(self, url: str, status: int, body: str) -> None:
        super().__init__(f"{url} answered {status}: {body}")
        self.status = status
        self.body = body

    def json_field(self, name: str, default: str) -> str:
        """A field of a JSON error body (`{"error": ...}`), else `default`."""
        try:
            found = json.loads(self.body)
        except ValueError:
            return default
        return str(found.get(name, default)) if isinstance(found, dict) else default


def call_json(
    url: str, method: str = "GET", body: Any = None, timeout: float = 5.0, empty: Any = None
) -> Any:
    """`body` sent as JSON, the answer read as JSON (`empty` for an empty one).

    Raises HttpStatusError for an error status, OSError when nothing answers in time, and
    ValueError for an answer that is not JSON."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"} if data is not None else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        raise HttpStatusError(url, error.code, error.read().decode(errors="replace")) from error
    return json.loads(raw) if raw else empty


def get_json_or_none(url: str, timeout: float = 2.0, empty: Any = None) -> Any:
    """GET `url` as JSON; None when nothing answers, with an error status, or not JSON:
    what a health check wants to know. An empty answer gives `empty`: a server whose
    health endpoint says nothing is up, and a caller may want to tell that from down."""
    try:
        return call_json(url, timeout=timeout, empty=empty)
    except (HttpStatusError, OSError, ValueError):
        return None

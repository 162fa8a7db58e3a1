"""Typed clients for the stubs' control APIs (``/_stub/...``), standard library only.

Tests and scenarios drive the stubs through these, whether the stubs run in the same
process (``StubServers``) or were started earlier by ``harness up`` in another one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from harness.util import http

Json = dict[str, Any]


class StubControlError(RuntimeError):
    """The control API answered with an error status (e.g. a rule it refused)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"stub control API answered {status}: {body}")
        self.status = status
        self.body = body


class _ControlClient:
    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            return http.call_json(self.base_url + path, method, body, self.timeout)
        except http.HttpStatusError as exc:
            raise StubControlError(exc.status, exc.body) from exc

    def health(self) -> Json:
        result: Json = self._call("GET", "/_stub/health")
        return result

    def is_up(self) -> bool:
        try:
            return bool(self.health().get("ok"))
        except (OSError, StubControlError):
            return False

    def reset(self) -> None:
        self._call("POST", "/_stub/reset")

    @staticmethod
    def _wait(fetch: Callable[[], list[Json]], count: int, timeout: float, what: str) -> list[Json]:
        deadline = time.monotonic() + timeout
        while True:
            items = fetch()
            if len(items) >= count:
                return items
            if time.monotonic() >= deadline:
                raise TimeoutError(f"expected {count} {what} within {timeout}s, got {len(items)}")
            time.sleep(0.05)


class RekognitionStubClient(_ControlClient):
    """Rules, faults and the call log of the Rekognition stub."""

    def rules(self) -> list[Json]:
        return list(self._call("GET", "/_stub/rules")["rules"])

    def set_rules(self, rules: list[Json]) -> list[Json]:
        return list(self._call("PUT", "/_stub/rules", rules)["rules"])

    def add_rule(self, rule: Json) -> list[Json]:
        return list(self._call("POST", "/_stub/rules", [rule])["rules"])

    def clear_rules(self) -> None:
        self._call("DELETE", "/_stub/rules")

    def faults(self) -> list[Json]:
        return list(self._call("GET", "/_stub/faults")["faults"])

    def set_faults(self, faults: list[Json]) -> list[Json]:
        return list(self._call("PUT", "/_stub/faults", faults)["faults"])

    def add_fault(
        self,
        error: str | None = "ThrottlingException",
        *,
        rate: float = 1.0,
        first_n: int | None = None,
        latency_ms: int = 0,
        until: float | None = None,
        for_seconds: float | None = None,
        key_glob: str | None = None,
        seed: int = 0,
        message: str | None = None,
    ) -> list[Json]:
        """Append a fault; ``for_seconds`` is a shorthand for ``until = now + for_seconds``."""
        if for_seconds is not None:
            until = time.time() + for_seconds
        fault = {
            "error": error,
            "message": message,
            "rate": rate,
            "first_n": first_n,
            "latency_ms": latency_ms,
            "until": until,
            "key_glob": key_glob,
            "seed": seed,
        }
        return list(self._call("POST", "/_stub/faults", [fault])["faults"])

    def clear_faults(self) -> None:
        self._call("DELETE", "/_stub/faults")

    def calls(self) -> list[Json]:
        return list(self._call("GET", "/_stub/calls")["calls"])

    def clear_calls(self) -> None:
        self._call("DELETE", "/_stub/calls")

    def wait_for_calls(self, count: int, timeout: float = 10.0) -> list[Json]:
        return self._wait(self.calls, count, timeout, "Rekognition calls")


class SlackSinkClient(_ControlClient):
    """Captured messages and the failure switch of the Slack webhook sink."""

    def webhook_url(self, path: str = "/services/T000/B000/XXXX") -> str:
        return self.base_url + path

    def messages(self, include_failed: bool = False, containing: str | None = None) -> list[Json]:
        """Delivered messages, or every attempt with ``include_failed``; oldest first.

        ``containing`` keeps those whose body holds that text: a test counts its own
        posts, not an alarm's that a test before it set off (CloudWatch keeps a queue's
        metric data, so a reset of the queues cannot stop such a post)."""
        query = "" if include_failed else "?delivered=true"
        found = list(self._call("GET", "/_stub/messages" + query)["messages"])
        if containing is None:
            return found
        return [m for m in found if containing in json.dumps(m["body"], ensure_ascii=False)]

    def texts(self) -> list[str]:
        return [
            str(m["body"].get("text", "")) if isinstance(m["body"], dict) else str(m["body"])
            for m in self.messages()
        ]

    def clear_messages(self) -> None:
        self._call("DELETE", "/_stub/messages")

    def fail_next(
        self, count: int = 1, status: int = 500, body: str = "rollup_error", delay_ms: int = 0
    ) -> Json:
        """Fail the next ``count`` deliveries with ``status``/``body`` (after ``delay_ms``)."""
        spec = {"count": count, "status": status, "body": body, "delay_ms": delay_ms}
        return dict(self._call("POST", "/_stub/fail", spec)["fail"])

    def delay_next(self, count: int, delay_ms: int) -> Json:
        """Hold the next ``count`` deliveries ``delay_ms``, then answer them normally."""
        spec = {"count": count, "delay_ms": delay_ms, "status": None}
        return dict(self._call("POST", "/_stub/fail", spec)["fail"])

    def clear_failures(self) -> None:
        self._call("POST", "/_stub/fail", {"count": 0})

    def wait_for_messages(
        self,
        count: int = 1,
        timeout: float = 10.0,
        include_failed: bool = False,
        containing: str | None = None,
    ) -> list[Json]:
        return self._wait(
            lambda: self.messages(include_failed, containing), count, timeout, "Slack messages"
        )

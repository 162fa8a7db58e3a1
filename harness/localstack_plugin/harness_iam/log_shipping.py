"""Lambda's log shipping, which assumes the execution role again after a refusal.

Why this exists: LocalStack 4.13's `LogHandler.run_log_loop`
(`services/lambda_/invocation/logs.py`) assumes a function's execution role once, when a
version starts, and its thread ends if that AssumeRole is refused (the role's trust
does not name `lambda.amazonaws.com`, which harness_iam enforces). Every later log line of
that version then waits in a queue nobody reads: mending the trust brings the function
back but not its logs, until the next deployment of the function. On AWS the logs come
back as soon as the role can be assumed again.

`RoleLogClients` stands in for `connect_to` in that module. Its `with_assumed_role(...)`
returns services whose clients assume the role when the first batch is shipped, keep it,
and assume it again for the next batch after a refusal. A batch shipped while the role
cannot be assumed fails the way LocalStack's loop already handles a failed batch (a
warning, the batch dropped), as on AWS, where a function whose role cannot be assumed
writes no logs.

Pure Python: `extension.py` installs it on LocalStack's module.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class _NeverRaised(Exception):
    """Matches no error."""


class _NoClientExceptions:
    """The `exceptions` of a client that could not be made: LocalStack's loop reads
    `client.exceptions.X` only in an `except` clause, after a call failed; making the
    client there would assume the role a second time for the same refused batch."""

    def __getattr__(self, name: str) -> type[Exception]:
        return _NeverRaised


class _OnDemand:
    """A service client made when first used, and made again after a failure to make it."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._make()  # raises if refused; the next use tries again
            return self._client

    def __getattr__(self, name: str) -> Any:
        if name == "exceptions" and self._client is None:
            return _NoClientExceptions()
        return getattr(self._get(), name)


class _RoleServices:
    """What `connect_to.with_assumed_role(...)` returns, with the role assumed on use.
    Each attribute read is a client of its own (LocalStack's loop reads `.logs` once)."""

    def __init__(self, factory: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._factory, self._args, self._kwargs = factory, args, kwargs

    def __getattr__(self, service: str) -> _OnDemand:
        return _OnDemand(
            lambda: getattr(self._factory.with_assumed_role(*self._args, **self._kwargs), service)
        )


class RoleLogClients:
    """Stands in for `connect_to` in LocalStack's Lambda log module."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory

    def with_assumed_role(self, *args: Any, **kwargs: Any) -> _RoleServices:
        return _RoleServices(self.factory, args, kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.factory(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.factory, name)


__all__ = ["RoleLogClients"]

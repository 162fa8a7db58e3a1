"""Shared test helpers, and the one process-wide setting the suite needs."""

from __future__ import annotations

import signal


def pytest_configure() -> None:
    """Ctrl-C works in the session and in every command a test starts, as in a terminal.

    A shell without job control (a CI step's script, `make test &`) starts background
    commands with SIGINT ignored, and an ignored signal stays ignored across fork and
    exec: pytest, and every harness command the fault tests interrupt, would then never
    see their Ctrl-C (measured: 7 fault tests failed on a run started that way). With a
    handler installed here, children start with SIGINT at its default again.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)

"""The one exception type the CLI turns into a readable message and exit code 2."""


class HarnessError(Exception):
    """A problem the user can fix; the message says what to do."""

"""`{name}` templates in scenario strings (Python `str.format` syntax).

Keys and expectations use placeholders such as `ingest/{scenario}/{i:03}.jpg`: checked
when the file is loaded (unknown names and bad format specs are errors with a line
number), filled in when the scenario runs. `{{` and `}}` are literal braces.
"""

from __future__ import annotations

import string
from typing import Any

from harness.scenarios.source import Src

# Always available while a scenario runs (see docs/scenarios.md).
RUN_VARIABLES = {
    "scenario": "unique key part of this run of the scenario, e.g. happy-path-3fa2c1",
    "bucket": "the pipeline's bucket",
    "alarm_name": "the DLQ alarm's name",
    "dlq_name": "the dead-letter queue's name",
    "queue_name": "the labeler queue's name",
    "topic_arn": "the events topic's ARN",
    "upload_bucket": "the catalog's (system B) upload bucket",
    "served_bucket": "the catalog's (system B) served bucket",
}
SAMPLES: dict[str, Any] = {
    "i": 0,
    "n": 1,
    "key": "ingest/x/0.jpg",
    "ext": ".jpg",
    "name": "a.jpg",
    "stem": "a",
    "relpath": "a.jpg",
    **{name: "sample" for name in RUN_VARIABLES},
}


def fields_of(text: str) -> list[tuple[str, str]]:
    """(field name, format spec) of every placeholder; raises ValueError on bad syntax."""
    found = []
    for _literal, field, spec, _conversion in string.Formatter().parse(text):
        if field is not None:
            found.append((field, spec or ""))
    return found


def check(src: Src, extra: tuple[str, ...] = ()) -> str:
    """Validate the string at `src` as a template using run variables plus `extra`."""
    text = src.text()
    check_text(src, text, extra)
    return text


def check_text(src: Src, text: str, extra: tuple[str, ...] = ()) -> None:
    allowed = set(RUN_VARIABLES) | set(extra)
    try:
        fields = fields_of(text)
    except ValueError as exc:
        raise src.fail(f"bad template {text!r}: {exc} (write {{{{ and }}}} for braces)") from exc
    for field, _spec in fields:
        if field == "" or not field.isidentifier():
            raise src.fail(f"bad placeholder {{{field}}} in {text!r}: use a name such as {{i}}")
        if field not in allowed:
            raise src.fail(
                f"unknown placeholder {{{field}}} in {text!r}; here you can use "
                + ", ".join(f"{{{name}}}" for name in sorted(allowed))
            )
    try:
        text.format_map(SAMPLES)
    except (ValueError, TypeError) as exc:
        raise src.fail(f"bad format in {text!r}: {exc}") from exc


def render(text: str, variables: dict[str, Any]) -> str:
    return text.format_map(variables)


def has_placeholders(text: str) -> bool:
    try:
        return bool(fields_of(text))
    except ValueError:
        return False

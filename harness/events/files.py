"""Reading recorded events from files and folders, JSON or JSON Lines, with line numbers.

Recordings come from many places (a `harness record` file, a DLQ dump, an EventBridge
archive, a log line pasted into a file), so every entry keeps where it came from:
what cannot be read is reported as `file:line: reason` and the rest is still read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.events.shapes import NotAnS3Event, S3Notification, s3_notifications

SUFFIXES = (".json", ".jsonl", ".ndjson")
LINE_SUFFIXES = (".jsonl", ".ndjson")


@dataclass(frozen=True)
class Location:
    path: Path
    line: int
    where: str = ""  # inside a batch: Records[2]

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}"
        return f"{text} {self.where}" if self.where else text


@dataclass(frozen=True)
class RecordedEvent:
    """One S3 event notification read from a recording."""

    location: Location
    notification: S3Notification

    @property
    def shape(self) -> str:
        return self.notification.shape

    @property
    def event(self) -> dict:
        return self.notification.event


@dataclass(frozen=True)
class Unreadable:
    """An entry that could not be read, and why."""

    location: Location
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


def _files(paths: Iterable[Path]) -> Iterator[Path | Unreadable]:
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
            if not found:
                yield Unreadable(Location(path, 0), "folder holds no .json/.jsonl/.ndjson file")
            yield from found
        elif path.is_file():
            yield path
        else:
            yield Unreadable(Location(path, 0), "no such file or folder")


def _looks_like_json_lines(text: str) -> bool:
    """True when the first non-blank line is a whole JSON value and more lines follow."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return False
    try:
        json.loads(lines[0])
    except json.JSONDecodeError:
        return False
    return True


def _array_items(text: str) -> Iterator[tuple[int, object]]:
    """(line, value) of each element of a JSON array that is known to be valid."""
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text) or text[position] == "]":
            return
        value, end = decoder.raw_decode(text, position)
        yield text.count("\n", 0, position) + 1, value
        position = end


def _values(path: Path, text: str) -> Iterator[tuple[int, object] | Unreadable]:
    if path.suffix in LINE_SUFFIXES or _looks_like_json_lines(text):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                reason = f"not JSON: {exc.msg} (column {exc.colno})"
                yield Unreadable(Location(path, number), reason)
        return
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        yield Unreadable(Location(path, exc.lineno), f"not JSON: {exc.msg} (column {exc.colno})")
        return
    if isinstance(document, list):
        yield from _array_items(text)
    else:
        yield 1, document


def read(paths: Iterable[Path]) -> tuple[list[RecordedEvent], list[Unreadable]]:
    """Every S3 event notification in `paths` (files or folders), in order, and what failed."""
    events: list[RecordedEvent] = []
    errors: list[Unreadable] = []
    for item in _files(paths):
        if isinstance(item, Unreadable):
            errors.append(item)
            continue
        try:
            text = item.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(Unreadable(Location(item, 0), f"cannot read the file: {exc}"))
            continue
        if not text.strip():
            errors.append(Unreadable(Location(item, 0), "the file is empty"))
            continue
        for value in _values(item, text):
            if isinstance(value, Unreadable):
                errors.append(value)
                continue
            line, payload = value
            for found in s3_notifications(payload):
                if isinstance(found, NotAnS3Event):
                    errors.append(Unreadable(Location(item, line), str(found)))
                else:
                    events.append(RecordedEvent(Location(item, line, found.where), found))
    return events, errors

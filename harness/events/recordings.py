"""Reading recorded events from files and folders, JSON or JSON Lines, with line numbers.

Recordings come from many places (a `harness record` file, a DLQ dump, an EventBridge
archive, a log line pasted into a file), so every entry keeps where it came from:
what cannot be read is reported as `file:line: reason` and the rest is still read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Iterable, Iterator
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


_BLANK = re.compile(r"[ \t\n\r]*")  # JSON's own whitespace
_BOM = b"\xef\xbb\xbf"


def _not_json(exc: json.JSONDecodeError) -> str:
    return f"not JSON: {exc.msg} (column {exc.colno})"


def _not_utf8(exc: UnicodeDecodeError) -> str:
    return f"not UTF-8 text (byte {exc.start + 1} of the line)"


class _Lines:
    """Line numbers of increasing positions in a text; each newline is counted once, so
    numbering every value of a large recording takes one pass over it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0
        self.line = 1

    def at(self, position: int) -> int:
        if position < self.position:
            raise ValueError("positions must not go back")
        self.line += self.text.count("\n", self.position, position)
        self.position = position
        return self.line


def _looks_like_json_lines(path: Path) -> bool:
    """True when the first non-blank line is a whole JSON value and more lines follow.

    Reads only as far as the second non-blank line.
    """
    first = True
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            if not first:
                return True
            first = False
            try:
                json.loads(raw.removeprefix(_BOM).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                return False
    return False


def _json_lines(path: Path) -> Iterator[tuple[int, object] | Unreadable]:
    """One value a line, read line by line: a large recording is never held whole."""
    empty = True
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1:
                raw = raw.removeprefix(_BOM)
            if not raw.strip():
                continue
            empty = False
            where = Location(path, number)
            try:
                # Without its line end, so a column points into the line itself.
                yield number, json.loads(raw.decode("utf-8").rstrip("\r\n"))
            except UnicodeDecodeError as exc:
                yield Unreadable(where, _not_utf8(exc))
            except json.JSONDecodeError as exc:
                yield Unreadable(where, _not_json(exc))
            except RecursionError:
                yield Unreadable(where, "not readable: nested too deeply")
    if empty:
        yield Unreadable(Location(path, 0), "the file is empty")


def _skip_blank(text: str, position: int) -> int:
    match = _BLANK.match(text, position)
    return match.end() if match else position


def _json_document(path: Path) -> Iterator[tuple[int, object] | Unreadable]:
    """The value of a JSON file, or each element (with its line) when it is an array.

    An array is decoded element by element (`JSONDecoder.raw_decode` over the text), so
    the elements before a syntax error are still read, and line numbers cost one pass.
    """
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        yield Unreadable(Location(path, line), f"not UTF-8 text (byte {exc.start + 1})")
        return
    del data
    start = _skip_blank(text, 0)
    if start == len(text):
        yield Unreadable(Location(path, 0), "the file is empty")
        return
    lines = _Lines(text)
    decoder = json.JSONDecoder()
    if text[start] != "[":
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            yield Unreadable(Location(path, exc.lineno), _not_json(exc))
            return
        except RecursionError:
            yield Unreadable(Location(path, lines.at(start)), "not readable: nested too deeply")
            return
        yield lines.at(start), value
    else:
        try:
            end = yield from _array_items(text, start, lines, decoder)
        except json.JSONDecodeError as exc:
            yield Unreadable(Location(path, exc.lineno), _not_json(exc))
            return
        except _TooDeep as exc:
            yield Unreadable(Location(path, exc.line), "not readable: nested too deeply")
            return
    end = _skip_blank(text, end)
    if end < len(text):
        exc = json.JSONDecodeError("Extra data", text, end)
        yield Unreadable(Location(path, exc.lineno), _not_json(exc))


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def _array_items(
    text: str, start: int, lines: _Lines, decoder: json.JSONDecoder
) -> Generator[tuple[int, object], None, int]:
    """(line, value) of each element of the array at `start`; returns where it ends.

    Raises `JSONDecodeError` (or `_TooDeep`) where the array stops being readable.
    """
    position = _skip_blank(text, start + 1)
    if text.startswith("]", position):
        return position + 1
    while True:
        try:
            value, end = decoder.raw_decode(text, position)
        except RecursionError:
            raise _TooDeep(lines.at(position)) from None
        yield lines.at(position), value
        position = _skip_blank(text, end)
        if text.startswith(",", position):
            position = _skip_blank(text, position + 1)
        elif text.startswith("]", position):
            return position + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, position)


def _values(path: Path) -> Iterator[tuple[int, object] | Unreadable]:
    if path.suffix in LINE_SUFFIXES or _looks_like_json_lines(path):
        return _json_lines(path)
    return _json_document(path)


def _notifications(payload: object, where: Location) -> list[RecordedEvent | Unreadable]:
    try:
        found = s3_notifications(payload)
    except Exception as exc:  # a shape nobody foresaw is one unreadable entry, not a crash
        return [Unreadable(where, f"cannot be read: {type(exc).__name__}: {exc}")]
    return [
        Unreadable(where, str(item))
        if isinstance(item, NotAnS3Event)
        else RecordedEvent(Location(where.path, where.line, item.where), item)
        for item in found
    ]


def read(paths: Iterable[Path]) -> tuple[list[RecordedEvent], list[Unreadable]]:
    """Every S3 event notification in `paths` (files or folders), in order, and what failed.

    Each entry that cannot be read (not JSON, not an S3 event, a record of the wrong
    shape) is reported as `file:line: reason`; the rest is still read.
    """
    events: list[RecordedEvent] = []
    errors: list[Unreadable] = []
    for item in _files(paths):
        if isinstance(item, Unreadable):
            errors.append(item)
            continue
        try:
            for value in _values(item):
                if isinstance(value, Unreadable):
                    errors.append(value)
                    continue
                line, payload = value
                for found in _notifications(payload, Location(item, line)):
                    if isinstance(found, Unreadable):
                        errors.append(found)
                    else:
                        events.append(found)
        except OSError as exc:
            errors.append(Unreadable(Location(item, 0), f"cannot read the file: {exc}"))
    return events, errors

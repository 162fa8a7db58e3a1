"""The naming rule of system B, in one place.

An operator uploads `origin/{vertical}/{cd_idx}_{sequence}.jpg` to the upload
bucket; the resize function serves `{vertical}/{size}/{cd_idx}_{size}_{sequence}.jpg`
and the catalog URL is `https://{cdn_host}/` plus that key. The rule is strict so
that every accepted upload maps to exactly one row per size (no `01_1.jpg` next
to `1_1.jpg`, no `.JPG` next to `.jpg` overwriting each other):

- vertical: 1-40 characters of lowercase letters, digits and hyphens, starting
  and ending with a letter or digit (`[a-z0-9]([a-z0-9-]*[a-z0-9])?`);
- cd_idx: the entity's id, a positive integer without leading zeros (1-18 digits);
- sequence: the image's number for that entity, a positive integer without
  leading zeros (1-9 digits);
- extension: `.jpg`, lowercase; the content must be a JPEG too (checked apart).

The harness imports this file (`harness upload` checks names before uploading),
so the function and the operator tools can never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ORIGIN_PREFIX = "origin/"
VERTICAL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
FILENAME_RE = re.compile(r"^(?P<cd_idx>[1-9][0-9]{0,17})_(?P<sequence>[1-9][0-9]{0,8})\.jpg$")
SIZE_NAME_RE = re.compile(r"^[a-z0-9]{1,20}$")
RULE = "origin/{vertical}/{cd_idx}_{sequence}.jpg"


class NameRejected(ValueError):
    """The key breaks the naming rule; `reason` says which part and how to fix it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ImageName:
    """One accepted source image: which entity, which of its images."""

    vertical: str
    cd_idx: int
    sequence: int

    def origin_key(self, origin_prefix: str = ORIGIN_PREFIX) -> str:
        return f"{origin_prefix}{self.vertical}/{self.cd_idx}_{self.sequence}.jpg"

    def served_key(self, size: str) -> str:
        """`{vertical}/{size}/{cd_idx}_{size}_{sequence}.jpg` in the served bucket."""
        return f"{self.vertical}/{size}/{self.cd_idx}_{size}_{self.sequence}.jpg"


def check_vertical(vertical: str) -> str:
    if not VERTICAL_RE.match(vertical):
        raise NameRejected(
            f"vertical {vertical!r} is not 1-40 lowercase letters, digits and hyphens "
            "(starting and ending with a letter or digit)"
        )
    return vertical


def parse_filename(vertical: str, filename: str) -> ImageName:
    """`1234_2.jpg` in vertical `actor` -> ImageName("actor", 1234, 2)."""
    check_vertical(vertical)
    match = FILENAME_RE.match(filename)
    if match:
        return ImageName(vertical, int(match["cd_idx"]), int(match["sequence"]))
    _stem, dot, extension = filename.rpartition(".")
    if not dot:
        raise NameRejected(
            f"file name {filename!r} has no extension; expected {{cd_idx}}_{{sequence}}.jpg"
        )
    if extension != "jpg":
        raise NameRejected(f"file name {filename!r} must end in .jpg (lowercase), not .{extension}")
    raise NameRejected(
        f"file name {filename!r} is not {{cd_idx}}_{{sequence}}.jpg with cd_idx and sequence "
        "positive whole numbers without leading zeros (e.g. 1234_1.jpg)"
    )


def parse_origin_key(key: str, origin_prefix: str = ORIGIN_PREFIX) -> ImageName:
    """`origin/actor/1234_2.jpg` -> ImageName("actor", 1234, 2), or NameRejected."""
    if not key.startswith(origin_prefix):
        raise NameRejected(f"key {key!r} is outside {origin_prefix!r}")
    parts = key[len(origin_prefix) :].split("/")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise NameRejected(f"key {key!r} does not follow {RULE} (one folder: the vertical)")
    return parse_filename(parts[0], parts[1])


def check_size_name(name: str) -> str:
    if not SIZE_NAME_RE.match(name):
        raise ValueError(f"size name {name!r} must be 1-20 lowercase letters or digits")
    return name

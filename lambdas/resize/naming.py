"""The naming rule of system B, in one place.

An operator uploads `origin/{vertical}/{cd_idx}_{sequence}.jpg` to the upload
bucket; the resize function serves `{vertical}/{size}/{cd_idx}_{size}_{sequence}.jpg`
and the catalog URL is `https://{cdn_host}/` plus that key. The rule is strict so
that every accepted upload maps to exactly one row per size (no `01_1.jpg` next
to `1_1.jpg`, no `.JPG` next to `.jpg` overwriting each other).

Where the rule comes from (seed 002, the 2018 runbook of system B):
- the served address `https://image.mycelebs.com/{vertical}/{image_size}/
  {cd_idx}_{image_size}_{sequence}.jpg` gives the parts and the lowercase `.jpg`;
- the runbook's own upload, `aws s3 cp . s3://celebtide-image-upload/origin/ssgdfm_eye
  --recursive --include="*.jpg"`, names the vertical `ssgdfm_eye`: verticals contain
  underscores (an earlier version of this rule refused them, and with them the
  seed's own example);
- "images must be JPEG" and `--include="*.jpg"`: one lowercase extension.

The parts, and what is refused (each refusal names the part and the rule):
- vertical: 1-40 characters (the catalog column is VARCHAR(40)) of lowercase
  letters, digits, underscores and hyphens, starting and ending with a letter or
  digit (`[a-z0-9]([a-z0-9_-]*[a-z0-9])?`), so `ssgdfm_eye`, `k-pop`, `actor2`.
  Refused: uppercase (S3 keys and CDN URLs are case-sensitive, so `Actor` and
  `actor` would split one catalogue section in two; the seed writes its
  verticals lowercase), spaces and other characters (they need URL encoding in
  the CDN address), non-ASCII letters, `.` and `..` (path steps: a vertical must
  never move a key to another folder), a leading or trailing `_`/`-` (a
  truncated or mistyped name), and the empty vertical (`origin//...`).
- exactly one folder under `origin/`: the vertical (no subfolders, no empty parts
  such as `origin/actor//1_1.jpg`).
- cd_idx: the entity's id, a positive integer without leading zeros (1-18 digits);
- sequence: the image's number for that entity, a positive integer without
  leading zeros (1-9 digits);
- extension: `.jpg`, lowercase; the content must be a JPEG too (checked apart).
Control characters, including a trailing newline, are refused everywhere
(the patterns are anchored with `\\A`/`\\Z`, not `^`/`$`: `$` accepts a final newline).

The harness imports this file (`harness upload` checks names before uploading),
so the function and the operator tools can never disagree; the loader repeats
VERTICAL_RE (separate zip) and a unit test checks the two agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ORIGIN_PREFIX = "origin/"
VERTICAL_MAX = 40
# \A and \Z, never ^ and $: `$` also matches before a final newline ("actor\n").
VERTICAL_RE = re.compile(r"\A[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?\Z")
FILENAME_RE = re.compile(r"\A(?P<cd_idx>[1-9][0-9]{0,17})_(?P<sequence>[1-9][0-9]{0,8})\.jpg\Z")
SIZE_NAME_RE = re.compile(r"\A[a-z0-9]{1,20}\Z")
RULE = "origin/{vertical}/{cd_idx}_{sequence}.jpg"
VERTICAL_RULE = (
    "vertical: 1-40 lowercase letters, digits, underscores and hyphens, "
    "starting and ending with a letter or digit (e.g. ssgdfm_eye)"
)
FILENAME_RULE = (
    "file name: {cd_idx}_{sequence}.jpg, cd_idx and sequence positive whole numbers "
    "without leading zeros, extension .jpg in lowercase (e.g. 1234_1.jpg)"
)


def folder_rule(origin_prefix: str = ORIGIN_PREFIX) -> str:
    return (
        f"key: {origin_prefix}{{vertical}}/{{cd_idx}}_{{sequence}}.jpg, exactly one folder "
        f"(the vertical) under {origin_prefix}"
    )


FOLDER_RULE = folder_rule()


class NameRejected(ValueError):
    """The key breaks the naming rule.

    `reason` says what is wrong and how to fix it, `part` which part of the key
    (`key`, `vertical` or `file name`), `value` the offending text, `rule` the
    rule of that part.
    """

    def __init__(self, reason: str, part: str = "key", value: str = "", rule: str = RULE) -> None:
        super().__init__(reason)
        self.reason = reason
        self.part = part
        self.value = value
        self.rule = rule


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


def _vertical_problem(vertical: str) -> str:
    """Why `vertical` breaks the rule, in words (it does)."""
    if not vertical:
        return "is empty"
    if vertical in (".", ".."):
        return "is a path step, not a name"
    if len(vertical) > VERTICAL_MAX:
        return f"is {len(vertical)} characters long, more than {VERTICAL_MAX}"
    if any(c.isupper() for c in vertical):
        return "has uppercase letters; verticals are lowercase"
    bad = sorted({c for c in vertical if not re.fullmatch(r"[a-z0-9_-]", c)})
    if bad:
        return "has characters other than a-z, 0-9, _ and -: " + " ".join(repr(c) for c in bad)
    return "must start and end with a letter or digit"


def check_vertical(vertical: str) -> str:
    if not VERTICAL_RE.fullmatch(vertical):
        raise NameRejected(
            f"vertical {vertical!r} {_vertical_problem(vertical)} (rule: {VERTICAL_RULE})",
            part="vertical",
            value=vertical,
            rule=VERTICAL_RULE,
        )
    return vertical


def parse_filename(vertical: str, filename: str) -> ImageName:
    """`1234_2.jpg` in vertical `actor` -> ImageName("actor", 1234, 2)."""
    check_vertical(vertical)
    match = FILENAME_RE.fullmatch(filename)
    if match:
        return ImageName(vertical, int(match["cd_idx"]), int(match["sequence"]))

    def rejected(reason: str) -> NameRejected:
        return NameRejected(reason, part="file name", value=filename, rule=FILENAME_RULE)

    if not filename.isprintable():
        raise rejected(f"file name {filename!r} has unprintable characters (newline, tab, ...)")
    _stem, dot, extension = filename.rpartition(".")
    if not dot:
        raise rejected(
            f"file name {filename!r} has no extension; expected {{cd_idx}}_{{sequence}}.jpg"
        )
    if extension != "jpg":
        raise rejected(f"file name {filename!r} must end in .jpg (lowercase), not .{extension}")
    raise rejected(
        f"file name {filename!r} is not {{cd_idx}}_{{sequence}}.jpg with cd_idx and sequence "
        "positive whole numbers without leading zeros (e.g. 1234_1.jpg)"
    )


def parse_origin_key(key: str, origin_prefix: str = ORIGIN_PREFIX) -> ImageName:
    """`origin/actor/1234_2.jpg` -> ImageName("actor", 1234, 2), or NameRejected."""
    if not key.startswith(origin_prefix):
        raise NameRejected(
            f"key {key!r} is outside {origin_prefix!r}",
            part="key",
            value=key,
            rule=folder_rule(origin_prefix),
        )
    parts = key[len(origin_prefix) :].split("/")
    if len(parts) != 2 or not parts[1]:
        raise NameRejected(
            f"key {key!r} does not follow {RULE} (one folder: the vertical)",
            part="key",
            value=key,
            rule=folder_rule(origin_prefix),
        )
    return parse_filename(parts[0], parts[1])


def check_size_name(name: str) -> str:
    if not SIZE_NAME_RE.fullmatch(name):
        raise ValueError(f"size name {name!r} must be 1-20 lowercase letters or digits")
    return name

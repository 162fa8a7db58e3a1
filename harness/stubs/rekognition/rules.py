"""Label rules: which answer the Rekognition stub gives for which image.

A rule is a JSON object::

    {"key_glob": "ingest/cats/*.jpg",          # fnmatch on the S3 key (case-sensitive)
     "key_regex": "^ingest/.*\\.png$",          # re.search on the S3 key
     "sha256": "<hex digest of the image bytes>",
     "bucket": "my-bucket",                     # optional, S3 input only
     "labels": [{"Name": "Cat", "Confidence": 98.1, ...}, "Dog"],   # or:
     "error": {"type": "InvalidImageFormatException", "message": "..."},
     "name": "free text shown in the call log"}

Every matcher given must match (a rule with no matcher matches everything); rules are
tried in order and the first match wins. Key matchers never match ``Image.Bytes`` input,
which has no key. Rules run after the image has been fetched and validated, so a rule
cannot make an unreadable image succeed - the stub stays as strict as the service.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

from harness.stubs.rekognition.exceptions import parse_error_spec
from harness.stubs.rekognition.labels import normalise_label
from harness.stubs.rekognition.specs import parse_entries

_RULE_KEYS = {"key_glob", "key_regex", "sha256", "bucket", "labels", "error", "name"}


@dataclass(frozen=True)
class Rule:
    spec: dict[str, Any]  # the normalised JSON form, returned by GET /_stub/rules
    regex: re.Pattern[str] | None = field(default=None, compare=False)

    def matches(self, bucket: str | None, key: str | None, sha256: str) -> bool:
        spec = self.spec
        if "bucket" in spec and spec["bucket"] != bucket:
            return False
        if "key_glob" in spec and (key is None or not fnmatch.fnmatchcase(key, spec["key_glob"])):
            return False
        if self.regex is not None and (key is None or not self.regex.search(key)):
            return False
        return "sha256" not in spec or spec["sha256"] == sha256


def parse_rule(raw: Any, index: int) -> Rule:
    """Validate one rule; raises ``ValueError`` with a message fit for the control API."""
    where = f"rule {index}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be an object")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; allowed {sorted(_RULE_KEYS)}")
    if ("labels" in raw) == ("error" in raw):
        raise ValueError(f"{where}: give exactly one of 'labels' or 'error'")
    spec: dict[str, Any] = {}
    for key in ("name", "bucket", "key_glob", "key_regex"):
        if key in raw:
            if not isinstance(raw[key], str):
                raise ValueError(f"{where}: {key} must be a string")
            spec[key] = raw[key]
    if "sha256" in raw:
        digest = raw["sha256"]
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
            raise ValueError(f"{where}: sha256 must be 64 hex digits")
        spec["sha256"] = digest.lower()
    regex = None
    if "key_regex" in spec:
        try:
            regex = re.compile(spec["key_regex"])
        except re.error as exc:
            raise ValueError(f"{where}: bad key_regex: {exc}") from exc
    if "labels" in raw:
        if not isinstance(raw["labels"], list):
            raise ValueError(f"{where}: labels must be a list")
        spec["labels"] = [
            normalise_label(item, f"{where} label {i}") for i, item in enumerate(raw["labels"])
        ]
    else:
        spec["error"] = parse_error_spec(raw["error"], where)
    return Rule(spec=spec, regex=regex)


def parse_rules(raw: Any, start: int = 0) -> list[Rule]:
    """Accept a list of rules, ``{"rules": [...]}`` or a single rule object."""
    return parse_entries(raw, "rules", parse_rule, start)

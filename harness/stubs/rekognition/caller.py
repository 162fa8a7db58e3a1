"""Rekognition acts with its caller's permissions: the local stack's IAM decides.

On AWS, DetectLabels needs `rekognition:DetectLabels`, and Rekognition reads an
``Image.S3Object`` with the caller's permissions: `s3:GetObject`, or
`s3:GetObjectVersion` when ``S3Object.Version`` is given. A refused read answers
``InvalidS3ObjectException`` (Rekognition does not tell why), a refused call
``AccessDeniedException``.

The stub cannot evaluate policies itself, so it asks the IAM extension of the local
stack (``harness_iam``): ``POST <localstack>/_harness/iam/authorize`` with the access
key of the caller's signature and every check of the call, in one request. The extension
answers ``checked: false`` for keys that are not a role session (the tests' shared
keys): those calls go through, as every call of theirs does. A 404 means the extension
is not installed (``HARNESS_IAM=off``, or a LocalStack without our plugins): nothing is
checked either. Any other failure to ask is an error, never an allow. The bytes
themselves are then read with the stub's own credentials (``s3_reader``): what is
checked is who may read, not how.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from harness.stubs.rekognition.exceptions import RekognitionError
from harness.util import http

AUTHORIZE_PATH = "/_harness/iam/authorize"

# (Authorization header of the request, bucket, key, version): raises RekognitionError
# when the caller may not; bucket None for an image sent as bytes.
CallerCheck = Callable[[str, str | None, str | None, str | None], None]


def signing_key(authorization: str) -> tuple[str, str] | None:
    """(access key, region) of a SigV4 ``Authorization`` header; None when unsigned."""
    if "Credential=" not in authorization:
        return None
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].strip()
    parts = scope.split("/")
    if len(parts) < 3 or not parts[0]:
        return None
    return parts[0], parts[2]


def iam_caller_check(endpoint: str, timeout: float = 5.0) -> CallerCheck:
    """A check asking the IAM extension at ``endpoint`` (the LocalStack one)."""
    url = endpoint.rstrip("/") + AUTHORIZE_PATH

    def ask(body: dict[str, Any]) -> dict[str, Any] | None:
        """The extension's decision; None when there is no extension to ask."""
        try:
            answer = http.call_json(url, "POST", body, timeout)
        except http.HttpStatusError as exc:
            if exc.status == 404:  # no IAM extension: nothing is enforced
                return None
            raise
        except (json.JSONDecodeError, UnicodeDecodeError) as not_json:
            answer = getattr(not_json, "doc", None) or str(not_json)
        if not isinstance(answer, dict) or "checked" not in answer:
            raise RuntimeError(
                f"{url} answered without an IAM decision ({str(answer)[:80]!r}): is IAM off "
                "in that LocalStack? Then start the stubs with --iam-endpoint '' "
                "(`harness up` does)"
            )
        return answer

    def check(authorization: str, bucket: str | None, key: str | None, version: str | None) -> None:
        signed = signing_key(authorization)
        if signed is None:
            return
        access_key, region = signed
        calls: list[dict[str, Any]] = [
            {"service": "rekognition", "operation": "DetectLabels", "params": {}}
        ]
        if bucket is not None and key is not None:
            params = {"Bucket": bucket, "Key": key} | ({"VersionId": version} if version else {})
            calls.append(
                {"service": "s3", "operation": "GetObject", "params": params, "via": "rekognition"}
            )
        answer = ask({"access_key": access_key, "region": region, "calls": calls})
        if answer is None or not answer["checked"]:  # no extension, or not a role session
            return
        for call, result in zip(calls, answer.get("results") or [], strict=False):
            if result.get("allowed", False):
                continue
            if call["service"] == "rekognition":
                raise RekognitionError("AccessDeniedException", result.get("message"))
            raise RekognitionError("InvalidS3ObjectException")
        if not answer.get("allowed", False):  # refused, though no result says which call
            raise RekognitionError("AccessDeniedException", "the caller's access was refused")

    return check

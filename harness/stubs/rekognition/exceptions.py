"""Rekognition's DetectLabels errors as they appear on the wire.

The botocore model lists the error shapes but not their HTTP status codes; those come
from the DetectLabels API reference ("Errors" section): everything is 400 except
``InternalServerError`` and ``ThrottlingException``, which are 500. The status matters:
botocore's retry logic and the Lambda's own error handling branch on it.
"""

from __future__ import annotations

import uuid
from typing import Any

# code -> (HTTP status, default message). Messages are the ones AWS sends where known.
ERRORS: dict[str, tuple[int, str]] = {
    "AccessDeniedException": (400, "You are not authorized to perform this operation."),
    "ImageTooLargeException": (400, "Image size is too large."),
    "InternalServerError": (500, "Internal server error."),
    "InvalidImageFormatException": (400, "Request has invalid image format"),
    "InvalidParameterException": (400, "Request has invalid parameters"),
    "InvalidS3ObjectException": (
        400,
        "Unable to get object metadata from S3. Check object key, region and/or access "
        "permissions.",
    ),
    "ProvisionedThroughputExceededException": (400, "Provisioned rate exceeded."),
    "ThrottlingException": (500, "Rate exceeded."),
    # Protocol-level errors (not in the DetectLabels model, sent by the service front end).
    "SerializationException": (400, "Start of structure or map found where not expected."),
}

UNKNOWN_OPERATION_TYPE = "com.amazon.coral.service#UnknownOperationException"


class RekognitionError(Exception):
    """An error DetectLabels answers with; carries code, message and HTTP status."""

    def __init__(self, code: str, message: str | None = None, status: int | None = None) -> None:
        default_status, default_message = ERRORS.get(code, (400, code))
        self.code = code
        self.message = message if message is not None else default_message
        self.status = status if status is not None else default_status
        super().__init__(f"{code}: {self.message}")

    def wire(self) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Status, JSON body and extra headers exactly as botocore's JSON parser expects.

        ``__type`` gives ``Error.Code``, ``Message`` gives ``Error.Message``; Rekognition
        also repeats the code in ``Code`` and adds a ``Logref``.
        """
        body = {
            "__type": self.code,
            "Code": self.code,
            "Logref": str(uuid.uuid4()),
            "Message": self.message,
        }
        return self.status, body, {"x-amzn-ErrorType": f"{self.code}:"}


def parse_error_spec(spec: Any, where: str) -> dict[str, Any]:
    """Validate ``{"type", "message"?, "status"?}`` used by rules and faults.

    Unknown types are refused unless a ``status`` is given, so a typo such as
    ``ThrottlingExeption`` fails loudly instead of turning into a generic 400.
    """
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise ValueError(f"{where}: error must be a type name or {{'type': ..., 'message'?}}")
    unknown = set(spec) - {"type", "message", "status"}
    if unknown:
        raise ValueError(f"{where}: unknown error keys {sorted(unknown)}")
    status = spec.get("status")
    if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
        raise ValueError(f"{where}: error status must be an HTTP error code")
    if spec["type"] not in ERRORS and status is None:
        raise ValueError(
            f"{where}: unknown error type {spec['type']!r}; known: {sorted(ERRORS)} "
            "(give an explicit 'status' to use another)"
        )
    message = spec.get("message")
    if message is not None and not isinstance(message, str):
        raise ValueError(f"{where}: error message must be a string")
    return {k: v for k, v in spec.items() if v is not None}


def error_from_spec(spec: dict[str, Any]) -> RekognitionError:
    return RekognitionError(spec["type"], spec.get("message"), spec.get("status"))

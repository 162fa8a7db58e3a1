"""How each AWS protocol answers a denial: error code and HTTP status.

- rest-xml (S3): `AccessDenied`, 403, XML body.
- query (STS, IAM, CloudWatch's query form, SQS's legacy form): `AccessDenied`, 403;
  SNS answers `AuthorizationError`, 403.
- json / rest-json (KMS, SSM, Secrets Manager, Logs, Rekognition, SQS's JSON form):
  `AccessDeniedException`, 400; Lambda answers it with 403.

The body shape itself (XML or JSON) is the serializer's job: the extension raises a
`CommonServiceException` with this code and status and LocalStack serializes it in the
protocol of the request.
"""

from __future__ import annotations

SERVICE_OVERRIDES: dict[str, tuple[str, int]] = {
    "sns": ("AuthorizationError", 403),
    "lambda": ("AccessDeniedException", 403),
    "s3": ("AccessDenied", 403),
}

PROTOCOL_DEFAULTS: dict[str, tuple[str, int]] = {
    "rest-xml": ("AccessDenied", 403),
    "query": ("AccessDenied", 403),
    "ec2": ("AccessDenied", 403),
    "json": ("AccessDeniedException", 400),
    "rest-json": ("AccessDeniedException", 400),
    "smithy-rpc-v2-cbor": ("AccessDeniedException", 400),
}


def error_for(service: str, protocol: str | None) -> tuple[str, int]:
    """(error code, HTTP status) of an access denial for this service and protocol."""
    if service in SERVICE_OVERRIDES:
        return SERVICE_OVERRIDES[service]
    return PROTOCOL_DEFAULTS.get(protocol or "", ("AccessDeniedException", 400))


__all__ = ["PROTOCOL_DEFAULTS", "SERVICE_OVERRIDES", "error_for"]

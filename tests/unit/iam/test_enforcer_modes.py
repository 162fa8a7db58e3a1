"""HARNESS_IAM's three modes in the gateway handler (`harness_iam.extension.IamEnforcer`).

`enforce` refuses with the protocol's own error and logs the denial; `audit` lets the
same call through and logs it as a would-be denial; `off` checks nothing. The handler
is imported against stand-ins of the LocalStack modules it names (LocalStack is not
installed here); the decision itself is the real evaluator's, over policies given as
dicts. The e2e suite runs it in LocalStack in `enforce` mode.
"""

from __future__ import annotations

import types

import pytest
from harness_iam import DenialLog
from harness_iam.denial_log import read
from localstack_standins import import_plugin

from .sources import BUCKET_ARN, Facts, Source


class CommonServiceException(Exception):
    """LocalStack's: the error a handler raises to answer in the request's protocol."""

    def __init__(self, code, message, status_code=400, sender_fault=False):
        super().__init__(message)
        self.code, self.status_code = code, status_code


def _module(name: str, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    return module


def _decorator(*_args, **_kwargs):
    return lambda fn: fn


@pytest.fixture
def extension(monkeypatch):
    standins = {
        "localstack.aws": _module("localstack.aws"),
        "localstack.aws.accounts": _module(
            "localstack.aws.accounts", get_account_id_from_access_key_id=lambda key: "0" * 12
        ),
        "localstack.aws.api": _module(
            "localstack.aws.api",
            CommonServiceException=CommonServiceException,
            RequestContext=object,
        ),
        "localstack.aws.chain": _module(
            "localstack.aws.chain", CompositeHandler=object, HandlerChain=object
        ),
        "localstack.extensions": _module("localstack.extensions"),
        "localstack.extensions.api": _module("localstack.extensions.api", Extension=object),
        "localstack.http": _module(
            "localstack.http", Request=object, Response=object, Router=object, route=_decorator
        ),
    }
    return import_plugin(monkeypatch, "harness_iam.extension", standins)


def get_object(key: str) -> types.SimpleNamespace:
    """A RequestContext of an S3 GetObject, as LocalStack's gateway hands it over."""
    return types.SimpleNamespace(
        service=types.SimpleNamespace(service_name="s3", protocol="rest-xml"),
        operation=types.SimpleNamespace(name="GetObject"),
        service_request={"Bucket": BUCKET_ARN.rsplit(":", 1)[1], "Key": key},
        region="us-east-1",
        account_id="0" * 12,
        partition="aws",
        request=types.SimpleNamespace(headers={}, args={}, scheme="http", remote_addr=None),
        internal_request_params=None,
    )


def enforcer(extension, mode: str, log_path, labeler, allowed_prefix: str = "results/"):
    """The handler in `mode`, called by the labeler, whose role may read `allowed_prefix`."""
    handler = extension.IamEnforcer(mode, DenialLog(log_path))
    handler.caller = lambda context: (labeler, {"aws:SecureTransport": True})
    statement = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"{BUCKET_ARN}/{allowed_prefix}*",
    }
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    handler.policies = Source(roles={labeler.role_arn: {"labeler": policy}})
    handler.facts = Facts()
    return handler


def test_enforce_refuses_in_the_protocols_shape_and_logs_the_denial(extension, tmp_path, labeler):
    handler = enforcer(extension, "enforce", tmp_path / "denials.jsonl", labeler)
    with pytest.raises(CommonServiceException) as refused:
        handler(None, get_object("ingest/a.jpg"), None)
    assert (refused.value.code, refused.value.status_code) == ("AccessDenied", 403)
    assert "is not authorized to perform: s3:GetObject" in str(refused.value)
    (record,) = read(tmp_path / "denials.jsonl")
    assert (record["mode"], record["enforced"], record["action"]) == (
        "enforce",
        True,
        "s3:GetObject",
    )
    assert (handler.checked, handler.denied) == (1, 1)


def test_audit_lets_the_call_through_and_logs_what_enforce_would_refuse(
    extension, tmp_path, labeler
):
    handler = enforcer(extension, "audit", tmp_path / "denials.jsonl", labeler)
    assert handler(None, get_object("ingest/a.jpg"), None) is None  # the chain goes on
    (record,) = read(tmp_path / "denials.jsonl")
    assert (record["mode"], record["enforced"]) == ("audit", False)
    assert record["resource"].endswith("/ingest/a.jpg")
    assert record["role"] == labeler.role_arn
    assert (handler.checked, handler.denied) == (1, 1)


def test_audit_logs_nothing_for_an_allowed_call(extension, tmp_path, labeler):
    handler = enforcer(extension, "audit", tmp_path / "denials.jsonl", labeler, "ingest/")
    assert handler(None, get_object("ingest/a.jpg"), None) is None
    assert list(read(tmp_path / "denials.jsonl")) == []
    assert (handler.checked, handler.denied) == (1, 0)


def test_off_checks_nothing(extension, tmp_path, labeler):
    handler = enforcer(extension, "off", tmp_path / "denials.jsonl", labeler)
    assert handler(None, get_object("ingest/a.jpg"), None) is None
    assert list(read(tmp_path / "denials.jsonl")) == []
    assert handler.checked == 0

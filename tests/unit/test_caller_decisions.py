"""How the Rekognition stub reads the IAM extension's answer (harness/stubs/rekognition/
caller.py), answer by answer, without a server: nothing to check, a denial per call, a
refusal that names no call, and an answer that is no decision."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request

import pytest

from harness.stubs.rekognition import caller
from harness.stubs.rekognition.exceptions import RekognitionError

SIGNED = (
    "AWS4-HMAC-SHA256 Credential=ASIAROLE/20261202/eu-west-1/rekognition/aws4_request, "
    "SignedHeaders=host, Signature=00"
)


def answering(monkeypatch, answer: dict | bytes | int) -> None:
    """The extension answers `answer` (an int: that HTTP error)."""

    def urlopen(request, timeout):
        if isinstance(answer, int):
            raise urllib.error.HTTPError(request.full_url, answer, "no", {}, None)
        return io.BytesIO(answer if isinstance(answer, bytes) else json.dumps(answer).encode())

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


def code_of(check: caller.CallerCheck) -> str | None:
    try:
        check(SIGNED, "images", "ingest/a.jpg", None)
    except RekognitionError as exc:
        return exc.code
    return None


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (404, None),  # no IAM extension: nothing is enforced
        ({"checked": False, "allowed": True, "results": []}, None),  # not a role session
        ({"checked": True, "allowed": True, "results": [{"allowed": True}] * 2}, None),
        ({"checked": True, "allowed": False, "results": [{"allowed": False}]}, "AccessDenied"),
        (
            {"checked": True, "allowed": False, "results": [{"allowed": True}, {"allowed": False}]},
            "InvalidS3Object",
        ),
        ({"checked": True, "allowed": False, "results": []}, "AccessDenied"),  # never an allow
    ],
)
def test_the_answer_decides(monkeypatch, answer, code):
    answering(monkeypatch, answer)
    expected = f"{code}Exception" if code else None
    assert code_of(caller.iam_caller_check("http://iam")) == expected


@pytest.mark.parametrize("answer", [b"", b"[]", {"allowed": True}, 500])
def test_an_answer_that_is_no_decision_is_an_error(monkeypatch, answer):
    answering(monkeypatch, answer)
    with pytest.raises(RuntimeError):  # no decision, or the error status it answered
        caller.iam_caller_check("http://iam")(SIGNED, None, None, None)

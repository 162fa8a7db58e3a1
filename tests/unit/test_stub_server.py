"""StubServers, the control clients and ``python -m harness.stubs``."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.stubs.client import RekognitionStubClient, SlackSinkClient, StubControlError
from harness.stubs.server import StubServers

ROOT = Path(__file__).resolve().parents[2]


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return True
    return False


@pytest.fixture(scope="module")
def stubs() -> Iterator[StubServers]:
    with StubServers() as servers:
        yield servers


@pytest.fixture
def rekognition(stubs: StubServers) -> Iterator[RekognitionStubClient]:
    client = stubs.rekognition_client
    client.reset()
    yield client
    client.reset()


def test_ephemeral_ports_loopback_only_and_clean_stop():
    servers = StubServers().start()
    try:
        ports = (servers.rekognition_port, servers.slack_port)
        assert 0 not in ports and ports[0] != ports[1]
        assert servers.rekognition_url == f"http://127.0.0.1:{ports[0]}"
        assert servers.slack_webhook_url().startswith(f"http://127.0.0.1:{ports[1]}/services/")
        assert servers.rekognition_client.health()["service"] == "rekognition"
        assert servers.slack_client.health()["service"] == "slack"
        assert servers.env()["AWS_ENDPOINT_URL_REKOGNITION"] == servers.rekognition_url
        assert servers.rekognition._httpd.server_address[0] == "127.0.0.1"  # type: ignore[union-attr]
    finally:
        servers.stop()
    assert all(refuses_connections(port) for port in ports)
    assert not SlackSinkClient(f"http://127.0.0.1:{ports[1]}").is_up()


def test_stop_cuts_open_keep_alive_connections():
    servers = StubServers().start()
    connection = http.client.HTTPConnection("127.0.0.1", servers.slack_port, timeout=2)
    try:
        connection.request("GET", "/_stub/health")
        assert connection.getresponse().read()  # the connection stays open (HTTP/1.1)
        servers.stop()
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            connection.request("GET", "/_stub/health")
            connection.getresponse().read()
    finally:
        connection.close()
        servers.stop()


def test_rules_round_trip(rekognition: RekognitionStubClient):
    rekognition.set_rules([{"key_glob": "a/*", "labels": ["A"]}])
    rules = rekognition.add_rule({"sha256": "AB" * 32, "error": "ThrottlingException"})

    assert [set(r) for r in rules] == [{"key_glob", "labels"}, {"sha256", "error"}]
    assert rules[0]["labels"][0]["Name"] == "A"
    assert rules[1]["sha256"] == "ab" * 32  # normalised
    assert rules[1]["error"] == {"type": "ThrottlingException"}
    assert rekognition.rules() == rules
    rekognition.clear_rules()
    assert rekognition.rules() == []


@pytest.mark.parametrize(
    "bad_rule",
    [
        {"key_glob": "x"},  # neither labels nor error
        {"key_glob": "x", "labels": [], "error": "ThrottlingException"},
        {"key_regex": "(", "labels": []},
        {"key_glob": "x", "error": "ThrottlingExeption"},  # typo in the type
        {"sha256": "xyz", "labels": []},
        {"glob": "x", "labels": []},  # unknown key
    ],
)
def test_bad_rules_are_refused_and_change_nothing(
    rekognition: RekognitionStubClient, bad_rule: dict
):
    rekognition.set_rules([{"labels": ["Kept"]}])

    with pytest.raises(StubControlError) as refused:
        rekognition.set_rules([{"labels": ["New"]}, bad_rule])

    assert refused.value.status == 400
    assert "rule 1" in refused.value.body
    assert [r["labels"][0]["Name"] for r in rekognition.rules()] == ["Kept"]


def test_faults_round_trip_and_validation(rekognition: RekognitionStubClient):
    rekognition.add_fault("ThrottlingException", first_n=3, seed=5)
    faults = rekognition.add_fault(None, latency_ms=10, for_seconds=60)

    assert [f["error"] for f in faults] == [{"type": "ThrottlingException"}, None]
    assert faults[0]["first_n"] == 3 and faults[0]["fired"] == 0
    assert faults[1]["until"] > time.time() + 50
    with pytest.raises(StubControlError):
        rekognition.add_fault("ThrottlingException", rate=1.5)
    with pytest.raises(StubControlError):
        rekognition.add_fault(None)  # neither error nor latency
    assert len(rekognition.faults()) == 2
    rekognition.clear_faults()
    assert rekognition.faults() == []


def test_calls_log_clear_and_reset(stubs: StubServers, rekognition: RekognitionStubClient):
    request = urllib.request.Request(
        stubs.rekognition_url + "/",
        data=b"{}",
        method="POST",
        headers={"X-Amz-Target": "RekognitionService.DetectLabels"},
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=5)
    assert answer.value.code == 400  # no Image: InvalidParameterException

    [call] = rekognition.wait_for_calls(1, timeout=2)
    assert (call["error"], call["status"]) == ("InvalidParameterException", 400)
    rekognition.add_rule({"labels": ["X"]})
    rekognition.clear_calls()
    assert rekognition.calls() == [] and len(rekognition.rules()) == 1
    rekognition.reset()
    assert rekognition.rules() == [] and rekognition.faults() == []


def test_unknown_control_endpoint(stubs: StubServers):
    client = RekognitionStubClient(stubs.rekognition_url)
    with pytest.raises(StubControlError) as missing:
        client._call("GET", "/_stub/nope")
    with pytest.raises(StubControlError) as wrong_method:
        client._call("PATCH", "/_stub/rules")
    assert missing.value.status == 404
    assert wrong_method.value.status in (404, 405, 501)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_module_runs_in_foreground_until_signal(signum: int):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.stubs", "--rekognition-port", "0", "--slack-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        assert RekognitionStubClient(ready["rekognition"]).health()["ok"] is True
        assert SlackSinkClient(ready["slack"]).health()["ok"] is True

        process.send_signal(signum)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert refuses_connections(ready["rekognition_port"])
    assert refuses_connections(ready["slack_port"])

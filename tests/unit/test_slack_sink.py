"""The Slack webhook sink over real HTTP: capture, Slack's replies, failures, HTML page."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest

from harness.stubs import client as client_module
from harness.stubs.client import SlackSinkClient
from harness.stubs.slack import sink as sink_module
from harness.stubs.slack.sink import SlackSink

HOOK = "/services/T000/B000/XXXX"


@pytest.fixture(scope="module")
def sink() -> Iterator[SlackSink]:
    with SlackSink() as server:
        yield server


@pytest.fixture
def slack(sink: SlackSink) -> Iterator[SlackSinkClient]:
    client = SlackSinkClient(sink.url)
    client.reset()
    yield client
    client.reset()


def post(
    url: str,
    body: bytes | dict,
    content_type: str = "application/json",
    timeout: float = 5.0,
) -> tuple[int, str, str]:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode(), response.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers["Content-Type"]


def test_captures_a_message_and_answers_ok(sink: SlackSink, slack: SlackSinkClient):
    payload = {"text": "DLQ alarm: 3 messages", "blocks": [{"type": "section"}]}

    status, body, content_type = post(sink.url + HOOK, payload)

    assert (status, body) == (200, "ok")
    assert content_type.startswith("text/plain")
    [message] = slack.wait_for_messages(1, timeout=2)
    assert message["path"] == HOOK
    assert message["body"] == payload
    assert message["headers"]["Content-Type"] == "application/json"
    assert abs(message["received_at"] - time.time()) < 5
    assert (message["status"], message["failed"]) == (200, False)
    assert slack.texts() == ["DLQ alarm: 3 messages"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reply"),
    [
        (b"{not json", "application/json", 400, "invalid_payload"),
        (b"[1, 2]", "application/json", 400, "invalid_payload"),
        (b'{"username": "bot"}', "application/json", 400, "no_text"),
        (b'{"text": "  "}', "application/json", 400, "no_text"),
        (b'{"blocks": [{"type": "divider"}]}', "application/json", 200, "ok"),
        (b"payload=%7B%22text%22%3A%22hi%22%7D", "application/x-www-form-urlencoded", 200, "ok"),
    ],
)
def test_answers_like_slack(
    sink: SlackSink,
    slack: SlackSinkClient,
    body: bytes,
    content_type: str,
    status: int,
    reply: str,
):
    assert post(sink.url + HOOK, body, content_type)[:2] == (status, reply)

    [attempt] = slack.messages(include_failed=True)
    assert attempt["failed"] is (status != 200)
    assert attempt["reason"] == (None if status == 200 else reply)
    assert len(slack.messages()) == (1 if status == 200 else 0)


def test_invalid_json_is_recorded_as_text(sink: SlackSink, slack: SlackSinkClient):
    post(sink.url + HOOK, b"{broken")
    [attempt] = slack.messages(include_failed=True)
    assert attempt["body"] == "{broken"


def test_fail_next_n_then_recover(sink: SlackSink, slack: SlackSinkClient):
    slack.fail_next(2)

    answers = [post(sink.url + HOOK, {"text": f"try {i}"})[:2] for i in range(3)]

    assert answers == [(500, "rollup_error"), (500, "rollup_error"), (200, "ok")]
    attempts = slack.messages(include_failed=True)
    assert [m["failed"] for m in attempts] == [True, True, False]
    assert [m["reason"] for m in attempts] == ["injected", "injected", None]
    assert [m["body"]["text"] for m in slack.messages()] == ["try 2"]


def test_fail_with_custom_status_and_body(sink: SlackSink, slack: SlackSinkClient):
    slack.fail_next(1, status=403, body="invalid_token")
    assert post(sink.url + HOOK, {"text": "x"})[:2] == (403, "invalid_token")
    assert post(sink.url + HOOK, {"text": "x"})[:2] == (200, "ok")


def test_delay_trips_the_callers_timeout(
    sink: SlackSink, slack: SlackSinkClient, record_property: Callable[[str, object], None]
):
    slack.delay_next(1, delay_ms=600)

    started = time.perf_counter()
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)) as caught:
        post(sink.url + HOOK, {"text": "slow"}, timeout=0.2)
    record_property("seconds_until_the_caller_timed_out", round(time.perf_counter() - started, 3))
    retry = post(sink.url + HOOK, {"text": "retry"})

    # The caller gave up because of its timeout, not for another reason ...
    reason = getattr(caught.value, "reason", caught.value)
    assert isinstance(reason, TimeoutError | socket.timeout), repr(caught.value)
    assert retry[:2] == (200, "ok")
    [delivered] = slack.wait_for_messages(1, timeout=2)
    assert delivered["body"]["text"] == "retry"
    # ... and the sink was still holding the request when it did: it found the caller gone.
    deadline = time.monotonic() + 3
    while (first := slack.messages(include_failed=True)[0])["reason"] == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert (first["body"]["text"], first["failed"], first["reason"]) == (
        "slow",
        True,
        "client_gone",
    )
    assert first["delay_ms"] == 600


def test_delay_within_callers_timeout_is_delivered(
    sink: SlackSink, slack: SlackSinkClient, monkeypatch
):
    slept: list[float] = []
    monkeypatch.setattr(sink_module, "time", SimpleNamespace(time=time.time, sleep=slept.append))
    slack.delay_next(1, delay_ms=150)

    answer = post(sink.url + HOOK, {"text": "late but fine"}, timeout=3)

    assert answer[:2] == (200, "ok")
    assert slept == [0.15]  # held for the delay first
    [message] = slack.messages()
    assert (message["body"]["text"], message["delay_ms"]) == ("late but fine", 150)


def test_html_page_lists_newest_first_and_escapes(sink: SlackSink, slack: SlackSinkClient):
    post(sink.url + HOOK, {"text": "first message"})
    post(sink.url + HOOK, {"text": "<script>alert('x')</script> & done"})

    with urllib.request.urlopen(sink.url + "/", timeout=5) as response:
        page = response.read().decode()
        content_type = response.headers["Content-Type"]

    assert content_type.startswith("text/html")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; done" in page
    assert page.index("&lt;script&gt;") < page.index("first message")


def test_control_api_messages_and_reset(sink: SlackSink, slack: SlackSinkClient):
    post(sink.url + HOOK, {"text": "one"})
    post(sink.url + "/services/T1/B1/other", {"text": "two"})

    assert [m["path"] for m in slack.messages()] == [HOOK, "/services/T1/B1/other"]
    assert slack.health() == {"ok": True, "service": "slack", "messages": 2}
    slack.clear_messages()
    assert slack.messages(include_failed=True) == []
    slack.fail_next(5)
    slack.reset()
    assert post(sink.url + HOOK, {"text": "after reset"})[:2] == (200, "ok")


def test_wait_for_messages_times_out(slack: SlackSinkClient, monkeypatch):
    """On a fake clock: it polls until the deadline, then gives up at once."""
    clock = SimpleNamespace(now=0.0, sleeps=[])

    def sleep(seconds: float) -> None:
        clock.sleeps.append(seconds)
        clock.now += seconds

    monkeypatch.setattr(
        client_module, "time", SimpleNamespace(monotonic=lambda: clock.now, sleep=sleep)
    )
    with pytest.raises(TimeoutError, match="expected 1 Slack messages"):
        slack.wait_for_messages(1, timeout=0.2)
    assert 0.2 <= sum(clock.sleeps) < 0.2 + 0.05 + 1e-9


def test_bad_fail_spec_is_refused(sink: SlackSink, slack: SlackSinkClient):
    status, body, _ = post(sink.url + "/_stub/fail", {"count": -1})
    assert status == 400 and "count" in json.loads(body)["error"]
    assert post(sink.url + HOOK, {"text": "still fine"})[:2] == (200, "ok")


def test_form_payload_is_parsed(sink: SlackSink, slack: SlackSinkClient):
    form = urllib.parse.urlencode({"payload": json.dumps({"text": "form"})}).encode()
    post(sink.url + HOOK, form, "application/x-www-form-urlencoded")
    assert slack.texts() == ["form"]

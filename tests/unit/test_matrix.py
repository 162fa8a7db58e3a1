"""The emulator matrix without an emulator: the server-kind lifecycle on a fake server
(a real process answering a health route), the probe bounds, and the document's two
renderings. A real matrix run is in tests/e2e/test_matrix_smoke.py (opt-in)."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from harness.config import Settings
from harness.matrix import probes, table
from harness.runtime.backends import server_kinds
from harness.runtime.backends.external import ExternalBackend
from harness.util.errors import HarnessError
from harness.util.net import free_ports
from harness.util.processes import is_alive

FAKE_SERVER = """
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"fake": True, "path": self.path}).encode()
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

HTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
"""

FAKE = server_kinds.ServerKind(
    name="fake",
    version="0.0.1",
    requirement="fake==0.0.1",
    command=lambda host, port, data: ["-c", FAKE_SERVER, host, str(port)],
    health=lambda endpoint: server_kinds.http_json(endpoint + "/health"),
)
CRASHING = replace(FAKE, name="crashing", command=lambda h, p, d: ["-c", "print('boom'); 1/0"])


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setitem(server_kinds.KINDS, FAKE.name, FAKE)
    monkeypatch.setitem(server_kinds.KINDS, CRASHING.name, CRASHING)
    # No venv to build for a fake: it runs on the test's own interpreter.
    monkeypatch.setattr(
        server_kinds.ServerKind, "ensure_installed", lambda self, s, p: Path(sys.executable)
    )
    return Settings(backend="external", external_kind="fake", port=free_ports(1)[0])


def test_a_kind_starts_answers_is_reused_and_stops_with_its_record(settings: Settings) -> None:
    record = server_kinds.start(settings, FAKE, progress=lambda m: None)
    try:
        assert record["reused"] is False and is_alive(record["pid"], record["create_time"])
        assert FAKE.health(record["endpoint"]) == {"fake": True, "path": "/health"}
        again = server_kinds.start(settings, FAKE, progress=lambda m: None)
        assert again["reused"] is True and again["pid"] == record["pid"]
    finally:
        assert server_kinds.stop(settings, FAKE) is True
    assert not is_alive(record["pid"], record["create_time"])
    assert server_kinds.stop(settings, FAKE) is False
    assert server_kinds.running(settings, FAKE) is None


def test_a_server_that_exits_at_start_is_an_error_with_its_log(settings: Settings) -> None:
    with pytest.raises(HarnessError, match="crashing exited with code 1") as caught:
        server_kinds.start(settings, CRASHING, progress=lambda m: None)
    assert "ZeroDivisionError" in str(caught.value)
    assert server_kinds.running(settings, CRASHING) is None


def test_the_external_backend_runs_a_kind_and_leaves_others_alone(settings: Settings) -> None:
    backend = ExternalBackend()
    state = backend.up(settings, progress=lambda m: None)
    try:
        assert state.started and state.endpoint == settings.endpoint
        assert backend.health(settings) == {"fake": True, "path": "/health"}
        assert backend.identity(settings).startswith(f"external:fake:{state.pid}:")
    finally:
        assert backend.down(settings) is True
    assert backend.health(settings) is None
    someone_elses = replace(settings, external_kind="localstack")
    assert backend.down(someone_elses) is False  # never stopped: not ours


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(HarnessError, match="moto"):
        server_kinds.kind_of(Settings(backend="external", external_kind="nope"))
    assert server_kinds.kind_of(Settings(backend="external", external_kind="localstack")) is None


def test_the_real_kinds_are_pinned_exactly() -> None:
    for kind in (server_kinds.MOTO, server_kinds.MINISTACK):
        assert kind.requirement.endswith(f"=={kind.version}")


# --- probes -------------------------------------------------------------------------


def client_error(code: str, status: int) -> ClientError:
    response = {"Error": {"Code": code, "Message": "nope"}, "ResponseMetadata": {}}
    response["ResponseMetadata"]["HTTPStatusCode"] = status
    return ClientError(response, "StartMessageMoveTask")


def test_a_missing_api_is_unsupported_and_anything_else_a_failure() -> None:
    assert probes.classify(client_error("NotImplemented", 501))[0] == probes.UNSUPPORTED
    assert probes.classify(client_error("InvalidAction", 400))[0] == probes.UNSUPPORTED
    status, evidence = probes.classify(client_error("AccessDenied", 403))
    assert status == probes.FAIL and "AccessDenied (403)" in evidence


def test_a_probe_is_bounded_in_time_and_never_raises() -> None:
    slow = probes.Probe("slow", "slow", lambda ctx: time.sleep(5) or ("pass", ""), timeout=0.2)
    row = probes.run_probe(slow, ctx=None)  # type: ignore[arg-type]
    assert row["status"] == probes.FAIL and "0 s (probe bound)" in row["evidence"]
    broken = probes.Probe("broken", "broken", lambda ctx: 1 / 0, timeout=1)
    assert probes.run_probe(broken, ctx=None)["evidence"].startswith("ZeroDivisionError")  # type: ignore[arg-type]


def test_the_probe_function_fails_only_the_bad_record_of_a_batch_of_two() -> None:
    """What the per-record mapping probe deploys: a bad record fails, and a record alone
    fails too so that the good one is retried until it shares a batch with the bad."""
    namespace: dict = {}
    exec(compile(probes.PROBE_CODE, "probe.py", "exec"), namespace)
    handler = namespace["handler"]

    def batch(*bodies: str) -> dict:
        records = [{"messageId": f"m{i}", "body": body} for i, body in enumerate(bodies)]
        return handler({"Records": records}, None)

    assert batch("good t", "bad t") == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert batch("good t") == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert batch("bad t") == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert handler({"sleep": 0}, None) == {"ok": True}


def test_every_probe_has_a_unique_name() -> None:
    names = [p.name for p in probes.PROBES]
    assert len(names) == len(set(names)) >= 10


# --- the document and its renderings ---------------------------------------------


def document() -> dict:
    hostile = '<script>alert(1)</script> & "quotes"'
    return {
        "schema": 1,
        "started_at": 1_764_670_000.0,
        "finished_at": 1_764_670_600.0,
        "machine": "Linux x86_64",
        "backends": [
            {
                "name": "embedded",
                "label": "LocalStack",
                "version": "4.13.1",
                "outcome": "ran",
                "error": None,
                "speed": {"cold_start_s": 12.5, "latency_p50_s": 0.8},
                "behaviours": [
                    {"name": "a", "title": "A thing", "status": "pass", "evidence": "ok"},
                    {"name": "b", "title": "B thing", "status": "unsupported", "evidence": hostile},
                ],
                "scenarios": [{"name": "happy-path", "status": "pass", "evidence": "passed"}],
            },
            {
                "name": "moto",
                "label": "moto server",
                "version": "5.2.5",
                "outcome": "deploy failed",
                "error": "HarnessError: `terraform apply` failed\nError: <creating> queue",
                "speed": {"cold_start_s": 2.0},
                "behaviours": [
                    {"name": "a", "title": "A thing", "status": "not run", "evidence": "-"}
                ],
                "scenarios": [],
            },
        ],
    }


def test_the_text_table_has_a_row_per_behaviour_and_a_column_per_backend() -> None:
    text = table.text_table(document())
    lines = text.splitlines()
    assert lines[0] == "| behaviour | LocalStack 4.13.1 | moto server 5.2.5 |"
    assert "| A thing | pass | - |" in lines
    assert "| B thing | unsupported | - |" in lines  # moto never ran it
    assert "| scenario happy-path | pass | - |" in lines
    assert "| cold start: server healthy (s) | 12.5 | 2.0 |" in lines
    assert "deploy failed: HarnessError: `terraform apply` failed" in text


def test_the_html_is_escaped_and_self_contained(tmp_path: Path) -> None:
    json_path, html_path = table.write(document(), tmp_path)
    page = html_path.read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;creating&gt;" in page
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched from anywhere
    assert json.loads(json_path.read_text())["backends"][1]["outcome"] == "deploy failed"


def test_a_document_off_schema_is_refused() -> None:
    bad = document()
    bad["backends"][0]["behaviours"][0]["status"] = "maybe"
    with pytest.raises(table.MatrixError, match="maybe"):
        table.validate(bad)
    bad = document() | {"schema": 2}
    with pytest.raises(table.MatrixError):
        table.validate(bad)


def test_a_failed_apply_keeps_every_terraform_error_before_the_tail(tmp_path: Path) -> None:
    from harness.matrix import sweep

    log = tmp_path / "apply.log"
    log.write_text("creating...\nError: the cause\nmore\nError: a consequence\nError: the cause\n")
    text = sweep.terraform_error("HarnessError: `terraform apply` failed:\nlast lines", log)
    assert text.splitlines()[:3] == ["Error: the cause", "Error: a consequence", "--- tail ---"]
    assert text.endswith("last lines")
    assert sweep.terraform_error("no log", tmp_path / "missing.log") == "no log"


def measured_document() -> dict:
    """Three backends as a sweep leaves them: one with every sample, one with percentiles
    only, one that never got as far as measuring (and a long error)."""
    doc = document()
    doc["backends"][0]["speed"] |= {
        "latency_p95_s": 1.9,
        "latency_p99_s": 2.4,
        "images_per_s": 7.5,
        "latencies_s": [0.6, 0.7, 0.8, 0.8, 0.9, 1.1, 1.3, 1.9, 2.0, 2.4],
    }
    doc["backends"].append(
        {
            "name": "ministack",
            "label": "MiniStack with a rather long label for its column",
            "version": "1.0.0",
            "outcome": "ran",
            "error": None,
            "speed": {"latency_p50_s": 0.3, "latency_p95_s": 0.5, "images_per_s": 21.0},
            "behaviours": [
                {"name": "a", "title": "A thing", "status": "fail", "evidence": "arn:" + "y" * 400}
            ],
            "scenarios": [],
        }
    )
    doc["backends"][1]["error"] += "\n" + "Error: " + "z" * 500
    return doc


def test_the_speed_chart_shows_each_backends_latency_and_throughput_side_by_side() -> None:
    from harness.observe.browser import Dom

    doc = measured_document()
    page = table.html_page(doc)
    chart = page.split('<svg class="chart"', 1)[1].split("</svg>", 1)[0]
    dom = Dom("<svg " + chart + "</svg>")
    labels = [f"{b['label']} {b['version']}" for b in doc["backends"]]
    assert [g["data-label"] for g in dom.having_class("spread")] == labels
    assert [g["data-label"] for g in dom.having_class("bar")] == labels
    assert len(dom.having_class("sample")) == 10  # every sample of the one that kept them
    boxes = dom.having_class("p50-p95")
    assert len(boxes) == 2  # moto measured nothing
    first_p50, first_p95 = (float(dom.having_class(n)[0]["x1"]) for n in ("p50", "p95"))
    assert first_p50 < first_p95
    assert chart.count("not measured") == 2  # moto in both panels
    assert "http" not in page.replace("http-equiv", "")


def test_the_matrix_page_looks_right_in_chromium_at_1400_px(tmp_path: Path) -> None:
    from page_checks import look_at

    html_path = table.write(measured_document(), tmp_path / "matrix")[1]
    look_at(html_path, tmp_path / "matrix.png", height=1200)

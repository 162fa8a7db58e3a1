"""Run reports: JSON round trip, a self-contained and escaped HTML, rendered by Chromium."""

from __future__ import annotations

import json
import re

import pytest
from page_checks import look_at

from harness.observe import browser, report
from harness.observe.report import ReportError

T0 = 1_800_000_000.0
SCRIPT_KEY = 'ingest/</script><script>document.title="pwned"</script>.jpg'
IMG_KEY = "ingest/<img src=x onerror=\"document.title='pwned'\">.jpg"


def hop(dt: float, name: str, **detail) -> dict:
    return {"at": T0 + dt, "hop": name, "detail": detail}


def synthetic_run() -> dict:
    labeled = [
        hop(0.0, "upload", size=15620, via="S3 event time"),
        hop(0.012, "sns_publish", sns_message_id="m-1"),
        hop(0.020, "sqs_delivery", queue="tap"),
        hop(1.1, "sqs_receive", receive_count=1, message_id="q-1"),
        hop(1.1, "lambda", function="labeler", duration_ms=77.5, outcome="labeled", error=None),
        hop(1.15, "rekognition", outcome="labels", labels=12, error=None),
        hop(1.25, "result", result_key="results/a.jpg.json", labels=["City", "Person"]),
    ]
    poison = [
        hop(0.0, "upload", size=12),
        *[
            hop(
                1.0 + 10 * i,
                "lambda",
                function="labeler",
                duration_ms=30.0,
                error="InvalidImageFormatException <b>bad</b>",
            )
            for i in range(3)
        ],
        hop(21.5, "dlq", attempts=3, error="Request has invalid image format"),
        hop(35.0, "alarm", to="ALARM", **{"from": "OK"}),
        hop(35.2, "slack", status=200, text="DLQ depth 1", error=None),
    ]
    return {
        "schema": 1,
        "started_at": T0 - 2,
        "finished_at": T0 + 40,
        "target": "local",
        "scenarios": [
            {
                "name": "happy path",
                "file": "scenarios/happy.yaml",
                "status": "passed",
                "reason": None,
                "duration_s": 3.2,
                "steps": [
                    {
                        "index": 0,
                        "kind": "upload",
                        "status": "passed",
                        "duration_s": 0.1,
                        "detail": {"count": 1},
                        "error": None,
                    }
                ],
                "objects": {"ingest/a.jpg": labeled},
                "counts": {"uploads": 1, "results": 1},
            },
            {
                "name": "poison <b>goes</b> & stays",
                "file": "scenarios/poison.yaml",
                "status": "failed",
                "reason": 'expected 0 in the DLQ, found 1 <i>"really"</i>',
                "duration_s": 40.0,
                "steps": [
                    {
                        "index": 0,
                        "kind": "wait",
                        "status": "failed",
                        "duration_s": 30.0,
                        "detail": {},
                        "error": "timed out",
                    }
                ],
                "objects": {SCRIPT_KEY: poison, IMG_KEY: [], "ingest/never.jpg": []},
                "counts": {"dlq": 1},
            },
            {
                "name": "on aws only",
                "file": "scenarios/aws.yaml",
                "status": "skipped",
                "reason": "needs target aws",
                "duration_s": 0.0,
                "steps": [],
                "objects": {},
                "counts": {},
            },
        ],
    }


def embedded_json(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="run-data">(.*?)</script>', page, re.S)
    assert match is not None
    return json.loads(match.group(1))


def test_write_creates_both_files_and_the_json_round_trips(tmp_path):
    run = synthetic_run()
    json_path, html_path = report.write(run, tmp_path / "nested" / "run")
    assert json_path == tmp_path / "nested" / "run" / "report.json"
    assert json.loads(json_path.read_text(encoding="utf-8")) == run
    assert embedded_json(html_path.read_text(encoding="utf-8")) == run


def test_html_is_self_contained_and_run_text_cannot_break_out(tmp_path):
    page = report.write(synthetic_run(), tmp_path)[1].read_text(encoding="utf-8")
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert "<b>goes</b>" not in page and "poison &lt;b&gt;goes&lt;/b&gt; &amp; stays" in page
    assert "&lt;i&gt;&quot;really&quot;&lt;/i&gt;" in page
    assert "<img" not in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(schema=2), "run.schema must be 1"),
        (lambda r: r.pop("finished_at"), "run.finished_at"),
        (lambda r: r["scenarios"][1].update(status="broken"), r"scenarios\[1\]\.status"),
        (lambda r: r["scenarios"][0].update(name=None), r"scenarios\[0\]\.name"),
        (
            lambda r: r["scenarios"][0]["objects"]["ingest/a.jpg"].append({"hop": "x"}),
            r"objects\['ingest/a.jpg'\]",
        ),
    ],
)
def test_a_run_that_breaks_the_schema_is_refused_naming_the_field(tmp_path, change, message):
    run = synthetic_run()
    change(run)
    with pytest.raises(ReportError, match=message):
        report.write(run, tmp_path)
    assert not (tmp_path / "report.html").exists()


def test_default_dir_is_new_per_run_and_honours_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path))
    first = report.default_dir(T0)
    assert first.parent == tmp_path and not first.exists()
    first.mkdir()
    second = report.default_dir(T0)
    assert second != first and second.name.startswith(first.name)
    monkeypatch.delenv("HARNESS_REPORTS_DIR")
    assert report.default_dir(T0).parent.name == "reports"


def test_headless_chromium_renders_every_hop_and_highlights_errors(tmp_path):
    run = synthetic_run()
    html_path = report.write(run, tmp_path)[1]
    dom_text = browser.dump_dom(html_path)
    dom = browser.Dom(dom_text)

    body = next(a for tag, a in dom.elements if tag == "body")
    assert body.get("data-rendered") == "true"  # the script ran to its end
    assert (
        "<title>Pipeline harness run" in dom_text and "pwned" not in dom_text.split("</title>")[0]
    )

    all_hops = [h for s in run["scenarios"] for hops in s["objects"].values() for h in hops]
    rows = dom.having_class("hop-row")
    assert [r["data-hop"] for r in rows] == [
        h["hop"] for s in run["scenarios"] for _, hops in sorted(s["objects"].items()) for h in hops
    ]
    erroneous = sum(1 for h in all_hops if h["detail"].get("error"))
    assert erroneous == 4  # three failed labeler runs and the DLQ
    assert len([r for r in rows if "error" in r["class"].split()]) == erroneous
    bars = dom.having_class("bar")
    assert len(bars) == len(all_hops)
    assert len([m for m in bars if "error" in m["class"].split()]) == erroneous
    assert len([r for r in rows if "warn" in r["class"].split()]) == 1  # alarm to ALARM
    assert len(dom.having_class("scenario-row")) == 3
    assert len(dom.having_class("object")) == 4
    assert [a["data-key"] for a in dom.having_class("object") if a.get("data-errors") != "0"] == [
        SCRIPT_KEY
    ]

    assert dom_text.count('class="outcome result">result<') == 1
    assert dom_text.count('class="outcome dlq">dlq<') == 1
    assert dom_text.count('class="outcome not-processed">not processed<') == 2

    # times are relative to the upload; run text is shown as text, never as markup
    assert "+0.000 s" in dom_text and "+1.250 s" in dom_text and "+35.200 s" in dom_text
    assert not any(tag == "img" for tag, _ in dom.elements)
    assert "&lt;/script&gt;&lt;script&gt;document.title=" in dom_text
    assert "InvalidImageFormatException &lt;b&gt;bad&lt;/b&gt;" in dom_text


DENIAL = {
    "time": "2027-01-15T08:00:01.250Z",
    "who": "imgpipe-labeler/<s>",
    "action": "s3:GetObjectVersion",
    "resource": "arn:aws:s3:::images/ingest/a.jpg",
    "why": "no Allow statement matched (via rekognition)",
    "enforced": True,
}


def test_iam_denials_are_counted_per_scenario_and_listed_as_text(tmp_path):
    run = synthetic_run()
    run["scenarios"][0]["iam_denials"] = [DENIAL]
    page = report.write(run, tmp_path)[1].read_text(encoding="utf-8")
    denials_table = page.split('<table id="iam-denials">', 1)[1].split("</table>", 1)[0]
    assert denials_table.count('<tr class="denial">') == 1
    assert "imgpipe-labeler/&lt;s&gt;" in denials_table and "<s>" not in denials_table
    assert "s3:GetObjectVersion" in denials_table and "(via rekognition)" in denials_table
    counts = re.findall(r'<tr class="scenario-row[^>]*>(?:<td>.*?</td>){4}<td>(\d+)</td>', page)
    assert counts == ["1", "0", "0"]

    clean = report.write(synthetic_run(), tmp_path / "clean")[1].read_text(encoding="utf-8")
    assert "IAM denied no call during this run." in clean and 'class="denial"' not in clean

    run["scenarios"][0]["iam_denials"] = "denied"
    with pytest.raises(ReportError, match=r"scenarios\[0\]\.iam_denials"):
        report.write(run, tmp_path / "broken")


def test_an_invocation_estimated_to_start_before_the_upload_is_shown_at_the_upload():
    """Its start is its end minus its duration, the end taken as its last log line:
    early by the time from that line to the end."""
    from harness.observe import timeline

    hops = {"ingest/a.jpg": [hop(100.0, "upload")], "ingest/b.jpg": [hop(90.0, "upload")]}
    invocation = timeline.Invocation("labeler", "r1", ended_at=T0 + 100.5, duration_ms=506.0)
    invocation.objects = {
        key: [{"logged_at": T0 + 100.4, "outcome": "labeled"}]
        for key in ("ingest/a.jpg", "ingest/b.jpg")
    }
    timeline._labeler_hops(hops, [invocation])
    starts = {
        key: [h["at"] for h in found if h["hop"] == "sqs_receive"] for key, found in hops.items()
    }
    assert starts == {"ingest/a.jpg": [T0 + 100.0], "ingest/b.jpg": [pytest.approx(T0 + 99.994)]}


def test_a_denied_call_on_an_object_joins_that_objects_timeline():
    from harness.observe import timeline

    hops = {"ingest/a.jpg": [hop(0.0, "upload")], "ingest/b.jpg": [hop(0.0, "upload")]}
    at = "2027-01-15T08:00:01.250Z"
    timeline.add_denials(hops, [DENIAL | {"time": at}, DENIAL | {"time": "not a time"}])
    assert [h["hop"] for h in hops["ingest/b.jpg"]] == ["upload"]
    _, denied = hops["ingest/a.jpg"]
    assert denied["hop"] == "iam_denied" and denied["at"] == 1_800_000_001.25
    assert denied["detail"]["action"] == "s3:GetObjectVersion"
    assert denied["detail"]["error"] == DENIAL["why"]


# --- pictures: the waterfall, readable details, and the page at 1400 px ---------------

LONG_KEY = "ingest/" + "/".join(f"folder-with-a-rather-long-name-{i}" for i in range(6)) + ".jpg"
LONG_ERROR = (
    "An error occurred (AccessDeniedException) when calling the DetectLabels operation: "
    "User: arn:aws:sts::000000000000:assumed-role/imgpipe-labeler-role/imgpipe-labeler is not "
    "authorized to perform: rekognition:DetectLabels on resource: "
    + "arn:aws:s3:::imgpipe-ingest-bucket/"
    + "x" * 300
)


def realistic_run() -> dict:
    """A run as people will get it: many objects, long keys, IAM denials, long errors."""
    run = synthetic_run()
    happy = run["scenarios"][0]
    for n in range(5):
        shift = 0.2 * n
        happy["objects"][f"ingest/batch/{n:03}.jpg"] = [
            {**h, "at": h["at"] + shift} for h in happy["objects"]["ingest/a.jpg"]
        ]
    happy["objects"][LONG_KEY] = [
        hop(0.0, "upload", size=2_000_000, etag='"' + "f" * 32 + '"'),
        hop(0.4, "sqs_receive", receive_count=1, message_id="m" * 80),
        hop(
            0.4,
            "lambda",
            function="labeler",
            duration_ms=250.0,
            error=LONG_ERROR,
            outcome="failed",
            error_code="AccessDeniedException",
            transient=False,
        ),
        hop(
            0.45,
            "iam_denied",
            action="rekognition:DetectLabels",
            error=LONG_ERROR,
            resource="arn:aws:s3:::imgpipe-ingest-bucket/" + LONG_KEY,
        ),
        hop(
            9.0,
            "dlq",
            attempts=3,
            error=LONG_ERROR,
            failure_record={"reason": LONG_ERROR[:120], "nested": {"a": [1, 2, 3]}},
        ),
    ]
    happy["iam_denials"] = [
        DENIAL | {"resource": "arn:aws:s3:::imgpipe-ingest-bucket/" + LONG_KEY, "why": LONG_ERROR}
    ]
    happy["steps"][0]["detail"] = {"keys": sorted(happy["objects"]), "note": LONG_ERROR}
    run["scenarios"][1]["reason"] = LONG_ERROR
    return run


def test_each_object_is_a_waterfall_with_one_bar_per_hop_placed_by_time():
    run = realistic_run()
    dom = browser.Dom(report.render_html(run))
    objects = run["scenarios"][0]["objects"]
    blocks = [a["data-key"] for a in dom.having_class("object")]
    assert blocks[: len(objects)] == sorted(objects)

    # the rows of each object, in page order: one hop row and one bar per hop
    rows = dom.having_class("hop-row")
    bars = dom.having_class("bar")
    every = [h for s in run["scenarios"] for _, hops in sorted(s["objects"].items()) for h in hops]
    assert len(rows) == len(bars) == len(every)
    position = 0
    for scenario in run["scenarios"]:
        for _, hops in sorted(scenario["objects"].items()):
            mine = bars[position : position + len(hops)]
            starts = [float(r["data-start"]) for r in rows[position : position + len(hops)]]
            position += len(hops)
            lefts = [float(re.search(r"left:([\d.]+)%", b["style"]).group(1)) for b in mine]
            widths = [float(re.search(r"width:([\d.]+)%", b["style"]).group(1)) for b in mine]
            assert lefts == sorted(lefts) and starts == sorted(starts)  # later hops further right
            assert all(0 <= x <= 100 for x in lefts)
            assert all(x + w <= 100.001 for x, w in zip(lefts, widths, strict=True))
            assert [s - starts[0] for s in starts] == pytest.approx(
                [h["at"] - hops[0]["at"] for h in hops], abs=1e-6
            )
            assert not hops or "point" in mine[-1]["class"]  # nothing after the last hop

    # a Lambda hop lasts its invocation: 77.5 ms of the 1.5 s axis of ingest/a.jpg
    text = report.render_html(run)
    a_jpg = text.split('data-key="ingest/a.jpg"')[1].split("</details>")[0]
    assert re.findall(r'class="tick[^"]*" style="[^"]*">([^<]*)<', a_jpg) == [
        "0 ms",
        "500 ms",
        "1 s",
        "1.5 s",
    ]
    lam = re.search(r'data-hop="lambda".*?width:([\d.]+)%', a_jpg).group(1)
    assert float(lam) == pytest.approx(0.0775 / 1.5 * 100, abs=0.01)


def test_details_are_fields_not_raw_json_lines():
    run = realistic_run()
    page = report.render_html(run)
    dom = browser.Dom(page)
    long_block = page.split(f'data-key="{LONG_KEY}"')[1].split("</details>")[0]
    fields = re.findall(r"<dt>([^<]*)</dt>(<dd[^>]*>)([^<]*)</dd>", long_block)
    lam = [f for f in fields if f[0] in ("function", "duration_ms", "error_code", "transient")]
    assert [(k, v) for k, _, v in lam] == [
        ("function", "labeler"),
        ("duration_ms", "250.0"),
        ("error_code", "AccessDeniedException"),
        ("transient", "False"),
    ]
    # the error comes first in its list and stands out; nested values are compact JSON
    assert re.search(r'<dl class="fields"><dt>error</dt><dd class="err-text">An error', long_block)
    assert '{"reason": "An error occurred' in long_block.replace("&quot;", '"')
    assert '"nested": {"a": [1, 2, 3]}}' in long_block.replace("&quot;", '"')
    assert "outcome=" not in page and "function=labeler" not in page  # no k=v lines any more
    assert len(dom.find("dl", **{"class": "fields"})) >= len(dom.having_class("hop-row")) - 1
    assert "<b>bad</b>" not in page and "InvalidImageFormatException &lt;b&gt;bad&lt;/b&gt;" in page


def test_the_report_looks_right_in_chromium_at_1400_px(tmp_path):
    html_path = report.write(realistic_run(), tmp_path / "run")[1]
    look_at(html_path, tmp_path / "report.png", height=2400)

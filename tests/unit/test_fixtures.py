"""Fixture images: deterministic, cached, and each one what the manifest says it is."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image, ImageOps

from harness.build import fixtures
from harness.build.fixtures import FixtureError, ImageSpec, materialize, parse_manifest, render
from harness.cli import main
from harness.stubs.rekognition.exceptions import RekognitionError
from harness.stubs.rekognition.images import MAX_BYTES_SIZE, MAX_S3_SIZE, inspect_image
from harness.stubs.rekognition.labels import default_labels

MANIFEST = fixtures.load_manifest()
LABELER_MIN_CONFIDENCE = 70.0


def rekognition_outcome(data: bytes, from_s3: bool) -> str:
    try:
        inspect_image(data, from_s3=from_s3)
    except RekognitionError as err:
        return err.code
    return "labels"


def observed(data: bytes, claims: dict) -> dict:
    """The actual value of every property `claims` names, measured on the bytes."""
    seen: dict = {"decodes": False}
    try:
        image = Image.open(io.BytesIO(data))
    except OSError:  # not even the header is readable
        image = None
    if image is not None:
        with image:
            seen |= {"format": image.format, "mode": image.mode, "size": list(image.size)}
            try:
                image.load()  # a full decode: what catches cut and garbled files
                seen |= {
                    "decodes": True,
                    "progressive": bool(image.info.get("progressive")),
                    "exif_orientation": image.getexif().get(0x0112),
                    "upright_size": list(ImageOps.exif_transpose(image).size),
                }
            except OSError:
                pass
    if "min_bytes" in claims:
        seen["min_bytes"] = claims["min_bytes"] if len(data) >= claims["min_bytes"] else len(data)
    if "max_bytes" in claims:
        seen["max_bytes"] = claims["max_bytes"] if len(data) <= claims["max_bytes"] else len(data)
    seen["rekognition"] = rekognition_outcome(data, from_s3=True)
    seen["rekognition_bytes"] = rekognition_outcome(data, from_s3=False)
    if "scene_label" in claims:
        info = inspect_image(data, from_s3=True)
        confident = [
            label["Name"]
            for label in default_labels(info)
            if label["Confidence"] >= LABELER_MIN_CONFIDENCE
        ]
        seen["scene_label"] = claims["scene_label"] if claims["scene_label"] in confident else None
    return {key: seen.get(key) for key in claims}


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_each_fixture_is_what_the_manifest_claims(name):
    fixture = MANIFEST[name]
    path = fixtures.get(name)
    assert path.parent == fixtures.generated_dir()
    assert path.suffix == fixture.spec.extension
    assert observed(path.read_bytes(), fixture.expect) == fixture.expect


def test_manifest_covers_what_the_issue_lists():
    assert all({"decodes", "rekognition"} <= set(f.expect) for f in MANIFEST.values())
    specs = [f.spec for f in MANIFEST.values()]
    assert {s.format for s in specs} == {"jpeg", "png", "gif", "webp", "bmp"}
    jpeg = [s for s in specs if s.format == "jpeg" and s.damage is None]
    assert any(s.progressive for s in jpeg)
    assert any(s.mode == "CMYK" for s in jpeg)
    assert any(s.exif_orientation not in (None, 1) for s in jpeg)
    assert any(s.format == "png" and s.mode == "RGBA" for s in specs)
    assert {"truncated", "garbage", "empty", "text"} <= {s.damage for s in specs}
    assert any(min(s.width, s.height) < 80 and s.damage is None for s in specs)
    sizes = {name: fixtures.get(name).stat().st_size for name in MANIFEST}
    assert any(MAX_BYTES_SIZE < size <= MAX_S3_SIZE for size in sizes.values())
    assert any(size > MAX_S3_SIZE for size in sizes.values())
    assert {f.expect.get("scene_label") for f in MANIFEST.values()} >= {
        "Sky",
        "Sunset",
        "Vegetation",
        "Night",
        "Snow",
    }


def test_same_spec_and_seed_give_the_same_bytes_in_a_fresh_process(tmp_path):
    """Byte-for-byte, from another interpreter with another hash seed."""
    script = (
        "import sys; from pathlib import Path; from harness.build import fixtures; "
        "fixtures.generate(out_dir=Path(sys.argv[1]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, env=env)
    for name, fixture in MANIFEST.items():
        fresh = (tmp_path / fixture.spec.cache_name()).read_bytes()
        assert fresh == fixtures.get(name).read_bytes(), name
        assert fresh == render(fixture.spec), name


def test_seed_and_every_field_change_the_bytes_and_the_cache_name():
    base = fixtures.spec("jpeg-baseline")
    variants = [
        fixtures.spec("jpeg-baseline", seed=base.seed + 1),
        fixtures.spec("jpeg-baseline", quality=60),
        fixtures.spec("jpeg-baseline", progressive=True),
        fixtures.spec("jpeg-baseline", width=641),
    ]
    assert len({render(s) for s in [base, *variants]}) == 5
    assert len({s.cache_name() for s in [base, *variants]}) == 5


def test_materialize_renders_once_and_then_serves_the_cache(tmp_path):
    spec = ImageSpec(seed=5)
    path = materialize(spec, tmp_path)
    assert path.read_bytes() == render(spec)
    path.write_bytes(b"sentinel: a cached file is never rewritten")
    assert materialize(spec, tmp_path) == path
    assert path.read_bytes() == b"sentinel: a cached file is never rewritten"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary files left


def test_spec_overrides_make_variants_and_bad_ones_fail_clearly():
    variant = fixtures.spec("scene-sky", seed=1000)
    assert variant.scene == "sky" and variant.seed == 1000
    assert fixtures.get("scene-sky", seed=1000) != fixtures.get("scene-sky")
    assert fixtures.sha256("scene-sky", seed=1000) == hashlib.sha256(render(variant)).hexdigest()
    with pytest.raises(FixtureError, match=r"scene-sky.*bad override"):
        fixtures.spec("scene-sky", colour="red")
    with pytest.raises(FixtureError, match=r"no fixture 'nope'.*jpeg-baseline"):
        fixtures.get("nope")


def test_content_types_follow_the_format_and_text_stays_text():
    assert fixtures.spec("png-alpha").content_type == "image/png"
    assert fixtures.spec("jpeg-baseline").content_type == "image/jpeg"
    assert fixtures.spec("text-as-jpg").content_type == "text/plain"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "m.yaml: must be a mapping"),
        ({"version": 2, "fixtures": {}}, "m.yaml: version must be 1"),
        ({"version": 1, "fixtures": {}}, "non-empty mapping"),
        ({"version": 1, "fixtures": {"a": {"spec": {"fromat": "png"}}}}, r"'a'.*fromat"),
        ({"version": 1, "fixtures": {"b": {"spec": {"format": "tiff"}}}}, r"'b'.*tiff"),
        ({"version": 1, "fixtures": {"c": {"spec": {}, "expect": {"colour": 1}}}}, r"'c'.*expect"),
        ({"version": 1, "fixtures": {"d": {"spec": {}, "note": "x"}}}, r"'d'.*note"),
    ],
)
def test_manifest_errors_name_the_file_the_fixture_and_the_field(document, message):
    with pytest.raises(FixtureError, match=message):
        parse_manifest(document, "m.yaml")


def test_cli_generates_named_fixtures_and_rejects_unknown_names():
    runner = CliRunner()
    result = runner.invoke(main, ["fixtures", "generate", "png-alpha", "gif", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [row["name"] for row in rows] == ["png-alpha", "gif"]
    for row in rows:
        assert Path(row["path"]).read_bytes() == fixtures.data(row["name"])
        assert row["bytes"] == Path(row["path"]).stat().st_size
    result = runner.invoke(main, ["fixtures", "generate", "no-such-fixture"])
    assert result.exit_code == 2
    assert "no-such-fixture" in result.output


# --- fixture folders (system B upload folders) ----------------------------------------

CATALOG_SIZES = {"large": 1280, "medium": 800, "small": 400, "thumb": 160}


def resize_outcome(vertical: str, name: str, data: bytes) -> str:
    """What the resize function makes of the file: `served` or its rejection code,
    decided by the function's own modules (lambdas/resize, as `harness upload` uses them)."""
    from harness.systems.catalog import lambda_rules

    naming, imaging = lambda_rules.naming(), lambda_rules.imaging()
    try:
        naming.parse_origin_key(f"origin/{vertical}/{name}")
        imaging.render(data, CATALOG_SIZES, 85, 100_000_000)
    except naming.NameRejected:
        return "BadName"
    except imaging.ImageRejected as exc:
        return exc.code
    return "served"


@pytest.mark.parametrize(
    "name", sorted(p.parent.name for p in fixtures.folders_dir().glob("*/manifest.yaml"))
)
def test_each_fixture_folder_file_ends_as_its_manifest_says(name, tmp_path):
    manifest = fixtures.load_folder(name)
    folder = fixtures.folder(name, tmp_path / name)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.name for f in manifest.files)
    for entry in manifest.files:
        data = (folder / entry.name).read_bytes()
        assert data == entry.render()
        assert resize_outcome(name, entry.name, data) == entry.expect, entry.name


def test_the_seed_folder_is_mixed_and_harness_upload_keeps_exactly_its_jpegs(tmp_path):
    """ssgdfm_eye: the seed's vertical (an underscore) with what `aws s3 cp --include
    "*.jpg"` uploads besides JPEGs; `harness upload` refuses every file the function would."""
    from harness.systems.catalog import folder_upload as catalog_upload

    manifest = fixtures.load_folder("ssgdfm_eye")
    served = manifest.expected("served")
    assert len(served) >= 4 and len(served) < len(manifest.files)
    assert {f.expect for f in manifest.files} >= {"served", "BadName", "NotJpeg"}
    assert any(not f.name.endswith(".jpg") for f in manifest.files)  # the --include trap
    plan = catalog_upload.scan(
        fixtures.folder("ssgdfm_eye", tmp_path / "f"), "ssgdfm_eye", "origin/"
    )
    assert sorted(f.relative for f in plan.accepted) == sorted(served)
    assert sorted(f.key for f in plan.accepted) == sorted(f"origin/ssgdfm_eye/{n}" for n in served)
    assert sorted(f.relative for f in plan.rejected) == sorted(
        f.name for f in manifest.files if f.expect != "served"
    )


def test_folder_writes_only_the_manifest_files_and_keeps_other_folders_intact(tmp_path):
    target = tmp_path / "out"
    first = fixtures.folder("ssgdfm_eye", target)
    before = {p.name: p.stat().st_mtime_ns for p in first.iterdir()}
    assert fixtures.folder("ssgdfm_eye", target) == target  # again: nothing rewritten
    assert {p.name: p.stat().st_mtime_ns for p in target.iterdir()} == before
    (target / "mine.txt").write_text("not the fixture's")
    with pytest.raises(FixtureError, match=r"does not list: mine\.txt"):
        fixtures.folder("ssgdfm_eye", target)
    assert (target / "mine.txt").exists()
    with pytest.raises(FixtureError, match=r"no fixture folder 'nowhere'.*known: .*ssgdfm_eye"):
        fixtures.folder("nowhere")
    with pytest.raises(FixtureError, match="no fixture folder"):
        fixtures.load_folder("../images")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"version": 2, "files": {"1_1.jpg": {"text": "x", "expect": "BadName"}}}, "version: 1"),
        ({"version": 1, "files": {}}, "non-empty mapping"),
        ({"version": 1, "files": {"a/1_1.jpg": {"text": "x", "expect": "BadName"}}}, "plain file"),
        ({"version": 1, "files": {"..": {"text": "x", "expect": "BadName"}}}, "plain file"),
        ({"version": 1, "files": {"1_1.jpg": {"text": "x"}}}, "expect must be one of"),
        ({"version": 1, "files": {"1_1.jpg": {"expect": "served"}}}, "exactly one of"),
        (
            {"version": 1, "files": {"1_1.jpg": {"fixture": "nope", "expect": "served"}}},
            "no image fixture 'nope'",
        ),
        (
            {"version": 1, "files": {"1_1.jpg": {"text": "x", "seed": 2, "expect": "BadName"}}},
            "give fixture",
        ),
        (
            {"version": 1, "files": {"1_1.jpg": {"spec": {"colour": 1}, "expect": "served"}}},
            "spec must be a mapping",
        ),
        ({"version": 1, "extra": 1, "files": {"x": {"text": "", "expect": "Empty"}}}, "unknown"),
    ],
)
def test_folder_manifest_errors_name_the_file_and_the_field(document, message):
    with pytest.raises(FixtureError, match=message):
        fixtures.parse_folder("t", document, "t/manifest.yaml")


def test_cli_writes_a_fixture_folder_and_says_how_to_upload_it(tmp_path):
    result = CliRunner().invoke(
        main, ["fixtures", "folder", "ssgdfm_eye", "--out", str(tmp_path / "o"), "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["path"] == str(tmp_path / "o")
    assert {row["file"]: row["expect"] for row in document["files"]}["notes.txt"] == "BadName"
    unknown = CliRunner().invoke(main, ["fixtures", "folder", "nowhere"])
    assert unknown.exit_code != 0 and "no fixture folder 'nowhere'" in unknown.output

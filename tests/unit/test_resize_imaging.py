"""The resize function's pixels and names: lambdas/resize/imaging.py and naming.py."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from harness.build.fixtures import ImageSpec, render

SIZES = {"large": 1280, "medium": 800, "small": 400, "thumb": 160}
LIMIT = 100_000_000


@pytest.fixture
def imaging(load_lambda):
    return load_lambda("resize", "imaging")


@pytest.fixture
def naming(load_lambda):
    return load_lambda("resize", "naming")


def jpeg(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, **options)
    return buffer.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("origin/actor/1234_1.jpg", ("actor", 1234, 1)),
        ("origin/k-pop2/1_12.jpg", ("k-pop2", 1, 12)),
        ("origin/a/999999999999999999_999999999.jpg", ("a", 999999999999999999, 999999999)),
    ],
)
def test_valid_origin_keys(naming, key, expected):
    name = naming.parse_origin_key(key)
    assert (name.vertical, name.cd_idx, name.sequence) == expected
    assert name.origin_key() == key


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("origin/actor/1234_1.JPG", "must end in .jpg (lowercase), not .JPG"),
        ("origin/actor/1234_1.png", "not .png"),
        ("origin/actor/1234_1.jpeg", "not .jpeg"),
        ("origin/actor/01234_1.jpg", "without leading zeros"),
        ("origin/actor/0_1.jpg", "positive whole numbers"),
        ("origin/actor/1234.jpg", "{cd_idx}_{sequence}.jpg"),
        ("origin/actor/1234_1", "has no extension"),
        ("origin/actor/photo 1.jpg", "{cd_idx}_{sequence}.jpg"),
        ("origin/Actor/1_1.jpg", "vertical 'Actor'"),
        ("origin/act_or/1_1.jpg", "vertical 'act_or'"),
        ("origin/-actor/1_1.jpg", "vertical '-actor'"),
        ("origin/actor/sub/1_1.jpg", "one folder: the vertical"),
        ("origin/1_1.jpg", "one folder: the vertical"),
        ("elsewhere/actor/1_1.jpg", "outside 'origin/'"),
    ],
)
def test_names_breaking_the_rule_are_rejected_with_a_reason(naming, key, fragment):
    with pytest.raises(naming.NameRejected) as caught:
        naming.parse_origin_key(key)
    assert fragment in caught.value.reason


def test_served_key_follows_the_cdn_pattern(naming):
    name = naming.ImageName("actor", 1234, 2)
    assert name.served_key("medium") == "actor/medium/1234_medium_2.jpg"


# --- content checks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        (ImageSpec(format="png"), "NotJpeg"),
        (ImageSpec(format="gif"), "NotJpeg"),
        (ImageSpec(damage="text"), "NotJpeg"),
        (ImageSpec(damage="empty"), "Empty"),
        (ImageSpec(damage="truncated", width=800, height=600), "Unreadable"),
    ],
)
def test_files_that_are_not_decodable_jpegs_are_rejected(imaging, spec, code):
    with pytest.raises(imaging.ImageRejected) as caught:
        imaging.render(render(spec), SIZES, 85, LIMIT)
    assert caught.value.code == code
    assert caught.value.reason


def test_too_many_pixels_is_rejected_before_decoding(imaging):
    data = render(ImageSpec(width=2000, height=1500))
    with pytest.raises(imaging.ImageRejected) as caught:
        imaging.render(data, SIZES, 85, max_pixels=1_000_000)
    assert caught.value.code == "TooManyPixels"
    assert "2000x1500" in caught.value.reason


# --- renditions -------------------------------------------------------------------


def test_four_sizes_by_longest_edge_largest_first(imaging):
    renditions, info = imaging.render(render(ImageSpec(width=1600, height=1200)), SIZES, 85, LIMIT)
    assert [(r.size, r.width, r.height) for r in renditions] == [
        ("large", 1280, 960),
        ("medium", 800, 600),
        ("small", 400, 300),
        ("thumb", 160, 120),
    ]
    assert (info.width, info.height, info.mode) == (1600, 1200, "RGB")
    for rendition in renditions:
        image = decoded(rendition.data)
        assert image.format == "JPEG" and image.mode == "RGB"
        assert image.size == (rendition.width, rendition.height)
        assert image.info.get("progressive") and image.info.get("progression")


def test_small_originals_are_never_upscaled(imaging):
    renditions, _ = imaging.render(render(ImageSpec(width=300, height=200)), SIZES, 85, LIMIT)
    assert [(r.width, r.height) for r in renditions] == [
        (300, 200),
        (300, 200),
        (300, 200),
        (160, 107),
    ]


def test_exif_orientation_is_applied_and_not_copied(imaging):
    # A landscape picture whose left half is red, stored with orientation 6
    # ("rotate 90 degrees clockwise to display"): upright, red is on top.
    image = Image.new("RGB", (400, 300), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 200, 300))
    exif = Image.Exif()
    exif[0x0112] = 6
    renditions, info = imaging.render(jpeg(image, exif=exif.tobytes()), {"small": 200}, 90, LIMIT)
    assert info.orientation == 6 and info.upright_size == (300, 400)
    upright = decoded(renditions[0].data)
    assert upright.size == (150, 200)
    top, bottom = upright.getpixel((75, 20)), upright.getpixel((75, 180))
    assert top[0] > 200 and top[2] < 60, f"top should be red, got {top}"
    assert bottom[2] > 200 and bottom[0] < 60, f"bottom should be blue, got {bottom}"
    assert 0x0112 not in upright.getexif()


def test_cmyk_jpeg_becomes_rgb_with_the_right_colour(imaging):
    cmyk = Image.new("CMYK", (320, 240), (0, 255, 255, 0))  # pure red in CMYK
    renditions, info = imaging.render(jpeg(cmyk), {"small": 160}, 90, LIMIT)
    assert info.mode == "CMYK"
    out = decoded(renditions[0].data)
    assert out.mode == "RGB"
    red, green, blue = out.getpixel((80, 60))
    assert red > 200 and green < 60 and blue < 60


def test_grayscale_stays_grayscale(imaging):
    renditions, _ = imaging.render(jpeg(Image.new("L", (320, 240), 128)), {"small": 160}, 90, LIMIT)
    assert decoded(renditions[0].data).mode == "L"


def test_alpha_is_composited_on_white_and_palette_becomes_rgb(imaging):
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (0, 0, 255, 255))
    flat = imaging.to_output_mode(rgba)
    assert flat.mode == "RGB"
    assert flat.getpixel((5, 5)) == (255, 255, 255)
    assert flat.getpixel((0, 0)) == (0, 0, 255)
    palette = Image.new("P", (10, 10), 3)
    palette.putpalette([0, 0, 0] * 3 + [10, 200, 30] + [0, 0, 0] * 252)
    assert imaging.to_output_mode(palette).getpixel((1, 1)) == (10, 200, 30)
    sixteen = Image.new("I;16", (4, 4), 65535)
    assert imaging.to_output_mode(sixteen).mode == "L"


def test_quality_setting_changes_the_output(imaging):
    data = render(ImageSpec(width=1600, height=1200, scene="portrait"))
    low, _ = imaging.render(data, {"large": 1280}, 30, LIMIT)
    high, _ = imaging.render(data, {"large": 1280}, 95, LIMIT)
    assert len(low[0].data) < len(high[0].data)

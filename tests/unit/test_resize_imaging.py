"""The resize function's pixels and names: lambdas/resize/imaging.py and naming.py."""

from __future__ import annotations

import io
import warnings

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


def header_only_jpeg(width: int, height: int) -> bytes:
    """A decompression bomb: a 16x16 JPEG's headers declaring width x height, no scan data."""
    data = bytearray(jpeg(Image.new("RGB", (16, 16), (200, 30, 30))))
    position = 2
    while data[position + 1] not in (0xC0, 0xDA):  # walk the segments to the frame header
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    assert data[position + 1] == 0xC0
    data[position + 5 : position + 7] = height.to_bytes(2, "big")
    data[position + 7 : position + 9] = width.to_bytes(2, "big")
    sos = data.index(b"\xff\xda", position)
    return bytes(data[: sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")])


# --- names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("origin/actor/1234_1.jpg", ("actor", 1234, 1)),
        ("origin/k-pop2/1_12.jpg", ("k-pop2", 1, 12)),
        # The seed's own upload: `aws s3 cp . s3://celebtide-image-upload/origin/ssgdfm_eye`.
        ("origin/ssgdfm_eye/1234_1.jpg", ("ssgdfm_eye", 1234, 1)),
        ("origin/a_b-c_9/7_7.jpg", ("a_b-c_9", 7, 7)),
        ("origin/2024/1_1.jpg", ("2024", 1, 1)),
        (f"origin/{'x' * 40}/1_1.jpg", ("x" * 40, 1, 1)),
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
        ("origin/actor/1_1.jpg\n", "file name '1_1.jpg\\n' has unprintable characters"),
        ("origin/Actor/1_1.jpg", "vertical 'Actor' has uppercase letters"),
        ("origin/SSGDFM_EYE/1_1.jpg", "vertical 'SSGDFM_EYE' has uppercase letters"),
        ("origin/-actor/1_1.jpg", "vertical '-actor' must start and end with a letter or digit"),
        ("origin/_eye/1_1.jpg", "vertical '_eye' must start and end"),
        ("origin/ssgdfm_/1_1.jpg", "vertical 'ssgdfm_' must start and end"),
        ("origin/ssgdfm eye/1_1.jpg", "vertical 'ssgdfm eye' has characters other than"),
        ("origin/ssgdfm.eye/1_1.jpg", "characters other than a-z, 0-9, _ and -: '.'"),
        ("origin/배우/1_1.jpg", "vertical '배우' has characters other than"),
        ("origin/actor\n/1_1.jpg", "has characters other than a-z, 0-9, _ and -: '\\n'"),
        ("origin/../1_1.jpg", "vertical '..' is a path step"),
        ("origin/./1_1.jpg", "vertical '.' is a path step"),
        ("origin//1_1.jpg", "vertical '' is empty"),
        (f"origin/{'x' * 41}/1_1.jpg", "41 characters long, more than 40"),
        ("origin/actor/sub/1_1.jpg", "one folder: the vertical"),
        ("origin/actor/../1_1.jpg", "one folder: the vertical"),
        ("origin/actor//1_1.jpg", "one folder: the vertical"),
        ("origin/actor/", "one folder: the vertical"),
        ("origin/1_1.jpg", "one folder: the vertical"),
        ("elsewhere/actor/1_1.jpg", "outside 'origin/'"),
    ],
)
def test_names_breaking_the_rule_are_rejected_with_a_reason(naming, key, fragment):
    with pytest.raises(naming.NameRejected) as caught:
        naming.parse_origin_key(key)
    assert fragment in caught.value.reason


@pytest.mark.parametrize(
    ("key", "part", "value", "rule"),
    [
        ("origin/Ssgdfm_eye/1_1.jpg", "vertical", "Ssgdfm_eye", "VERTICAL_RULE"),
        ("origin/ssgdfm_eye/1_1.JPG", "file name", "1_1.JPG", "FILENAME_RULE"),
        ("origin/ssgdfm_eye/a/1_1.jpg", "key", "origin/ssgdfm_eye/a/1_1.jpg", "FOLDER_RULE"),
    ],
)
def test_a_rejection_names_the_offending_part_and_its_rule(naming, key, part, value, rule):
    with pytest.raises(naming.NameRejected) as caught:
        naming.parse_origin_key(key)
    assert (caught.value.part, caught.value.value) == (part, value)
    assert caught.value.rule == getattr(naming, rule)


def test_the_patterns_refuse_a_trailing_newline(naming):
    # `$` matches before a final newline; the patterns must not let "actor\n" through.
    assert not naming.VERTICAL_RE.match("actor\n")
    assert not naming.FILENAME_RE.match("1_1.jpg\n")
    with pytest.raises(ValueError, match="size name"):
        naming.check_size_name("large\n")


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


# --- decompression bombs ----------------------------------------------------------


@pytest.fixture
def pillow_limit(monkeypatch):
    """Restores Image.MAX_IMAGE_PIXELS after the test (open_jpeg sets it)."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


def test_the_header_only_bomb_is_what_it_claims(imaging, pillow_limit):
    bomb = header_only_jpeg(20_000, 20_000)
    assert len(bomb) < 1_000  # a few hundred bytes ...
    Image.MAX_IMAGE_PIXELS = None
    assert Image.open(io.BytesIO(bomb)).size == (20_000, 20_000)  # ... declaring 400 MP
    Image.MAX_IMAGE_PIXELS = 89_478_485  # Pillow's default: this is what it did before
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(bomb))
    assert imaging.header_size(bomb) == (20_000, 20_000)


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (20_000, 20_000),  # 400 MP: Pillow's DecompressionBombError at its default limit
        (12_000, 10_000),  # 120 MP: Pillow's DecompressionBombWarning at its default limit
        (65_535, 65_535),  # the largest a JPEG header can declare
        (10_001, 10_000),  # just over the limit of 100 MP
    ],
)
def test_bombs_are_rejected_from_the_header_without_opening_them(
    imaging, pillow_limit, monkeypatch, width, height
):
    def never(*_args, **_kwargs):
        raise AssertionError("Image.open was called for an image over the pixel limit")

    monkeypatch.setattr(imaging.Image, "open", never)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning either
        with pytest.raises(imaging.ImageRejected) as caught:
            imaging.render(header_only_jpeg(width, height), SIZES, 85, LIMIT)
    assert caught.value.code == "TooManyPixels"
    assert f"{width}x{height}" in caught.value.reason


@pytest.mark.parametrize(("width", "height"), [(20_000, 20_000), (12_000, 10_000)])
def test_pillows_own_guard_is_a_rejection_too(imaging, pillow_limit, monkeypatch, width, height):
    """If the header walk ever missed a frame, Pillow's guard (at the same limit) rejects."""
    monkeypatch.setattr(imaging, "header_size", lambda _data: None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(imaging.ImageRejected) as caught:
            imaging.open_jpeg(header_only_jpeg(width, height), LIMIT)
    assert caught.value.code == "TooManyPixels"
    assert Image.MAX_IMAGE_PIXELS == LIMIT


def test_pillows_guard_follows_a_higher_limit(imaging, pillow_limit):
    """With MAX_SOURCE_PIXELS above Pillow's default, a 200 MP image is not a bomb."""
    with pytest.raises(imaging.ImageRejected) as caught:
        imaging.render(header_only_jpeg(20_000, 10_000), SIZES, 85, 500_000_000)
    assert caught.value.code == "Unreadable"  # opened and tried: the data is missing
    assert Image.MAX_IMAGE_PIXELS == 500_000_000


def test_header_size_walks_the_segments(imaging):
    normal = jpeg(Image.new("RGB", (321, 123)))
    assert imaging.header_size(normal) == (321, 123)
    progressive = jpeg(Image.new("L", (40, 30)), progressive=True)
    assert imaging.header_size(progressive) == (40, 30)
    # Fill bytes before a marker and junk between segments are skipped, as Pillow does.
    padded = normal[:2] + b"\xff\xff" + normal[2:]
    assert imaging.header_size(padded) == (321, 123)
    junk = normal[:20] + b"junk" + normal[20:]
    assert Image.open(io.BytesIO(junk)).size == (321, 123)
    assert imaging.header_size(b"\xff\xd8\xff") is None
    assert imaging.header_size(b"\xff\xd8\xff\xe0\x00") is None


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

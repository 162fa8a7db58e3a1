"""Labels in DetectLabels' exact shape: the default set, normalisation and filtering.

The default (no rule matched) answer is modelled on the sample response in seed 000
(City, Road, Street, Photography, Person with a BoundingBox instance, Portrait, T-Shirt,
Path, Sidewalk, Tarmac; ``LabelModelVersion`` "3.0"), plus the ancestors the real API
adds (Urban, Clothing, Face, Head) and one scene label picked from the image's mean
colour. Confidences and the bounding box are derived from the image's SHA-256, so one
image always gets the same answer while different images get plausibly different ones
(some labels drop under ``MinConfidence`` for some images only).
"""

from __future__ import annotations

import colorsys
import struct
from typing import Any

from harness.stubs.rekognition.images import ImageInfo

LABEL_MODEL_VERSION = "3.0"
DEFAULT_MIN_CONFIDENCE = 55.0  # DetectLabels' documented default
MAX_LABELS_LIMIT = 1000  # documented default and upper limit

# name, top confidence, spread (how far the hash may pull it down), parents, aliases,
# categories. Spreads are small for the seed's near-certain labels, large for the rest.
_CATALOGUE: list[tuple[str, float, float, list[str], list[str], list[str]]] = [
    ("City", 99.99974, 0.4, [], ["Town"], ["Buildings and Architecture"]),
    ("Road", 99.99974, 0.4, [], [], ["Transport and Logistics"]),
    ("Street", 99.99974, 0.6, ["City", "Road", "Urban"], [], ["Buildings and Architecture"]),
    ("Photography", 99.99963, 0.6, [], ["Photo"], ["Hobbies and Interests"]),
    ("Person", 99.99934, 0.8, [], ["Human"], ["Person Description"]),
    (
        "Portrait",
        99.99934,
        12.0,
        ["Face", "Head", "Person", "Photography"],
        [],
        ["Hobbies and Interests"],
    ),
    ("T-Shirt", 99.99353, 30.0, ["Clothing"], [], ["Apparel and Accessories"]),
    ("Path", 99.96383, 35.0, [], [], ["Nature and Outdoors"]),
    ("Sidewalk", 99.77108, 40.0, ["Path"], ["Pavement"], ["Buildings and Architecture"]),
    ("Tarmac", 99.61928, 45.0, ["Road"], ["Asphalt"], ["Transport and Logistics"]),
    ("Urban", 96.5, 40.0, [], [], ["Buildings and Architecture"]),
    ("Clothing", 95.0, 45.0, [], ["Apparel"], ["Apparel and Accessories"]),
    ("Face", 90.0, 50.0, ["Head", "Person"], [], ["Person Description"]),
    ("Head", 90.0, 50.0, ["Person"], [], ["Person Description"]),
]

# Scene label chosen from the mean colour: (name, parents, categories).
_SCENES: dict[str, tuple[str, list[str], list[str]]] = {
    "dark": ("Night", ["Nature", "Outdoors"], ["Nature and Outdoors"]),
    "bright": ("Snow", ["Nature", "Outdoors"], ["Nature and Outdoors"]),
    "grey": ("Fog", ["Nature", "Outdoors"], ["Nature and Outdoors"]),
    "red": ("Sunset", ["Nature", "Outdoors", "Sky"], ["Nature and Outdoors"]),
    "yellow": ("Sunlight", ["Nature", "Outdoors"], ["Nature and Outdoors"]),
    "green": ("Vegetation", ["Plant"], ["Plants and Flowers"]),
    "blue": ("Sky", ["Nature", "Outdoors"], ["Nature and Outdoors"]),
    "purple": ("Flower", ["Plant"], ["Plants and Flowers"]),
}


def f32(value: float) -> float:
    """Round through float32, as the real service's numbers are (99.99974060058594)."""
    return float(struct.unpack("f", struct.pack("f", value))[0])


def label(
    name: str,
    confidence: float,
    parents: list[str] | None = None,
    aliases: list[str] | None = None,
    categories: list[str] | None = None,
    instances: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One label with every key the current API returns, in the API's key order."""
    return {
        "Name": name,
        "Confidence": f32(confidence),
        "Instances": instances or [],
        "Parents": [{"Name": p} for p in parents or []],
        "Aliases": [{"Name": a} for a in aliases or []],
        "Categories": [{"Name": c} for c in categories or []],
    }


def colour_family(rgb: tuple[float, float, float]) -> str:
    r, g, b = (c / 255 for c in rgb)
    hue, lightness, saturation = colorsys.rgb_to_hls(r, g, b)
    if lightness < 0.2:
        return "dark"
    if saturation < 0.15:
        return "bright" if lightness > 0.85 else "grey"
    degrees = hue * 360
    for limit, family in ((20, "red"), (70, "yellow"), (170, "green"), (260, "blue")):
        if degrees < limit:
            return family
    return "purple" if degrees < 330 else "red"


def default_labels(info: ImageInfo) -> list[dict[str, Any]]:
    """The deterministic default answer for one image, sorted by confidence."""
    digest = bytes.fromhex(info.sha256)
    labels = []
    for i, (name, top, spread, parents, aliases, categories) in enumerate(_CATALOGUE):
        confidence = top - spread * digest[i] / 255
        instances = [_person_instance(digest)] if name == "Person" else []
        labels.append(label(name, confidence, parents, aliases, categories, instances))
    scene, parents, categories = _SCENES[colour_family(info.mean_rgb)]
    contrast = min(info.stddev / 64, 1.0)  # flat images are more confidently one colour
    labels.append(label(scene, 98.0 - 30.0 * contrast, parents, [], categories))
    labels.sort(key=lambda item: -item["Confidence"])
    return labels


def _person_instance(digest: bytes) -> dict[str, Any]:
    width = 0.35 + 0.6 * digest[20] / 255
    left = (1.0 - width) * digest[21] / 255
    height = 0.6 + 0.4 * digest[22] / 255
    return {
        "BoundingBox": {
            "Width": f32(width),
            "Height": f32(height),
            "Left": f32(left),
            "Top": f32((1.0 - height) * digest[23] / 255),
        },
        "Confidence": f32(99.9 - 5.0 * digest[24] / 255),
    }


def normalise_label(raw: Any, where: str) -> dict[str, Any]:
    """Fill a rule's label to the full API shape; names may be given as plain strings."""
    if isinstance(raw, str):
        raw = {"Name": raw}
    if not isinstance(raw, dict) or not isinstance(raw.get("Name"), str):
        raise ValueError(f"{where}: a label needs a string 'Name'")
    confidence = raw.get("Confidence", 99.0)
    if not isinstance(confidence, int | float) or not 0 <= confidence <= 100:
        raise ValueError(f"{where}: Confidence must be a number in 0..100")

    def names(key: str) -> list[str]:
        items = raw.get(key, [])
        if not isinstance(items, list):
            raise ValueError(f"{where}: {key} must be a list")
        return [i["Name"] if isinstance(i, dict) else str(i) for i in items]

    instances = raw.get("Instances", [])
    if not isinstance(instances, list):
        raise ValueError(f"{where}: Instances must be a list")
    result = label(
        raw["Name"],
        float(confidence),
        names("Parents"),
        names("Aliases"),
        names("Categories"),
        instances,
    )
    extra = {k: v for k, v in raw.items() if k not in result}
    return {**result, **extra}


def filter_labels(
    labels: list[dict[str, Any]],
    min_confidence: float,
    max_labels: int,
    settings: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Apply ``Settings.GeneralLabels`` filters, then ``MinConfidence``, then ``MaxLabels``."""
    general = (settings or {}).get("GeneralLabels") or {}
    include = set(general.get("LabelInclusionFilters") or [])
    exclude = set(general.get("LabelExclusionFilters") or [])
    cat_include = set(general.get("LabelCategoryInclusionFilters") or [])
    cat_exclude = set(general.get("LabelCategoryExclusionFilters") or [])

    def keep(item: dict[str, Any]) -> bool:
        categories = {c["Name"] for c in item.get("Categories", [])}
        if include and item["Name"] not in include:
            return False
        if cat_include and not categories & cat_include:
            return False
        if item["Name"] in exclude or categories & cat_exclude:
            return False
        return item["Confidence"] >= min_confidence

    ordered = sorted((i for i in labels if keep(i)), key=lambda i: -i["Confidence"])
    return ordered[:max_labels]


def image_properties(info: ImageInfo) -> dict[str, Any]:
    """A minimal ``ImageProperties`` (for ``Features: [IMAGE_PROPERTIES]``) from the image."""
    r, g, b = info.mean_rgb
    brightness = f32(100 * (0.299 * r + 0.587 * g + 0.114 * b) / 255)
    contrast = f32(min(100.0, info.stddev / 1.28))
    quality = {"Brightness": brightness, "Sharpness": contrast, "Contrast": contrast}
    colour = {
        "Red": round(r),
        "Green": round(g),
        "Blue": round(b),
        "HexCode": f"#{round(r):02X}{round(g):02X}{round(b):02X}",
        "SimplifiedColor": colour_family(info.mean_rgb),
        "PixelPercent": 100.0,
    }
    return {"Quality": quality, "DominantColors": [colour]}

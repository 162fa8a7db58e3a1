"""`harness bench resize`: the resize function's speed and quality, against a naive baseline.

Both are measured in the same run on the same images, so the ratio holds on any
machine even when the absolute numbers do not:
- optimised: the function's own code (lambdas/resize/imaging.py): JPEG draft
  decoding, one decode for all sizes, Lanczos, progressive optimised output;
- naive: what the seed's resize.py-style code does: open, full decode, resize x4
  with Lanczos from the full image, save at the same quality.

Quality is PSNR (dB; higher is better, above ~40 dB differences are invisible)
of each decoded rendition against a reference made without any shortcut (full
decode, Lanczos, no JPEG encode), so both methods are judged the same way.
Time is reported as wall-clock and as CPU time of this process: on a shared
machine the CPU time is the steadier of the two.
"""

from __future__ import annotations

import io
import json
import math
import platform
import random
import time
from collections.abc import Callable
from pathlib import Path

import PIL
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat

from harness.systems.catalog import lambda_rules

DEFAULT_SIZES = {"large": 1280, "medium": 800, "small": 400, "thumb": 160}


def photo_like(width: int, height: int, seed: int) -> bytes:
    """A synthetic photo: gradients, soft shapes and sensor-like noise, as a q92 JPEG.

    Flat synthetic images compress and resize unrealistically fast; noise and
    blur give the decoder and the filters the work a real photo gives them.
    """
    rng = random.Random(seed)
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    tint = Image.new("RGB", (width, height), (rng.randrange(256), rng.randrange(256), 200))
    image = Image.blend(image, tint, 0.5)
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(width // 40, width // 6)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(3))
    noise = Image.merge("RGB", [Image.effect_noise((width, height), 40) for _ in range(3)])
    image = Image.blend(image, noise, 0.12)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def naive(data: bytes, sizes: dict[str, int], quality: int) -> list[tuple[str, bytes]]:
    """The baseline: full decode, resize each size from the full image, plain save."""
    fit = lambda_rules.imaging().fit
    image = Image.open(io.BytesIO(data))
    image.load()
    outputs = []
    for name, edge in sizes.items():
        resized = image.resize(fit(image.width, image.height, edge), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        resized.save(buffer, "JPEG", quality=quality)
        outputs.append((name, buffer.getvalue()))
    return outputs


def optimised(data: bytes, sizes: dict[str, int], quality: int) -> list[tuple[str, bytes]]:
    renditions, _ = lambda_rules.imaging().render(data, sizes, quality, 100_000_000)
    return [(r.size, r.data) for r in renditions]


def references(data: bytes, sizes: dict[str, int]) -> dict[str, Image.Image]:
    """Each size made the slow, exact way, kept as pixels (no encoding loss)."""
    fit = lambda_rules.imaging().fit
    image = Image.open(io.BytesIO(data))
    image.load()
    return {
        name: image.resize(fit(image.width, image.height, edge), Image.Resampling.LANCZOS)
        for name, edge in sizes.items()
    }


def psnr(candidate: Image.Image, reference: Image.Image) -> float:
    if candidate.size != reference.size:
        candidate = candidate.resize(reference.size, Image.Resampling.LANCZOS)
    diff = ImageChops.difference(candidate.convert("RGB"), reference.convert("RGB"))
    mse = sum(value**2 for value in ImageStat.Stat(diff).rms) / 3
    return 99.0 if mse == 0 else round(10 * math.log10(255**2 / mse), 2)


def _measure(
    method: Callable[..., list[tuple[str, bytes]]],
    images: list[bytes],
    sizes: dict[str, int],
    quality: int,
    rounds: int,
) -> tuple[float, float, list[list[tuple[str, bytes]]]]:
    wall, cpu = time.perf_counter(), time.process_time()
    outputs = []
    for _ in range(rounds):
        outputs = [method(data, sizes, quality) for data in images]
    return time.perf_counter() - wall, time.process_time() - cpu, outputs


def run(
    out: Path,
    images: int = 4,
    rounds: int = 2,
    width: int = 4000,
    height: int = 3000,
    quality: int = 85,
    sizes: dict[str, int] | None = None,
    progress: Callable[[str], None] = print,
) -> dict:
    sizes = sizes or DEFAULT_SIZES
    progress(f"making {images} synthetic {width}x{height} JPEGs ({width * height / 1e6:.0f} MP)")
    sources = [photo_like(width, height, seed) for seed in range(images)]
    progress("warming up (first decode loads libjpeg tables)")
    naive(sources[0], sizes, quality)
    optimised(sources[0], sizes, quality)
    results: dict[str, dict] = {}
    totals = {"naive": [0.0, 0.0], "optimised": [0.0, 0.0]}
    outputs: dict[str, list] = {}
    # Alternate the two methods so background load hits both alike.
    for turn in range(rounds):
        for label, method in (("naive", naive), ("optimised", optimised)):
            progress(f"round {turn + 1}/{rounds}: {label}")
            wall, cpu, produced = _measure(method, sources, sizes, quality, 1)
            totals[label][0] += wall
            totals[label][1] += cpu
            outputs[label] = produced
    progress("scoring quality against full-decode references")
    refs = [references(data, sizes) for data in sources]
    for label, (wall, cpu) in totals.items():
        scores: dict[str, list[float]] = {name: [] for name in sizes}
        byte_counts: dict[str, list[int]] = {name: [] for name in sizes}
        for produced, ref in zip(outputs[label], refs, strict=True):
            for name, data in produced:
                scores[name].append(psnr(Image.open(io.BytesIO(data)), ref[name]))
                byte_counts[name].append(len(data))
        count = images * rounds
        results[label] = {
            "images_per_s_wall": round(count / wall, 2),
            "images_per_s_cpu": round(count / cpu, 2),
            "psnr_db": {name: round(sum(v) / len(v), 2) for name, v in scores.items()},
            "mean_bytes": {name: round(sum(v) / len(v)) for name, v in byte_counts.items()},
        }
    report = {
        "what": "12-megapixel JPEG -> four sizes, optimised (lambdas/resize) vs naive Pillow",
        "images": images,
        "rounds": rounds,
        "source": {
            "width": width,
            "height": height,
            "mean_bytes": sum(map(len, sources)) // images,
        },
        "sizes": sizes,
        "quality": quality,
        "results": results,
        "speedup_wall": round(
            results["optimised"]["images_per_s_wall"] / results["naive"]["images_per_s_wall"], 2
        ),
        "speedup_cpu": round(
            results["optimised"]["images_per_s_cpu"] / results["naive"]["images_per_s_cpu"], 2
        ),
        "psnr_delta_db": {
            name: round(
                results["optimised"]["psnr_db"][name] - results["naive"]["psnr_db"][name], 2
            )
            for name in sizes
        },
        "machine": {
            "python": platform.python_version(),
            "pillow": PIL.__version__,
            "cpu": platform.processor() or platform.machine(),
        },
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    return report

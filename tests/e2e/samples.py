"""Images and keys that the labeling tests share: one rendering, one way to name a
folder of one's own (so parallel tests and reruns never read each other's results)."""

from __future__ import annotations

import uuid

from harness.build.fixtures import ImageSpec, render

JPEG = render(ImageSpec(seed=1))


def unique_folder(prefix: str = "ingest/") -> str:
    """A folder under `prefix` that no other test uses, ending in a slash."""
    return f"{prefix}t-{uuid.uuid4().hex[:8]}/"

"""Looking at a rendered page as a person would: a screenshot at 1400 px, and no
sideways scrolling there. Shared by the report and matrix tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.observe import browser
from harness.util.errors import HarnessError

WIDTH = 1400


def chromium() -> None:
    """Skip, saying why, where no Chromium can be found or installed."""
    try:
        browser.ensure()
    except HarnessError as exc:
        pytest.skip(f"no headless Chromium: {exc}")


def look_at(page: Path, shot: Path, height: int = 1600) -> Path:
    """A screenshot of `page` in a 1400 px window, checked to be a real picture, and the
    page checked to fit that window's width."""
    chromium()
    browser.screenshot(page, shot, width=WIDTH, height=height)
    assert browser.png_size(shot) == (WIDTH, height)
    assert shot.stat().st_size > 20_000  # a picture, not a blank page
    assert browser.overflow(page, width=WIDTH) == 0, f"{page.name} scrolls sideways at {WIDTH} px"
    return shot

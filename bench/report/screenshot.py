"""A PNG of a report page as a reader first sees it (the README's leaderboard picture)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.io_atomic import atomic_write_bytes
from bench.report.browser import chromium, file_url


def screenshot(index_html: Path, png: Path, width: int = 1400, height: int = 900, *,
               full_page: bool = False, browser: Any = None) -> Path:
    """Open ``index_html`` from file:// in headless Chromium and save the viewport as ``png``.

    ``browser``: an already launched Playwright browser to reuse (one is started otherwise)."""
    index_html = Path(index_html)
    if not index_html.is_file():
        raise FileNotFoundError(f"no page to photograph at {index_html}")
    if browser is None:
        with chromium() as own:
            return screenshot(index_html, png, width, height, full_page=full_page, browser=own)
    page = browser.new_page(viewport={"width": int(width), "height": int(height)},
                            device_scale_factor=1)
    try:
        page.goto(file_url(index_html), wait_until="load")
        page.evaluate("() => Promise.all(Array.from(document.images).map(i => i.decode()"
                      ".catch(() => null)))")
        data = page.screenshot(full_page=full_page, type="png")
    finally:
        page.close()
    return atomic_write_bytes(Path(png), data)

"""Headless Chromium through Playwright, using the system's browser (never a downloaded one).

Used by the screenshot helper and the browser tests. The executable is Debian's ``chromium``
(``/usr/bin/chromium``) unless ``DRUMBENCH_CHROMIUM`` names another; the flags keep it offline
and quiet (no first-run, no background networking, no component updates, no sync).
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium_path() -> Path:
    """The Chromium executable: ``$DRUMBENCH_CHROMIUM``, else ``chromium`` on PATH."""
    env = os.environ.get("DRUMBENCH_CHROMIUM")
    found = env or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found or not Path(found).exists():
        raise FileNotFoundError(
            "no Chromium found: install Debian's 'chromium' package or set DRUMBENCH_CHROMIUM "
            "to the browser's executable")
    return Path(found)


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched Playwright ``Browser`` on the system Chromium; closed on exit."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the browser helpers need playwright: pip install playwright "
                          "(no browser download is needed: the system chromium is used)") from exc
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium_path()), headless=True,
                                    args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def file_url(path: Path) -> str:
    return Path(path).resolve().as_uri()

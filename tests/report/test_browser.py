"""The report in a real browser: Debian's headless Chromium driven by Playwright, from file://."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.report.browser import chromium, file_url
from bench.report.screenshot import screenshot

from tests.report.report_fixtures import XSS_NAME

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


class Watched:
    """A page with its console errors, uncaught exceptions, dialogs and network requests."""

    def __init__(self, browser: Any) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def open(self, path: Path) -> Any:
        self.page.goto(file_url(path), wait_until="load")
        return self.page


@pytest.fixture()
def watched(browser: Any) -> Iterator[Watched]:
    w = Watched(browser)
    yield w
    w.page.close()


def _baseline_pages(index: Path) -> list[Path]:
    return sorted((index.parent / "baselines").glob("*.html"))


def _hostile_page(index: Path) -> Path:
    pages = [p for p in _baseline_pages(index) if "&lt;script&gt;" in p.read_text()]
    assert pages, "no baseline page for the script-named baseline"
    return pages[0]


def test_pages_load_offline_without_console_errors(built_report: Path, watched: Watched) -> None:
    for path in [built_report, _hostile_page(built_report), _baseline_pages(built_report)[0]]:
        page = watched.open(path)
        assert page.locator("table").count() >= 1
    assert watched.errors == []
    assert [u for u in watched.requests if not u.startswith(("file://", "data:"))] == []


def _column(page: Any, table: Any, header_index: int) -> list[str]:
    return table.locator("tbody tr").evaluate_all(
        "(rows, i) => rows.map(r => r.cells[i].getAttribute('data-value'))", header_index)


def test_clicking_a_metric_header_sorts_rows_by_it(built_report: Path, watched: Watched) -> None:
    page = watched.open(built_report)
    table = page.locator("table.leaderboard").first
    headers = table.locator("thead th")
    metrics = headers.evaluate_all("hs => hs.map(h => h.getAttribute('data-metric'))")
    idx = metrics.index("latency_ms")            # not the default order (that is fad_mel)
    lower_is_better = headers.nth(idx).get_attribute("data-better") == "lower"
    names_before = table.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-baseline'))")

    headers.nth(idx).locator(".mname").click()
    values = _column(page, table, idx)
    present = [float(v) for v in values if v]
    assert len(present) >= 3
    assert present == sorted(present, reverse=not lower_is_better)
    assert all(v for v in values[:len(present)]), "rows without a value must come last"
    names_after = table.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-baseline'))")
    assert names_after != names_before and sorted(names_after) == sorted(names_before)
    assert headers.nth(idx).get_attribute("aria-sort") in ("ascending", "descending")

    headers.nth(idx).click()                     # second click reverses
    again = [float(v) for v in _column(page, table, idx) if v]
    assert again == sorted(present, reverse=lower_is_better)
    assert watched.errors == []


def _broken_images(page: Any) -> list[str]:
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")
    return page.evaluate(
        "() => Array.from(document.images).filter(i => !(i.naturalWidth > 0)).map(i => i.src)")


def test_every_image_decodes(built_report: Path, watched: Watched) -> None:
    for path in [built_report, _hostile_page(built_report)]:
        page = watched.open(path)
        assert page.locator("img").count() > 3
        assert _broken_images(page) == []


def test_audio_players_load_the_copied_clips(built_report: Path, watched: Watched) -> None:
    page = watched.open(_hostile_page(built_report))
    audio = page.locator("audio")
    assert audio.count() >= 6
    srcs = audio.evaluate_all("as => as.map(a => a.getAttribute('src'))")
    assert all(s.startswith("../media/audio/") for s in srcs)          # inside the site folder
    duration = audio.first.evaluate(
        """a => new Promise((ok, fail) => {
            if (a.readyState >= 1 && a.duration > 0) { ok(a.duration); return; }
            a.addEventListener('loadedmetadata', () => ok(a.duration));
            a.addEventListener('error', () => fail('audio error ' + (a.error && a.error.code)));
            a.load();
        })""")
    assert duration > 0
    assert watched.errors == []


def test_script_named_baseline_is_text_and_runs_nothing(built_report: Path, watched: Watched) -> None:
    for path in [built_report, _hostile_page(built_report)]:
        page = watched.open(path)
        page.wait_for_load_state("load")
        assert XSS_NAME in page.locator("body").inner_text()
        assert page.evaluate("() => window.__xss") is None
        own_scripts = page.evaluate(
            "() => Array.from(document.scripts).map(s => s.getAttribute('src'))")
        assert all(s and s.endswith("assets/sort.js") for s in own_scripts), own_scripts
        handlers = page.evaluate("""() => Array.from(document.querySelectorAll('*'))
            .flatMap(e => Array.from(e.attributes).map(a => a.name))
            .filter(n => n.startsWith('on'))""")
        assert handlers == []
    assert watched.dialogs == []
    assert watched.errors == []


def test_screenshot_writes_a_png_of_the_viewport(built_report: Path, tmp_path: Path,
                                                 browser: Any) -> None:
    from PIL import Image

    png = screenshot(built_report, tmp_path / "board.png", width=900, height=600, browser=browser)
    with Image.open(png) as im:
        assert im.size == (900, 600)
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50     # a rendered page, not a blank frame

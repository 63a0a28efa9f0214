"""Every user-provided string is escaped: names, classes, files and config values are text."""
from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest

from bench.report.render import environment
from tests.report.report_fixtures import XSS_NAME, XSS_PAYLOAD


class Page(HTMLParser):
    """Tags, attributes and the text of a page, as a browser's tokenizer sees them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def _pages(index: Path) -> list[Path]:
    return [index] + sorted((index.parent / "baselines").glob("*.html"))


def test_environment_escapes_everything() -> None:
    env = environment()
    assert env.autoescape is True
    tmpl = env.from_string('<p title="{{ s }}">{{ s }}</p>')
    out = tmpl.render(s='"><script>x()</script>')
    assert "<script>" not in out and "&#34;&gt;&lt;script&gt;" in out
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing }}").render()


def test_no_page_carries_injected_markup(built_report: Path) -> None:
    for path in _pages(built_report):
        html = path.read_text()
        assert XSS_NAME not in html and XSS_PAYLOAD not in html, path
        page = Page(html)
        scripts = [a for t, a in page.tags if t == "script"]
        assert all((a.get("src") or "").endswith("assets/sort.js") for a in scripts), path
        assert not [(t, k) for t, a in page.tags for k in a if k.startswith("on")], path
        assert not [t for t, _ in page.tags if t in ("iframe", "object", "embed", "base")]


def test_hostile_strings_are_shown_as_text(built_report: Path, request: pytest.FixtureRequest) -> None:
    index = Page(built_report.read_text())
    assert XSS_NAME in index.all_text                              # baseline name
    if request.node.callspec.params["report_runs_dir"] == "runner":
        # the real plugin run carries the payload in its name and description only
        hostile = [p for p in _pages(built_report)[1:] if XSS_NAME in Page(p.read_text()).all_text]
        assert hostile and XSS_PAYLOAD in Page(hostile[0].read_text()).all_text
        return
    assert "hydrogen & <kits>" in index.all_text                   # dataset name
    assert XSS_PAYLOAD in index.all_text                           # class name
    hostile = [p for p in _pages(built_report)[1:] if XSS_NAME in Page(p.read_text()).all_text]
    assert hostile
    text = Page(hostile[0].read_text()).all_text
    assert f"desc {XSS_PAYLOAD}" in text                           # description
    assert f'{XSS_PAYLOAD} & "quoted" et al.' in text              # citation
    assert "</pre><script>window.__xss=1</script>" in text         # config value


def test_hostile_class_is_text_on_listen_headings(built_report: Path, request: pytest.FixtureRequest) -> None:
    if request.node.callspec.params["report_runs_dir"] == "runner":
        return  # real runs use synthkit's class names; the fabricated runs carry a hostile class
    pages = [Page(p.read_text()) for p in _pages(built_report)[1:]]
    with_class = [p for p in pages if XSS_PAYLOAD in p.all_text]
    assert with_class, "the hostile class should be listed on its dataset's baseline pages"
    for p in with_class:
        srcs = [a.get("src") for t, a in p.tags if t in ("img", "audio")]
        assert srcs and all(s.startswith(("../media/", "../figures/")) for s in srcs)

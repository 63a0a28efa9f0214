"""Jinja2 with autoescape always on: the only way HTML leaves the report.

Every string the pages print comes from run files that users wrote (baseline, dataset, class and
file names, config values), so escaping is not a per-template choice: the environment escapes
every ``{{ }}`` in every template, attributes included, and nothing is marked safe.
"""
from __future__ import annotations

import functools
import shutil
from pathlib import Path
from typing import Any

import jinja2

from bench.io_atomic import atomic_write_text

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
STATIC_FILES = ("style.css", "sort.js")


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,                    # all templates, whatever their extension
        undefined=jinja2.StrictUndefined,   # a typo in a template is an error, not a blank
        trim_blocks=True, lstrip_blocks=True,
    )
    return env


def render(template: str, out: Path, **context: Any) -> Path:
    html = environment().get_template(template).render(**context)
    return atomic_write_text(out, html)


def copy_static(site_dir: Path) -> list[Path]:
    out = []
    for name in STATIC_FILES:
        dst = Path(site_dir) / "assets" / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(STATIC / name, dst)
        out.append(dst)
    return out

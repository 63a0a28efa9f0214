"""CSV (long, wide), Markdown and LaTeX leaderboards: the numbers of the site, escaped."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from bench.report.aggregate import build_groups
from bench.report.collect import find_runs, long_table
from bench.report.export import escape_latex, escape_markdown
from bench.report.formatting import format_mean_ci, format_value
from tests.report.report_fixtures import FABRICATED_ONLY, XSS_NAME



@pytest.fixture(scope="module")
def exports(built_report: Path) -> Path:
    return built_report.parent / "exports"


@pytest.fixture(scope="module")
def groups(report_runs_dir: Path):
    return build_groups(find_runs(report_runs_dir))


def test_long_csv_is_the_long_table(exports: Path, report_runs_dir: Path) -> None:
    csv = pd.read_csv(exports / "leaderboard_long.csv")
    long = long_table(find_runs(report_runs_dir))
    assert len(csv) == len(long)
    assert {"dataset", "protocol", "baseline", "seed", "metric", "status", "value"} <= set(csv)
    ok = csv[csv.status == "ok"].sort_values(["group", "row", "seed", "metric"])
    ref = long[long.status == "ok"].sort_values(["group", "row", "seed", "metric"])
    assert ok.value.to_numpy() == pytest.approx(ref.value.to_numpy())


def test_wide_csv_has_a_row_per_leaderboard_row_and_the_same_numbers(exports: Path, groups) -> None:
    wide = pd.read_csv(exports / "leaderboard_wide.csv", keep_default_na=False,
                       na_values=[""])
    assert len(wide) == sum(len(g.rows) for g in groups)
    for g in groups:
        for r in g.rows:
            line = wide[(wide.dataset == g.key.dataset) & (wide.baseline == r.key.baseline)
                        & (wide.signature == r.key.signature)]
            assert len(line) == 1
            for c in g.columns:
                cell = r.cells[c.key]
                assert line[f"{c.key}_status"].item() == cell.status
                if cell.mean is None:
                    assert pd.isna(line[c.key].item())
                else:
                    assert line[c.key].item() == pytest.approx(cell.mean)
                    assert bool(line[f"{c.key}_best"].item()) == cell.best


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


@FABRICATED_ONLY
def test_markdown_tables_one_per_group_escaped(exports: Path, groups) -> None:
    md = (exports / "leaderboard.md").read_text()
    assert md.count("\n## ") == len(groups)
    assert "fad\\_mel ↓" in md and "class\\_accuracy ↑" in md
    assert XSS_NAME not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    for block in md.split("\n## ")[1:]:
        rows = [ln for ln in block.splitlines() if ln.startswith("|")]
        assert len({_unescaped_pipes(ln) for ln in rows}) == 1, "a cell broke the table"
        assert any("**" in ln for ln in rows[2:]), "best cells are bold"
        assert any(ln.startswith("| *real") for ln in rows), "reference rows in italics"
        assert any("failed" in ln for ln in rows) and any("skipped" in ln for ln in rows)


def _strip_escaped_braces(tex: str) -> str:
    return tex.replace(r"\{", "").replace(r"\}", "")


@FABRICATED_ONLY
def test_latex_is_booktabs_and_escaped(exports: Path, groups) -> None:
    tex = (exports / "leaderboard.tex").read_text()
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}"):
        assert tex.count(rule) == len(groups)
    body = _strip_escaped_braces(tex)
    assert body.count("{") == body.count("}")
    assert "<" not in tex and ">" not in tex
    assert r"fad\_mel $\downarrow$" in tex and r"class\_accuracy $\uparrow$" in tex
    assert r"\textbf{" in tex and r"\textit{real (reference)}" in tex and r"$\pm$" in tex
    assert r"\textless{}script\textgreater{}alert(1)\textless{}/script\textgreater{}" in tex
    # every data row has as many cells as the header
    for table in tex.split(r"\begin{tabular}")[1:]:
        lines = table.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
        spec = table.split("}", 2)[0].strip("{")
        assert all(ln.count(" & ") == len(spec.split()) - 1 for ln in lines)


def test_escape_latex_every_special() -> None:
    assert escape_latex("a_b&c%d$e#f{g}h~i^j\\k<l>m|n") == (
        r"a\_b\&c\%d\$e\#f\{g\}h\textasciitilde{}i\textasciicircum{}j\textbackslash{}k"
        r"\textless{}l\textgreater{}m\textbar{}n")


def test_escape_markdown_keeps_one_cell() -> None:
    out = escape_markdown("a|b*c_d<e>[f]`g`\nh")
    assert out == r"a\|b\*c\_d&lt;e&gt;\[f\]\`g\` h"
    assert _unescaped_pipes(out) == 0


@pytest.mark.parametrize("mean, lo, hi, text", [
    (3.14159, 3.09159, 3.19159, "3.142 ± 0.050"),
    (0.5, 0.4, 0.6, "0.50 ± 0.10"),
    (123.4, 100.0, 146.8, "123 ± 23"),
    (2.5, None, None, "2.50"),
    (None, None, None, "—"),
])
def test_format_mean_ci(mean, lo, hi, text) -> None:
    assert format_mean_ci(mean, lo, hi) == text


def test_format_value_extremes() -> None:
    assert format_value(1.5e7) == "1.5e+07"
    assert format_value(2e-6) == "2e-06"
    assert format_value(0.0) == "0"
    assert format_value(float("nan")) == "—"

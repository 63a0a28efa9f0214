"""Leaderboards a paper can paste: CSV (long and wide), Markdown and LaTeX (booktabs).

The same cells as the HTML table (mean ± CI half-width, best in bold, reference rows in italics,
failed/skipped spelled out), one table per group. Every user-provided string is escaped for its
target: a baseline called ``a_b|<c>`` stays one cell and prints as typed.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.io_atomic import atomic_write_text
from bench.report.aggregate import Cell, Group, Row, summary_table
from bench.report.formatting import format_mean_ci

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
}
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": r"\|", "\n": " ", "\r": " "}
_MD_BACKSLASHED = set("\\`*_[]#~")


def escape_latex(text: object) -> str:
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(text))


def escape_markdown(text: object) -> str:
    out = []
    for ch in str(text):
        if ch in _MD_ENTITIES:
            out.append(_MD_ENTITIES[ch])
        elif ch in _MD_BACKSLASHED:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _cell_text(cell: Cell, pm: str) -> str:
    if cell.status == "ok":
        text = format_mean_ci(cell.mean, cell.lo, cell.hi, pm=pm)
        return text
    return {"failed": "failed", "skipped": "skipped"}.get(cell.status, "—")


def wide_table(groups: list[Group]) -> pd.DataFrame:
    """One row per (group, leaderboard row); per metric: mean, CI bounds, seeds, status."""
    out = []
    for g in groups:
        for r in g.rows:
            rec = {"dataset": g.key.dataset, "manifest_hash": g.key.manifest_hash,
                   "protocol": g.key.protocol, "protocol_version": g.key.protocol_version,
                   "baseline": r.key.baseline, "baseline_version": r.key.baseline_version,
                   "signature": r.key.signature, "row": r.label, "reference": r.reference,
                   "seeds": len(r.ok_seeds), "seeds_total": len(r.seeds)}
            for c in g.columns:
                cell = r.cells[c.key]
                rec.update({c.key: cell.mean, f"{c.key}_ci_lo": cell.lo,
                            f"{c.key}_ci_hi": cell.hi, f"{c.key}_n": cell.n,
                            f"{c.key}_status": cell.status, f"{c.key}_best": cell.best})
            out.append(rec)
    return pd.DataFrame(out)


def _group_title(g: Group) -> str:
    return f"{g.key.dataset} ({g.key.manifest_hash[:8]}) · {g.key.protocol}@{g.key.protocol_version}"


def _row_label(r: Row) -> str:
    return f"{r.label} (reference)" if r.reference else r.label


def markdown(groups: list[Group]) -> str:
    parts = ["# drumbench leaderboard", "",
             "Mean ± 95% CI half-width over seeds; **bold** = best model per column "
             "(reference rows in italics are not ranked); ↑ higher / ↓ lower is better.", ""]
    for g in groups:
        parts += [f"## {escape_markdown(_group_title(g))}", ""]
        header = ["baseline", "seeds"] + [f"{escape_markdown(c.key)} {c.arrow}" for c in g.columns]
        parts.append("| " + " | ".join(header) + " |")
        parts.append("|" + "|".join([":---", "---:"] + ["---:"] * len(g.columns)) + "|")
        for r in g.rows:
            label = escape_markdown(_row_label(r))
            cells = [f"*{label}*" if r.reference else label, str(len(r.ok_seeds))]
            for c in g.columns:
                cell = r.cells[c.key]
                text = escape_markdown(_cell_text(cell, "±"))
                cells.append(f"**{text}**" if cell.best else text)
            parts.append("| " + " | ".join(cells) + " |")
        parts.append("")
    return "\n".join(parts)


def latex(groups: list[Group]) -> str:
    parts = ["% drumbench leaderboard: needs \\usepackage{booktabs}",
             "% mean $\\pm$ 95% CI half-width over seeds; bold = best model per column;",
             "% reference rows (italic) are not ranked.", ""]
    for i, g in enumerate(groups):
        spec = "l r " + " ".join("r" for _ in g.columns)
        header = ["Baseline", "Seeds"] + [
            f"{escape_latex(c.key)} $\\{'uparrow' if c.higher_is_better else 'downarrow'}$"
            for c in g.columns]
        parts += ["\\begin{table}[ht]", "\\centering", "\\small",
                  f"\\caption{{{escape_latex(_group_title(g))}}}",
                  f"\\label{{tab:drumbench-{i}}}",
                  f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
                  " & ".join(header) + " \\\\", "\\midrule"]
        for r in g.rows:
            label = escape_latex(_row_label(r))
            cells = [f"\\textit{{{label}}}" if r.reference else label, str(len(r.ok_seeds))]
            for c in g.columns:
                cell = r.cells[c.key]
                text = escape_latex(_cell_text(cell, "±")).replace("±", "$\\pm$")
                cells.append(f"\\textbf{{{text}}}" if cell.best else text)
            parts.append(" & ".join(cells) + " \\\\")
        parts += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(parts)


def write_exports(long: pd.DataFrame, groups: list[Group], out_dir: Path) -> dict[str, Path]:
    """Write the four exports into ``out_dir``; returns {kind: path}."""
    out_dir = Path(out_dir)
    paths = {
        "csv_long": out_dir / "leaderboard_long.csv",
        "csv_wide": out_dir / "leaderboard_wide.csv",
        "csv_summary": out_dir / "leaderboard_summary.csv",
        "markdown": out_dir / "leaderboard.md",
        "latex": out_dir / "leaderboard.tex",
    }
    atomic_write_text(paths["csv_long"], long.drop(columns=["run_dir"]).to_csv(index=False))
    atomic_write_text(paths["csv_wide"], wide_table(groups).to_csv(index=False))
    atomic_write_text(paths["csv_summary"], summary_table(groups).to_csv(index=False))
    atomic_write_text(paths["markdown"], markdown(groups))
    atomic_write_text(paths["latex"], latex(groups))
    return paths

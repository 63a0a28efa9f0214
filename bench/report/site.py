"""``drumbench report``: run files → a static site that opens from file://.

collect (run files → records, long table) → aggregate (groups, seeds → cells) → figures and
media → pages (Jinja2, autoescaped) → exports. The output folder holds everything the pages use
(styles, script, audio copies, images), so it can be zipped and shared.
"""
from __future__ import annotations

import datetime as _dt
import shutil
from pathlib import Path

from bench.report.aggregate import build_groups
from bench.report.collect import find_runs, long_table
from bench.report.export import write_exports
from bench.report.media import MediaStore
from bench.report.pages import (CLIPS_PER_CLASS, baseline_context, leaderboard_context, legend,
                                metric_anchor, page_stem)
from bench.report.render import copy_static, render

MARKER = ".drumbench-report"
_GENERATED_DIRS = ("baselines", "figures", "exports", "assets")


def _prepare(out_dir: Path) -> None:
    """Refuse to write into a folder that has other things in it; clear our previous pages."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
        raise FileExistsError(f"output folder {out_dir} is not empty and was not made by "
                              f"drumbench report; choose an empty or new folder")
    (out_dir / MARKER).write_text("made by drumbench report; safe to delete with the folder\n")
    for name in _GENERATED_DIRS:
        shutil.rmtree(out_dir / name, ignore_errors=True)
    for sub in _GENERATED_DIRS:
        (out_dir / sub).mkdir(parents=True, exist_ok=True)


def build_report(runs_dir: Path, out_dir: Path, *, title: str | None = None) -> Path:
    """Build the site for every run under ``runs_dir`` into ``out_dir``; returns index.html."""
    from bench.report import figures as figs    # matplotlib/seaborn load only when building

    runs_dir, out_dir = Path(runs_dir), Path(out_dir)
    runs = find_runs(runs_dir)
    if not runs:
        raise FileNotFoundError(f"no runs under {runs_dir}: expected "
                                f"<protocol>@<ver>/<dataset>/<baseline>@<ver>/<signature>/seed<k>/run.json")
    _prepare(out_dir)
    title = title or "drumbench leaderboard"
    generated = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    long = long_table(runs)
    groups = build_groups(runs)
    palette = figs.baseline_palette(groups)     # one colour per baseline, every figure
    media = MediaStore(out_dir)
    fig_dir = out_dir / "figures"

    stems = {(gi, ri): page_stem(gi, g, r)
             for gi, g in enumerate(groups) for ri, r in enumerate(g.rows)}
    group_figs = {}
    for gi, g in enumerate(groups):
        made = figs.group_figures(g, fig_dir, f"g{gi:02d}", palette)
        group_figs[gi] = {
            "bars": [(c, media.rel(p)) for c, p in made["bars"]],
            "scatter": media.rel(made["scatter"]) if made["scatter"] else None,
            "heatmap": media.rel(made["heatmap"]) if made["heatmap"] else None,
        }

    anchors = {m["key"]: metric_anchor(m["key"]) for m in legend(groups)}
    common = {"title": title, "generated": generated}
    for gi, g in enumerate(groups):
        for ri, row in enumerate(g.rows):
            stem = stems[(gi, ri)]
            training = figs.training_curves(row, fig_dir / f"{stem}-training.png", palette)
            confusion = figs.confusion_matrix(row, g.classes, fig_dir / f"{stem}-confusion.png")
            ctx = baseline_context(g, row, media=media, runs_dir=runs_dir, figures={
                "training": media.rel(training) if training else None,
                "confusion": media.rel(confusion) if confusion else None,
            })
            render("baseline.html", out_dir / "baselines" / f"{stem}.html", root="../",
                   clips_per_class=CLIPS_PER_CLASS, **common, **ctx)

    write_exports(long, groups, out_dir / "exports")
    copy_static(out_dir)
    index = render("index.html", out_dir / "index.html", root="", n_runs=len(runs),
                   groups=leaderboard_context(groups, stems, group_figs, palette),
                   legend=legend(groups),
                   anchors=anchors, **common)
    media.prune()
    return index

"""The report's seaborn figures, rendered by matplotlib's Agg canvas.

Every figure is a fresh :class:`matplotlib.figure.Figure` (no pyplot, no GUI backend, nothing to
close; ``savefig`` to PNG renders with Agg), drawn inside an rc context so the report never
changes the process's matplotlib settings, and saved as a modest-DPI PNG. Labels are
user-provided strings, so mathtext is off: a baseline called ``$x$`` is printed as typed.

Colours: :func:`baseline_palette` gives each baseline one colour for the whole report (models
from a qualitative palette in name order, reference rows in greys), and every figure takes its
colours from it, so a baseline is the same colour in every chart (the best bar is marked by a
gold outline, never by a colour of its own). Each PNG records the colours its artists were drawn
with, and its x scale, in a ``drumbench`` text chunk (:data:`PNG_KEY`) that tests read back.

Distances (FAD, KAD, KID) span orders of magnitude between models and the noise floor, so their
bar charts use a log axis (symmetric-log when a value is ≤ 0, as KAD's unbiased estimate can be)
and draw the reference rows as labelled vertical lines rather than bars.
"""
from __future__ import annotations

import functools
import json
import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from cycler import cycler
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from bench.io_atomic import atomic_write_with, read_jsonl
from bench.report.aggregate import Column, Group, Row

P = ParamSpec("P")
R = TypeVar("R")

DPI = 80
BEST_COLOUR = "#111111"             # outlines and fronts: black, a colour no baseline has
#: The PNG text chunk where a figure records {"colours": {baseline: hex}, "xscale": ...}.
PNG_KEY = "drumbench"
#: Metric families whose values are distances (0 = identical sets; the noise row far above).
DISTANCE_PREFIXES = ("fad", "kad", "kid")
_REFERENCE_GREYS = ("#4d4d4d", "#9a9a9a", "#6e6e6e", "#b8b8b8")
_REFERENCE_STYLES = ("--", ":", "-.", (0, (5, 2, 1, 2)))

Palette = Mapping[str, str]


def baseline_palette(groups: list[Group]) -> dict[str, str]:
    """baseline name → colour, once per report: models get seaborn's colour-blind palette in
    sorted-name order (without its grey; husl hues beyond nine), reference rows greys. Keyed by
    the baseline's name, so its rows in every group and every figure share the colour."""
    models = sorted({r.key.baseline for g in groups for r in g.rows if not r.reference})
    refs = sorted({r.key.baseline for g in groups for r in g.rows if r.reference} - set(models))
    base = [c for i, c in enumerate(sns.color_palette("colorblind", 10)) if i != 7]  # 7: grey
    colours = base if len(models) <= len(base) else sns.color_palette("husl", len(models))
    palette = {name: to_hex(colours[i]) for i, name in enumerate(models)}
    palette.update({name: _REFERENCE_GREYS[i % len(_REFERENCE_GREYS)] for i, name in enumerate(refs)})
    return palette


def is_distance(col: Column) -> bool:
    return not col.higher_is_better and col.metric.startswith(DISTANCE_PREFIXES)


@functools.lru_cache(maxsize=1)
def _rc() -> dict[str, Any]:
    """The report's look: seaborn's whitegrid theme, mathtext off (labels are user strings)."""
    rc: dict[str, Any] = {}
    rc.update(sns.axes_style("whitegrid"))
    rc.update(sns.plotting_context("notebook", font_scale=0.9))
    rc.update({"axes.prop_cycle": cycler(color=sns.color_palette("deep")),
               "text.parse_math": False, "text.usetex": False})
    return rc


def styled(draw: Callable[P, R]) -> Callable[P, R]:
    """Run a figure function inside the report's rc context (global matplotlib state untouched)."""
    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context(_rc()):
            return draw(*args, **kwargs)
    return wrapper


def short(label: object, limit: int = 24) -> str:
    """A label short enough for an axis (the pages print the full string)."""
    text = " ".join(str(label).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unique_labels(labels: list[str], limit: int = 24) -> list[str]:
    """Shortened labels, numbered where shortening made two of them equal."""
    out = [short(x, limit) for x in labels]
    return [f"{x} #{out[:i].count(x) + 1}" if out.count(x) > 1 else x for i, x in enumerate(out)]


def _label_inches(labels: list[str]) -> float:
    """Rough width of the longest label at the report's tick font size."""
    return 0.075 * max((len(x) for x in labels), default=0)


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _distance_scale(ax: Any, axis: str, values: Any) -> str:
    """Put a distance axis on a log scale (symmetric-log when a value is ≤ 0); returns its name."""
    values = np.asarray(values, dtype=np.float64)
    set_scale = ax.set_xscale if axis == "x" else ax.set_yscale
    if np.all(values > 0):
        set_scale("log")
        name = "log scale"
    else:                               # an unbiased estimate can dip below zero
        positive = np.abs(values[values != 0])
        set_scale("symlog", linthresh=float(positive.min()) if positive.size else 1.0)
        name = "symmetric log scale"
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_minor_formatter(NullFormatter())  # minor log ticks overprint the major labels
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    return name


def _save(fig: Figure, png: Path, colours: dict[str, str] | None = None) -> Path:
    """Write ``fig`` as PNG with what it drew (baseline colours, axis scales) in :data:`PNG_KEY`."""
    ax = fig.axes[0] if fig.axes else None
    info = {"colours": colours or {}, "xscale": ax.get_xscale() if ax is not None else None,
            "yscale": ax.get_yscale() if ax is not None else None}
    meta = {PNG_KEY: json.dumps(info, sort_keys=True)}
    atomic_write_with(png, lambda tmp: fig.savefig(tmp, dpi=DPI, format="png", metadata=meta))
    return png


def read_figure_info(png: Path) -> dict[str, Any]:
    """What :func:`_save` recorded in ``png`` (for tests and for checking a built report)."""
    from PIL import Image

    with Image.open(png) as img:
        raw = img.text.get(PNG_KEY)  # type: ignore[attr-defined]
    if raw is None:
        raise ValueError(f"{png}: no {PNG_KEY!r} text chunk (not drawn by bench.report.figures)")
    return json.loads(raw)


def _record(colours: dict[str, str], baseline: str, drawn: Any) -> None:
    """Note the colour an artist was actually drawn with; a second colour for one baseline
    within a figure is a bug, so it is refused here rather than saved."""
    hex_ = to_hex(drawn)
    if colours.setdefault(baseline, hex_) != hex_:
        raise AssertionError(f"baseline {baseline!r} drawn in {colours[baseline]} and {hex_}")


@styled
def bar_chart(group: Group, col: Column, png: Path, palette: Palette) -> Path | None:
    """Mean per row with its 95% CI as error bars and each seed as a dot, in the baseline's
    colour; the best model has a gold outline. Distances: log axis, reference rows as lines."""
    rows = [r for r in group.rows if r.cells[col.key].mean is not None]
    if not rows:
        return None
    distance = is_distance(col)
    lines = [r for r in rows if r.reference] if distance else []
    bars = [r for r in rows if r not in lines]
    if not bars:                        # only reference rows: draw them as bars after all
        bars, lines = lines, []
    sign = -1.0 if col.higher_is_better else 1.0
    bars.sort(key=lambda r: sign * r.cells[col.key].mean)
    labels = unique_labels([r.label for r in bars])
    means = np.array([r.cells[col.key].mean for r in bars])
    lo = np.array([r.cells[col.key].lo if r.cells[col.key].lo is not None else m
                   for r, m in zip(bars, means)])
    hi = np.array([r.cells[col.key].hi if r.cells[col.key].hi is not None else m
                   for r, m in zip(bars, means)])
    fig = _figure(3.8 + _label_inches(labels), 0.9 + 0.32 * len(bars) + (0.3 if lines else 0))
    ax = fig.add_subplot()
    y = np.arange(len(bars))
    drawn = ax.barh(y, means, height=0.7, color=[palette[r.key.baseline] for r in bars],
                    edgecolor=[BEST_COLOUR if r.cells[col.key].best else "none" for r in bars],
                    linewidth=[2.5 if r.cells[col.key].best else 0 for r in bars])
    colours: dict[str, str] = {}
    for r, patch in zip(bars, drawn.patches):
        _record(colours, r.key.baseline, patch.get_facecolor())
    ax.set_yticks(y, labels)
    ax.invert_yaxis()                   # best on top
    # a percentile bootstrap interval need not contain the point estimate (FAD's is biased
    # upward), so the whisker on that side is drawn at zero length rather than negative
    xerr = np.clip(np.vstack([means - lo, hi - means]), 0.0, None)
    ax.errorbar(means, y, xerr=xerr, fmt="none", ecolor="#222222", elinewidth=1, capsize=3)
    seeds = pd.DataFrame([(i, v) for i, r in enumerate(bars)
                          for v in r.cells[col.key].seed_values.values()], columns=["y", "v"])
    if len(seeds):
        ax.scatter(seeds["v"], seeds["y"], s=10, color="#111111", alpha=0.6, zorder=3)
    for k, r in enumerate(lines):
        line = ax.axvline(r.cells[col.key].mean, color=palette[r.key.baseline], lw=1.6,
                          ls=_REFERENCE_STYLES[k % len(_REFERENCE_STYLES)],
                          label=f"{short(r.label)} = {r.cells[col.key].mean:.3g}")
        _record(colours, r.key.baseline, line.get_color())
    scale = _distance_scale(ax, "x", np.concatenate(
        [means, lo, hi, [r.cells[col.key].mean for r in lines]])) if distance else ""
    if lines:
        ax.legend(fontsize=7, loc="best", title="reference", title_fontsize=7)
    ax.set_xlabel(f"{col.key}  {col.arrow} {col.direction}" + (f" ({scale})" if scale else ""))
    ax.set_ylabel("")
    ax.set_title(col.title or col.key, loc="left", fontsize=10)
    return _save(fig, png, colours)


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points not dominated when both coordinates are to be minimised."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any((x2 <= x and y2 <= y) and (x2 < x or y2 < y)
                        for j, (x2, y2) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return front


@styled
def quality_vs_latency(group: Group, quality: Column, latency: Column, png: Path,
                       palette: Palette) -> Path | None:
    """Scatter of a quality metric against latency (log x) with the Pareto front of models;
    each point in its baseline's colour, reference rows as squares."""
    rows = [r for r in group.rows if r.cells[quality.key].mean is not None
            and r.cells[latency.key].mean is not None and r.cells[latency.key].mean > 0]
    if len(rows) < 2:
        return None
    qsign = -1.0 if quality.higher_is_better else 1.0
    lsign = -1.0 if latency.higher_is_better else 1.0
    data = pd.DataFrame({
        "latency": [r.cells[latency.key].mean for r in rows],
        "quality": [r.cells[quality.key].mean for r in rows],
        "row": unique_labels([r.label for r in rows]),
        "kind": ["reference" if r.reference else "model" for r in rows],
        "baseline": [r.key.baseline for r in rows],
    })
    models = [i for i, r in enumerate(rows) if not r.reference]
    front = [models[k] for k in pareto_front(
        [(lsign * data.latency[i], qsign * data.quality[i]) for i in models])]
    fig = _figure(5.6, 4.0)
    ax = fig.add_subplot()
    colours: dict[str, str] = {}
    for _, p in data.iterrows():
        dot = ax.scatter([p.latency], [p.quality], s=60, color=palette[p.baseline],
                         marker="s" if p.kind == "reference" else "o", zorder=3,
                         edgecolors="white", linewidths=0.5)
        _record(colours, p.baseline, dot.get_facecolor()[0])
    if front:
        f = data.iloc[front].sort_values("latency")
        ax.step(f.latency, f.quality, where="post", color=BEST_COLOUR, lw=1.5, label="Pareto front")
        ax.scatter(f.latency, f.quality, s=160, facecolors="none", edgecolors=BEST_COLOUR, lw=1.5)
    for _, p in data.iterrows():
        ax.annotate(p.row, (p.latency, p.quality), textcoords="offset points", xytext=(5, 4),
                    fontsize=8)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # minor log ticks overprint the major labels
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(f"{latency.key} {latency.arrow} (log scale)")
    yscale = _distance_scale(ax, "y", data.quality) if is_distance(quality) else ""
    ax.set_ylabel(f"{quality.key} {quality.arrow}" + (f" ({yscale})" if yscale else ""))
    ax.set_title(short(f"Quality vs. latency ({group.key.label})", 60), loc="left", fontsize=10)
    if front:
        ax.legend(fontsize=8)
    return _save(fig, png, colours)


def _per_class(row: Row, metric: str) -> dict[str, float]:
    acc: dict[str, list[float]] = defaultdict(list)
    for run in row.runs:
        rec = run.metrics.get(metric)
        if rec is None or rec.status != "ok":
            continue
        for cls, v in (rec.details or {}).get("per_class", {}).items():
            if isinstance(v, (int, float)) and math.isfinite(v):
                acc[str(cls)].append(float(v))
    return {c: float(np.mean(v)) for c, v in acc.items()}


@styled
def class_accuracy_heatmap(group: Group, png: Path, metric: str = "class_accuracy") -> Path | None:
    """Rows × classes: the mean over seeds of the per-class accuracy."""
    table = dict(zip(unique_labels([r.label for r in group.rows]),
                     (_per_class(r, metric) for r in group.rows)))
    table = {k: v for k, v in table.items() if v}
    if not table:
        return None
    classes = [c for c in group.classes if any(c in v for v in table.values())]
    classes += sorted({c for v in table.values() for c in v} - set(classes))
    df = pd.DataFrame([[table[r].get(c, np.nan) for c in classes] for r in table],
                      index=list(table), columns=unique_labels(classes, 16))
    fig = _figure(1.8 + _label_inches(list(table)) + 0.75 * len(classes),
                  1.6 + 0.34 * len(df) + 0.5 * _label_inches(list(df.columns)))
    ax = fig.add_subplot()
    sns.heatmap(df, annot=True, fmt=".2f", vmin=0, vmax=1, cmap="viridis", ax=ax,
                cbar_kws={"label": "accuracy"}, annot_kws={"fontsize": 8})
    ax.set_title(short(f"Per-class accuracy ({group.key.label})", 60), loc="left", fontsize=10)
    ax.set_xlabel("class")
    ax.tick_params(axis="x", labelrotation=30 if _label_inches(list(df.columns)) > 0.6 else 0)
    ax.set_ylabel("")
    return _save(fig, png)


@styled
def confusion_matrix(row: Row, classes: list[str], png: Path,
                     metric: str = "class_accuracy") -> Path | None:
    """Mean over seeds of the row-normalised confusion matrix (requested × predicted)."""
    mats = []
    for run in row.runs:
        rec = run.metrics.get(metric)
        if rec is None or rec.status != "ok":
            continue
        conf = (rec.details or {}).get("confusion")
        if conf is None:
            continue
        m = np.asarray(conf, dtype=np.float64)
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValueError(f"{run.run_dir}/metrics/{metric}.json: 'confusion' must be a "
                             f"square matrix, got shape {m.shape}")
        totals = m.sum(axis=1, keepdims=True)
        mats.append(np.divide(m, totals, out=np.zeros_like(m), where=totals > 0))
    if not mats or len({m.shape for m in mats}) != 1:
        return None
    mean = np.mean(mats, axis=0)
    names = row.runs[0].classes if len(row.runs[0].classes) == len(mean) else classes
    if len(names) != len(mean):
        names = [str(i) for i in range(len(mean))]
    names = unique_labels(names, 16)
    k = len(names)
    extra = _label_inches(names)
    fig = _figure(2.2 + extra + 0.7 * k, 1.6 + 0.5 * extra + 0.55 * k)
    ax = fig.add_subplot()
    sns.heatmap(pd.DataFrame(mean, index=names, columns=names), annot=k <= 12, fmt=".2f",
                vmin=0, vmax=1, cmap="Blues", ax=ax, cbar=True, annot_kws={"fontsize": 8})
    ax.set_xlabel("predicted")
    ax.set_ylabel("requested")
    ax.tick_params(axis="x", labelrotation=30 if extra > 0.6 else 0)
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_title(f"Confusion ({len(mats)} seed{'s' if len(mats) > 1 else ''})", loc="left",
                 fontsize=10)
    return _save(fig, png)


def _events(row: Row, max_points: int = 400) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, valid = [], []
    for run in row.runs:
        path = run.run_dir / "events.jsonl"
        if not path.exists():
            continue
        try:
            events = read_jsonl(path)
        except ValueError as exc:
            raise ValueError(f"{path}: not valid JSON lines ({exc})") from exc
        t_rows = [e for e in events if e.get("kind") == "train"]
        stride = max(1, len(t_rows) // max_points)
        for e in t_rows[::stride]:
            for k, v in e.items():
                if k not in ("kind", "step", "t") and isinstance(v, (int, float)) \
                        and not isinstance(v, bool) and math.isfinite(v):
                    train.append({"seed": f"seed {run.seed}", "step": e.get("step"),
                                  "loss": k, "value": float(v)})
        for e in events:
            if e.get("kind") == "valid" and isinstance(e.get("value"), (int, float)):
                valid.append({"seed": f"seed {run.seed}", "step": e.get("step"),
                              "value": float(e["value"]), "best": bool(e.get("best"))})
    return pd.DataFrame(train), pd.DataFrame(valid)


@styled
def training_curves(row: Row, png: Path, palette: Palette, max_losses: int = 5) -> Path | None:
    """One small panel per training loss (a line per seed) and one for the validation loop.

    Every line is in the baseline's colour, seeds told apart by line style. Lines are drawn with
    plain ``Axes.plot``: seaborn's lineplot costs a quarter second per panel here, and a report
    has one such figure per baseline."""
    train, valid = _events(row)
    losses = list(dict.fromkeys(train["loss"]))[:max_losses] if len(train) else []
    panels = len(losses) + (1 if len(valid) else 0)
    if panels == 0:
        return None
    fig = Figure(figsize=(min(3.0 * panels, 15), 2.6))
    fig.subplots_adjust(left=0.35 / panels, right=0.99, bottom=0.18, top=0.88, wspace=0.28)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    seeds = sorted(set(train["seed"]) | set(valid["seed"] if len(valid) else []))
    colour = palette[row.key.baseline]
    style = {seed: ("-", "--", ":", "-.")[i % 4] for i, seed in enumerate(seeds)}
    colours: dict[str, str] = {}
    for ax, loss in zip(axes, losses):
        d = train[train["loss"] == loss]
        for seed, ds in d.groupby("seed", sort=True):
            (line,) = ax.plot(ds["step"], ds["value"], lw=1, color=colour, ls=style[seed], label=seed)
            _record(colours, row.key.baseline, line.get_color())
        ax.set_title(short(loss, 30), fontsize=10)
        ax.set_xlabel("step")
        ax.locator_params(nbins=5)
    if len(valid):
        ax = axes[-1]
        for seed, ds in valid.groupby("seed", sort=True):
            (line,) = ax.plot(ds["step"], ds["value"], lw=1, marker="o", ms=3, color=colour,
                              ls=style[seed], label=seed)
            _record(colours, row.key.baseline, line.get_color())
        best = valid[valid["best"]]
        if len(best):
            ax.scatter(best["step"], best["value"], s=50, facecolors="none",
                       edgecolors=BEST_COLOUR, lw=1.5, zorder=3)
        ax.set_title("validation (○ = new best)", fontsize=10)
        ax.set_xlabel("step")
        ax.locator_params(nbins=5)
    axes[0].legend(fontsize=7, loc="upper right")
    return _save(fig, png, colours)


def group_figures(group: Group, out_dir: Path, stem: str, palette: Palette) -> dict[str, Any]:
    """All figures of one group: {"bars": [(column, path)], "scatter": path, "heatmap": path}."""
    out_dir = Path(out_dir)
    bars = []
    for i, col in enumerate(group.columns):
        p = bar_chart(group, col, out_dir / f"{stem}-bar{i:02d}.png", palette)
        if p is not None:
            bars.append((col, p))
    latency = next((c for c in group.columns if c.metric.startswith("latency")), None)
    quality = next((c for c in group.columns if c is not latency
                    and any(r.cells[c.key].mean is not None for r in group.rows)), None)
    scatter = None
    if latency is not None and quality is not None:
        scatter = quality_vs_latency(group, quality, latency, out_dir / f"{stem}-pareto.png",
                                     palette)
    heatmap = None
    if any(c.metric == "class_accuracy" for c in group.columns):
        heatmap = class_accuracy_heatmap(group, out_dir / f"{stem}-class-accuracy.png")
    return {"bars": bars, "scatter": scatter, "heatmap": heatmap}

"""Seeds → one leaderboard cell: mean, 95% CI, the number of seeds, best and rank per column.

The CI over seeds is a Student-t interval (mean ± t₀.₉₇₅,ₙ₋₁ · s/√n). With a single seed there is
no spread to measure, so the metric's own ``ci95`` (e.g. a bootstrap over clips) is used when
the file has one. Reference rows (``real``, ``noise``) are shown but never ranked or marked best:
they are the floor and the ceiling, not competitors. Groups are never mixed.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from bench.report.collect import CollectedRun, GroupKey, RowKey, long_table

#: Where known metric families go in the column order (unknown metrics come after, by name):
#: the embedding distances, then the reference classifier's metrics together, then the rest.
_METRIC_ORDER = ("fad", "kad", "class_accuracy", "inception_score", "kid", "class_kl",
                 "precision", "recall", "density", "coverage", "recon", "ppl", "memor", "latency")


def metric_sort_key(name: str) -> tuple[int, str]:
    for i, prefix in enumerate(_METRIC_ORDER):
        if name.startswith(prefix):
            return (i, name)
    return (len(_METRIC_ORDER), name)


def t_interval(values: np.ndarray) -> tuple[float, float]:
    """Two-sided 95% Student-t interval of the mean of ``values`` (needs ≥ 2 values)."""
    n = len(values)
    mean = float(np.mean(values))
    half = float(stats.t.ppf(0.975, n - 1) * np.std(values, ddof=1) / math.sqrt(n))
    return mean - half, mean + half


@dataclass
class Column:
    """One metric column of a group's table."""

    key: str                       # the metric name, or name@version when versions differ
    metric: str
    version: str
    higher_is_better: bool
    title: str = ""
    definition: str = ""

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"


@dataclass
class Cell:
    status: str                    # ok | failed | skipped | missing
    mean: float | None = None
    lo: float | None = None
    hi: float | None = None
    n: int = 0                     # seeds that contributed a value
    n_runs: int = 0                # seeds of this row
    seed_values: dict[int, float] = field(default_factory=dict)
    reason: str = ""               # why failed/skipped, or which seeds are missing
    ci_source: str = ""            # "t over seeds" | "metric's own" | ""
    best: bool = False
    rank: int | None = None


@dataclass
class Row:
    key: RowKey
    label: str                     # what the table shows (short signature when ambiguous)
    reference: bool
    runs: list[CollectedRun]
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def seeds(self) -> list[int]:
        return sorted({r.seed for r in self.runs})

    @property
    def ok_seeds(self) -> list[int]:
        return sorted({r.seed for r in self.runs if r.status == "ok"})

    @property
    def meta(self) -> dict[str, Any]:
        return self.runs[0].baseline


@dataclass
class Group:
    key: GroupKey
    columns: list[Column]
    rows: list[Row]
    classes: list[str]
    running: list[CollectedRun] = field(default_factory=list)   # incomplete runs, not scored

    @property
    def reference_rows(self) -> list[Row]:
        return [r for r in self.rows if r.reference]


def _columns(runs: list[CollectedRun]) -> list[Column]:
    versions: dict[str, set[str]] = defaultdict(set)
    first: dict[tuple[str, str], Any] = {}
    for run in runs:
        for name, rec in run.metrics.items():
            versions[name].add(str(rec.version))
            first.setdefault((name, str(rec.version)), rec)
    cols = []
    for (name, ver), rec in first.items():
        key = name if len(versions[name]) == 1 else f"{name}@{ver}"
        cols.append(Column(key, name, ver, bool(rec.higher_is_better),
                           rec.title or "", rec.definition or ""))
    return sorted(cols, key=lambda c: (metric_sort_key(c.metric), c.version))


def _join_reasons(parts: list[tuple[int, str]]) -> str:
    texts = {t for _, t in parts}
    if len(texts) == 1:
        seeds = ", ".join(str(s) for s, _ in parts)
        return f"{texts.pop()} (seed {seeds})"
    return "; ".join(f"seed {s}: {t}" for s, t in parts)


def _run_failure(run: CollectedRun) -> str:
    err = run.error or {}
    stage = err.get("stage") or "run"
    msg = err.get("message") or f"run status {run.status}"
    return f"{stage} failed: {msg}"


def _cell(col: Column, runs: list[CollectedRun]) -> Cell:
    values: dict[int, float] = {}
    own_ci: list[float] | None = None
    failed: list[tuple[int, str]] = []
    skipped: list[tuple[int, str]] = []
    for run in runs:
        rec = run.metrics.get(col.metric)
        if rec is None or str(rec.version) != col.version:
            if run.status == "failed":
                failed.append((run.seed, _run_failure(run)))
            else:
                failed.append((run.seed, "not recorded"))
            continue
        if rec.status == "ok":
            try:
                v = float(rec.value) if rec.value is not None else math.nan
            except (TypeError, ValueError):
                v = math.nan
            if math.isfinite(v):
                values[run.seed] = v
                own_ci = rec.ci95 if isinstance(rec.ci95, (list, tuple)) and len(rec.ci95) == 2 else None
            else:
                failed.append((run.seed, f"non-finite value {rec.value!r}"))
        elif rec.status == "skipped":
            skipped.append((run.seed, f"skipped: {rec.reason or 'no reason given'}"))
        else:
            failed.append((run.seed, f"failed: {rec.reason or 'no reason given'}"))
    cell = Cell(status="ok", n=len(values), n_runs=len(runs), seed_values=values)
    if values:
        arr = np.array([values[s] for s in sorted(values)], dtype=np.float64)
        cell.mean = float(arr.mean())
        if len(arr) >= 2:
            cell.lo, cell.hi = t_interval(arr)
            cell.ci_source = f"95% t-interval over {len(arr)} seeds"
        elif own_ci is not None and all(isinstance(x, (int, float)) for x in own_ci):
            cell.lo, cell.hi = float(own_ci[0]), float(own_ci[1])
            cell.ci_source = "the metric's own 95% CI (1 seed)"
        missing = failed + skipped
        if missing:
            cell.reason = "missing seeds — " + _join_reasons(sorted(missing))
        return cell
    if failed and all(t == "not recorded" for _, t in failed) and not skipped:
        cell.status = "missing"
        cell.reason = _join_reasons(failed)
    elif skipped and not [f for f in failed if f[1] != "not recorded"]:
        cell.status = "skipped"
        cell.reason = _join_reasons(skipped)
    else:
        cell.status = "failed"
        cell.reason = _join_reasons(sorted(failed + skipped))
    return cell


def _mark_best(rows: list[Row], columns: list[Column]) -> None:
    for col in columns:
        scored = [(r.cells[col.key].mean, r) for r in rows
                  if not r.reference and r.cells[col.key].mean is not None]
        if not scored:
            continue
        sign = -1.0 if col.higher_is_better else 1.0
        ordered = sorted({sign * m for m, _ in scored})
        for m, r in scored:
            cell = r.cells[col.key]
            cell.rank = ordered.index(sign * m) + 1
            cell.best = cell.rank == 1


def _label_rows(rows: list[Row]) -> None:
    by_name: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for r in rows:
        by_name[r.key.baseline].add((r.key.baseline_version, r.key.signature))
    for r in rows:
        variants = by_name[r.key.baseline]
        label = r.key.baseline
        if len({v for v, _ in variants}) > 1:
            label += f"@{r.key.baseline_version}"
        if len(variants) > len({v for v, _ in variants}):
            label += f" · {r.key.signature[:7]}"
        r.label = label


def default_order(rows: list[Row], columns: list[Column]) -> list[Row]:
    """Best first on the first metric column; rows without a value go last."""
    if not columns:
        return sorted(rows, key=lambda r: (r.reference, r.label))
    col = columns[0]
    sign = -1.0 if col.higher_is_better else 1.0

    def key(r: Row) -> tuple[int, float, str]:
        m = r.cells[col.key].mean
        return (m is None, sign * m if m is not None else 0.0, r.label)

    return sorted(rows, key=key)


def build_groups(runs: list[CollectedRun]) -> list[Group]:
    """Group runs by (dataset, manifest hash, protocol@version); one row per baseline
    name+version+signature, aggregated over seeds. Runs still ``running`` are listed apart."""
    by_group: dict[GroupKey, list[CollectedRun]] = defaultdict(list)
    for run in runs:
        by_group[run.group].append(run)
    groups = []
    for gkey in sorted(by_group, key=lambda g: (g.dataset, g.protocol, g.protocol_version,
                                                g.manifest_hash)):
        gruns = by_group[gkey]
        done = [r for r in gruns if r.status != "running"]
        running = [r for r in gruns if r.status == "running"]
        columns = _columns(done)
        by_row: dict[RowKey, list[CollectedRun]] = defaultdict(list)
        for run in done:
            by_row[run.row].append(run)
        rows = []
        for rkey, rruns in by_row.items():
            rruns = sorted(rruns, key=lambda r: r.seed)
            row = Row(key=rkey, label=rkey.baseline, runs=rruns,
                      reference=any(r.reference for r in rruns))
            row.cells = {c.key: _cell(c, rruns) for c in columns}
            rows.append(row)
        _label_rows(rows)
        _mark_best(rows, columns)
        classes: list[str] = []
        for run in gruns:
            for c in run.classes:
                if c not in classes:
                    classes.append(c)
        groups.append(Group(gkey, columns, default_order(rows, columns), classes, running))
    return groups


def summary_table(groups: list[Group]) -> pd.DataFrame:
    """One row per (group, leaderboard row, metric column): the numbers the exports print."""
    out = []
    for g in groups:
        for r in g.rows:
            for c in g.columns:
                cell = r.cells[c.key]
                out.append({
                    "dataset": g.key.dataset, "manifest_hash": g.key.manifest_hash,
                    "protocol": g.key.protocol, "protocol_version": g.key.protocol_version,
                    "baseline": r.key.baseline, "baseline_version": r.key.baseline_version,
                    "signature": r.key.signature, "row": r.label, "reference": r.reference,
                    "metric": c.key, "higher_is_better": c.higher_is_better,
                    "status": cell.status, "mean": cell.mean, "ci_lo": cell.lo, "ci_hi": cell.hi,
                    "n_seeds": cell.n, "rank": cell.rank, "best": cell.best, "reason": cell.reason,
                })
    return pd.DataFrame(out)


def aggregate(runs: list[CollectedRun]) -> tuple[pd.DataFrame, list[Group]]:
    """Convenience: the long table and the groups, from parsed runs."""
    return long_table(runs), build_groups(runs)

"""Run files → Python records and a pandas long table.

The report reads nothing but the files under ``runs_dir`` (see :mod:`bench.api.results`). This
module finds every ``run.json``, reads it as a :class:`~bench.api.results.RunRecord` (which checks
it against the schema and names the file and key when it does not fit), reads the metric
records beside it, and flattens them into one long table (one row per run × metric) that the
aggregation, the figures and the exports share.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.api.results import (METRICS_DIR, RUN_FILE, SAMPLES_DIR, MetricRecord, RunBaseline,
                               RunDataset, RunFileError, RunRecord)

__all__ = ["CollectedRun", "GroupKey", "LONG_COLUMNS", "RowKey", "RunFileError", "find_runs",
           "finite", "long_table", "read_run"]

#: Columns of the long table, in order.
LONG_COLUMNS = [
    "group", "dataset", "manifest_hash", "protocol", "protocol_version",
    "row", "baseline", "baseline_version", "signature", "reference",
    "seed", "run_status", "metric", "metric_version", "higher_is_better", "status",
    "value", "ci_lo", "ci_hi", "n", "reason", "embedder", "seconds", "run_dir",
]


@dataclass(frozen=True)
class GroupKey:
    """What makes numbers comparable: the dataset (name + manifest hash) and the protocol."""

    dataset: str
    manifest_hash: str
    protocol: str
    protocol_version: str

    @property
    def id(self) -> str:
        return f"{self.dataset}|{self.manifest_hash}|{self.protocol}@{self.protocol_version}"

    @property
    def label(self) -> str:
        return f"{self.dataset} · {self.protocol}@{self.protocol_version}"


@dataclass(frozen=True)
class RowKey:
    """One leaderboard row: a baseline at one version and one config signature."""

    baseline: str
    baseline_version: str
    signature: str

    @property
    def id(self) -> str:
        return f"{self.baseline}@{self.baseline_version}#{self.signature}"


@dataclass
class CollectedRun:
    """One ``seed<k>`` folder as the report reads it: its record and its metric records."""

    run_dir: Path
    record: RunRecord
    metrics: dict[str, MetricRecord] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def seed(self) -> int:
        return self.record.seed

    @property
    def baseline(self) -> RunBaseline:
        return self.record.baseline

    @property
    def reference(self) -> bool:
        return self.baseline.reference

    @property
    def dataset(self) -> RunDataset:
        return self.record.dataset

    @property
    def protocol(self) -> dict[str, Any]:
        return self.record.protocol

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.dataset.classes]

    @property
    def group(self) -> GroupKey:
        return GroupKey(str(self.dataset.name), str(self.dataset.manifest_hash),
                        str(self.protocol["name"]), str(self.protocol["version"]))

    @property
    def row(self) -> RowKey:
        return RowKey(str(self.baseline.name), str(self.baseline.version),
                      str(self.record.signature))

    @property
    def samples_dir(self) -> Path:
        return self.run_dir / SAMPLES_DIR

    @property
    def error(self) -> dict[str, Any] | None:
        return self.record.error or None


def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise RunFileError(f"{path}: not valid JSON ({exc})") from exc


def _read_metrics(run_dir: Path) -> dict[str, MetricRecord]:
    out: dict[str, MetricRecord] = {}
    mdir = run_dir / METRICS_DIR
    if not mdir.is_dir():
        return out
    for path in sorted(mdir.glob("*.json")):
        if path.name.startswith("."):           # a writer's temp file (bench.io_atomic)
            continue
        row = _load_json(path)
        if not isinstance(row, dict) or "metric" not in row or "status" not in row:
            raise RunFileError(f"{path}: not a metric record (needs 'metric' and 'status')")
        try:
            rec = MetricRecord.from_json(row)
        except TypeError as exc:
            raise RunFileError(f"{path}: not a metric record ({exc})") from exc
        if rec.status not in ("ok", "skipped", "failed"):
            raise RunFileError(f"{path}: unknown metric status {rec.status!r}")
        out[rec.metric] = rec
    return out


def read_run(run_dir: Path) -> CollectedRun:
    """Parse one run folder (``run.json`` + ``metrics/*.json``)."""
    record = RunRecord.read(Path(run_dir) / RUN_FILE)
    return CollectedRun(run_dir=Path(run_dir), record=record, metrics=_read_metrics(Path(run_dir)))


def find_runs(runs_dir: Path) -> list[CollectedRun]:
    """Every run under ``runs_dir``, in a stable order (path order)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise FileNotFoundError(f"runs folder {runs_dir} does not exist")
    paths = sorted(p.parent for p in runs_dir.rglob(RUN_FILE) if not p.name.startswith("."))
    return [read_run(p) for p in paths]


def finite(value: Any) -> float | None:
    """``value`` as a float when it is a finite number, else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def long_table(runs: list[CollectedRun]) -> pd.DataFrame:
    """One row per (run, metric). A run without any metric record still gets one row with
    ``metric`` = None so that failed runs stay visible."""
    rows: list[dict[str, Any]] = []
    for run in runs:
        g, r = run.group, run.row
        base = {
            "group": g.id, "dataset": g.dataset, "manifest_hash": g.manifest_hash,
            "protocol": g.protocol, "protocol_version": g.protocol_version,
            "row": r.id, "baseline": r.baseline, "baseline_version": r.baseline_version,
            "signature": r.signature, "reference": run.reference, "seed": run.seed,
            "run_status": run.status, "run_dir": str(run.run_dir),
        }
        if not run.metrics:
            rows.append({**base, "metric": None, "status": None})
        for name, m in run.metrics.items():
            ci = m.ci95 if isinstance(m.ci95, (list, tuple)) and len(m.ci95) == 2 else None
            rows.append({
                **base, "metric": name, "metric_version": str(m.version),
                "higher_is_better": bool(m.higher_is_better), "status": m.status,
                "value": finite(m.value), "ci_lo": finite(ci[0]) if ci else None,
                "ci_hi": finite(ci[1]) if ci else None, "n": m.n, "reason": m.reason,
                "embedder": m.embedder, "seconds": finite(m.seconds),
            })
    df = pd.DataFrame(rows, columns=LONG_COLUMNS)
    for col in ("value", "ci_lo", "ci_hi", "seconds"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df

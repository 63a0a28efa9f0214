"""The result files: the only source of truth the report reads.

Layout (one folder per run)::

    <runs_dir>/<protocol>@<pver>/<dataset>/<baseline>@<bver>/<signature>/seed<k>/
        run.json              RunRecord (status, config, provenance, timings)
        metrics/<name>.json   MetricRecord, one per metric (ok | skipped | failed)
        samples/<class>/*.wav + samples/manifest.jsonl
        checkpoints/{last,best}.pt    events.jsonl (training/validation log)

Every file is written atomically (:mod:`bench.io_atomic`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.io_atomic import atomic_write_json

SCHEMA_VERSION = 1
RUN_FILE = "run.json"
METRICS_DIR = "metrics"
SAMPLES_DIR = "samples"


@dataclass
class MetricRecord:
    metric: str
    version: str
    higher_is_better: bool
    status: str                          # ok | skipped | failed
    value: float | None = None
    ci95: list[float] | None = None
    n: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    embedder: str | None = None
    reference_hash: str | None = None
    seconds: float = 0.0
    reason: str | None = None            # why skipped / the error when failed
    title: str = ""
    definition: str = ""
    schema: int = SCHEMA_VERSION

    def write(self, run_dir: Path) -> Path:
        return atomic_write_json(Path(run_dir) / METRICS_DIR / f"{self.metric}.json", asdict(self))

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> "MetricRecord":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in row.items() if k in known})


def run_dir_for(runs_dir: Path, *, protocol: str, protocol_version: str, dataset: str,
                baseline: str, baseline_version: str, signature: str, seed: int) -> Path:
    return (Path(runs_dir) / safe_part(f"{protocol}@{protocol_version}") / safe_part(dataset)
            / safe_part(f"{baseline}@{baseline_version}") / signature / f"seed{seed}")


def safe_part(name: str) -> str:
    """A name usable as one path component (the report reads the real names from run.json)."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_.@+" else "_" for ch in str(name))
    return cleaned.strip(".") or "_"

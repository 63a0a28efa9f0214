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

import json
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from bench.io_atomic import atomic_write_json

SCHEMA_VERSION = 1
RUN_FILE = "run.json"
METRICS_DIR = "metrics"
SAMPLES_DIR = "samples"
RUN_STATUSES = ("running", "ok", "failed")


class RunFileError(ValueError):
    """A result file that cannot be read; the message names the file and the bad key."""


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


@dataclass
class RunBaseline:
    """The baseline's :class:`~bench.api.baseline.BaselineMeta` as recorded in ``run.json``."""

    name: str
    version: str
    capabilities: list[str] = field(default_factory=list)
    citation: str = ""
    description: str = ""
    reference: bool = False              # a floor/ceiling row: shown, never ranked
    variant_of: str | None = None        # an opt-in variant of this family (not a default row)
    devices: list[str] = field(default_factory=list)   # what a variant adds to its family

    @classmethod
    def from_meta(cls, meta: Any) -> "RunBaseline":
        return cls(name=meta.name, version=str(meta.version),
                   capabilities=sorted(meta.capabilities), citation=meta.citation,
                   description=meta.description, reference=bool(getattr(meta, "reference", False)),
                   variant_of=getattr(meta, "variant_of", None),
                   devices=list(getattr(meta, "devices", ())))


@dataclass
class RunDataset:
    """Which data the run saw: the name, the manifest hash (what groups rows), the classes."""

    name: str
    manifest_hash: str = ""
    classes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)   # clips per split


@dataclass
class RunRecord:
    """``run.json``: the one writer (runner, fake runs) and reader (report) of a run's record.

    ``from_json`` checks every key against these fields, so a file that drifted from the schema
    is an error naming the file and the key, never a half-read row on a leaderboard.
    """

    status: str                          # running | ok | failed
    signature: str                       # hash of the semantic config + manifest
    seed: int
    baseline: RunBaseline
    protocol: dict[str, Any]             # the resolved protocol (name, version, ...)
    dataset: RunDataset
    config: dict[str, Any] = field(default_factory=dict)        # the resolved Hydra config
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)   # fit/generate/score info
    error: dict[str, Any] | None = None  # {stage, message, traceback} when failed
    provenance: dict[str, Any] = field(default_factory=dict)   # git sha, packages, device, clocks
    real_samples: str | None = None      # folder of real listening clips for the report
    schema: int = SCHEMA_VERSION

    def complete(self, stages: tuple[str, ...]) -> bool:
        return self.status == "ok" and all(self.stages.get(s, {}).get("status") == "ok"
                                           for s in stages)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, run_dir: Path) -> Path:
        return atomic_write_json(Path(run_dir) / RUN_FILE, self.to_json())

    @classmethod
    def read(cls, path: Path) -> "RunRecord":
        """Read and check ``path`` (a ``run.json``); :class:`RunFileError` names what is wrong."""
        path = Path(path)
        try:
            row = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise RunFileError(f"{path}: not valid JSON ({exc})") from exc
        return cls.from_json(row, source=path)

    @classmethod
    def from_json(cls, row: Any, source: str | Path = RUN_FILE) -> "RunRecord":
        if not isinstance(row, dict):
            raise RunFileError(f"{source}: expected a JSON object, got {type(row).__name__}")
        schema = row.get("schema")
        if schema != SCHEMA_VERSION:
            raise RunFileError(f"{source}: run file schema {schema!r} is not supported "
                               f"(this drumbench reads schema {SCHEMA_VERSION})")
        record = _build(cls, row, source, "")
        if record.status not in RUN_STATUSES:
            raise RunFileError(f"{source}: 'status' is {record.status!r}; expected one of "
                               f"{', '.join(RUN_STATUSES)}")
        for key in ("name", "version"):
            if key not in record.protocol:
                raise RunFileError(f"{source}: missing key protocol.{key}")
        return record


def _build(cls: type, row: dict[str, Any], source: str | Path, prefix: str) -> Any:
    """``cls(**row)`` after checking each key against the dataclass's fields and their types."""
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(row) - set(known))
    if unknown:
        raise RunFileError(f"{source}: unknown key {prefix}{unknown[0]} (known: {', '.join(known)})")
    kwargs = {}
    for name, f in known.items():
        if name not in row:
            if f.default is MISSING and f.default_factory is MISSING:
                raise RunFileError(f"{source}: missing key {prefix + name!r}")
            continue
        kwargs[name] = _value(hints[name], row[name], source, prefix + name)
    return cls(**kwargs)


def _value(hint: Any, value: Any, source: str | Path, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        hint = next(o for o in options if o is not type(None))
        origin = typing.get_origin(hint)
    if is_dataclass(hint):
        if not isinstance(value, dict):
            raise RunFileError(f"{source}: {key!r} should be an object, got {type(value).__name__}")
        return _build(hint, value, source, f"{key}.")
    expected = origin or hint
    if expected is Any:
        return value
    ok = isinstance(value, expected) and not (expected in (int, float) and isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        raise RunFileError(f"{source}: {key!r} should be {expected.__name__}, "
                           f"got {type(value).__name__}")
    return value


def run_dir_for(runs_dir: Path, *, protocol: str, protocol_version: str, dataset: str,
                baseline: str, baseline_version: str, signature: str, seed: int) -> Path:
    return (Path(runs_dir) / safe_part(f"{protocol}@{protocol_version}") / safe_part(dataset)
            / safe_part(f"{baseline}@{baseline_version}") / signature / f"seed{seed}")


def safe_part(name: str) -> str:
    """A name usable as one path component (the report reads the real names from run.json)."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_.@+" else "_" for ch in str(name))
    return cleaned.strip(".") or "_"

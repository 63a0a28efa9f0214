"""One run: (protocol, dataset, baseline, seed) through fit → generate → score.

Each stage reads only the files of the one before (checkpoint → samples → metrics), so any stage
can be re-run alone (``stage=score``). ``run.json`` is rewritten atomically after every stage; a
run whose stages are all ``ok`` under the same signature is skipped.
"""
from __future__ import annotations

import hashlib
import json
import logging
import random
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from bench.api.baseline import Baseline, declared_vs_implemented
from bench.api.results import RUN_FILE, SCHEMA_VERSION, run_dir_for
from bench.data.build import listening_clips, load_datamodule
from bench.data.datamodule import DataModule
from bench.io_atomic import atomic_write_json
from bench.protocol import NON_SEMANTIC_KEYS
from bench.runner import stages
from bench.runner.provenance import now, provenance, resolve_device

log = logging.getLogger("drumbench")
STAGES = ("fit", "generate", "score")


class RunFailed(RuntimeError):
    """A stage raised; ``run.json`` holds status ``failed`` with the traceback."""

    def __init__(self, run_dir: Path, stage: str, message: str) -> None:
        super().__init__(f"{stage} failed for {run_dir}: {message}")
        self.run_dir, self.stage = run_dir, stage


def semantic_config(cfg: DictConfig) -> dict[str, Any]:
    plain = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(plain, dict)
    for key in NON_SEMANTIC_KEYS:
        plain.pop(key, None)
    plain.pop("hydra", None)
    return plain


def signature(cfg: DictConfig, manifest_hash: str) -> str:
    """Hash of everything that changes results: the config (minus paths, device, seed) + data."""
    blob = json.dumps({"config": semantic_config(cfg), "manifest": manifest_hash}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class RunPaths:
    run_dir: Path
    signature: str


def instantiate_baseline(cfg: DictConfig, data: DataModule) -> Baseline:
    baseline = instantiate(cfg.baseline, num_classes=data.num_classes,
                           sample_rate=data.sample_rate, clip_samples=data.clip_samples,
                           _convert_="all")
    if not isinstance(baseline, Baseline):
        raise TypeError(f"{cfg.baseline._target_} is not a bench.api.baseline.Baseline subclass")
    problems = declared_vs_implemented(baseline)
    if problems:
        raise TypeError("; ".join(problems))
    return baseline


def baseline_identity(cfg: DictConfig) -> tuple[str, str, Any]:
    cls = get_class(cfg.baseline._target_)
    meta = getattr(cls, "meta", None)
    if meta is None:
        raise TypeError(f"{cfg.baseline._target_} has no `meta` (BaselineMeta) class attribute")
    return meta.name, meta.version, cls


class Run:
    """The files of one run and the record in ``run.json``."""

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.data = load_datamodule(cfg.dataset, cfg.protocol, Path(cfg.data_dir))
        name, version, cls = baseline_identity(cfg)
        self.signature = signature(cfg, self.data.manifest_hash)
        self.dir = run_dir_for(Path(cfg.runs_dir), protocol=cfg.protocol.name,
                               protocol_version=str(cfg.protocol.version),
                               dataset=str(cfg.dataset.name), baseline=name,
                               baseline_version=version, signature=self.signature, seed=cfg.seed)
        self.record = self._load_or_new(cls)

    def _load_or_new(self, cls: type) -> dict[str, Any]:
        path = self.dir / RUN_FILE
        if path.exists():
            return json.loads(path.read_text())
        meta = cls.meta
        return {
            "schema": SCHEMA_VERSION, "status": "running", "signature": self.signature,
            "seed": int(self.cfg.seed),
            "baseline": {"name": meta.name, "version": meta.version,
                         "capabilities": sorted(meta.capabilities), "citation": meta.citation,
                         "description": meta.description,
                         "reference": bool(getattr(cls, "reference", False))},
            "protocol": OmegaConf.to_container(self.cfg.protocol, resolve=True),
            "dataset": {"name": str(self.cfg.dataset.name), "manifest_hash": self.data.manifest_hash,
                        "classes": self.data.classes,
                        "counts": {s: len(getattr(self.data, s)) for s in ("train", "valid", "test")}},
            "config": OmegaConf.to_container(self.cfg, resolve=True),
            "stages": {}, "error": None,
        }

    def complete(self) -> bool:
        return self.record.get("status") == "ok" and all(
            self.record["stages"].get(s, {}).get("status") == "ok" for s in STAGES)

    def save(self) -> None:
        atomic_write_json(self.dir / RUN_FILE, self.record)

    def execute(self, only: str = "all") -> dict[str, Any]:
        todo = STAGES if only == "all" else (only,)
        if only not in ("all", *STAGES):
            raise ValueError(f"stage must be one of all, {', '.join(STAGES)}; got {only!r}")
        if only == "all" and self.complete() and not self.cfg.force:
            log.info("complete, skipping: %s", self.dir)
            return self.record
        seed_everything(int(self.cfg.seed))
        self.record["status"] = "running"
        self.record["error"] = None
        self.record["provenance"] = provenance(self.device)
        self.record["real_samples"] = str(listening_clips(self.data, Path(self.cfg.data_dir)).resolve())
        self.save()
        for stage in todo:
            if only == "all" and self.record["stages"].get(stage, {}).get("status") == "ok" \
                    and not self.cfg.force:
                continue  # resume: this stage's files are already there
            self._stage(stage)
        self.record["status"] = "ok"
        self.record["provenance"]["finished"] = now()
        self.save()
        return self.record

    def _stage(self, stage: str) -> None:
        log.info("%s: %s", stage, self.dir)
        t0 = time.perf_counter()
        self.record["stages"][stage] = {"status": "running", "started": now()}
        self.save()
        try:
            if self.cfg.debug.fail_stage == stage:
                raise RuntimeError(f"debug.fail_stage={stage}: injected failure")
            fn = {"fit": stages.fit, "generate": stages.generate, "score": stages.score}[stage]
            info = fn(self) or {}
        except Exception as err:
            self.record["stages"][stage].update(status="failed", seconds=time.perf_counter() - t0)
            self.record["status"] = "failed"
            self.record["error"] = {"stage": stage, "message": f"{type(err).__name__}: {err}",
                                    "traceback": traceback.format_exc()}
            self.save()
            raise RunFailed(self.dir, stage, f"{type(err).__name__}: {err}") from err
        self.record["stages"][stage].update(status="ok", seconds=round(time.perf_counter() - t0, 3), **info)
        self.save()


def run_experiment(cfg: DictConfig) -> dict[str, Any]:
    """Run (or resume, or skip) one configuration; returns the run record."""
    run = Run(cfg)
    record = run.execute(str(cfg.stage))
    record["run_dir"] = str(run.dir)
    return record


def fit_summary_dict(summary: Any) -> dict[str, Any]:
    return asdict(summary) if summary is not None else {}

"""One run: (protocol, dataset, baseline, seed) through fit → generate → score.

Each stage reads only the files of the one before (checkpoint → samples → metrics), so any stage
can be re-run alone (``stage=score``). ``run.json`` is rewritten atomically after every stage; a
run whose stages are all ``ok`` under the same signature is skipped.
"""
from __future__ import annotations

import logging
import random
import shutil
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from bench.api.results import (METRICS_DIR, RUN_FILE, SAMPLES_DIR, RunBaseline, RunDataset, RunRecord,
                               run_dir_for)
from bench.data.build import listening_clips, load_datamodule
from bench.device import resolve_device
from bench.hashing import short_hash
from bench.protocol import NON_SEMANTIC_KEYS
from bench.runner import stages
from bench.runner.build_baseline import baseline_identity
from bench.runner.claims import claim
from bench.runner.provenance import now, provenance

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
    return short_hash({"config": semantic_config(cfg), "manifest": manifest_hash}, 12)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


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

    def _load_or_new(self, cls: type) -> RunRecord:
        path = self.dir / RUN_FILE
        if path.exists():
            return RunRecord.read(path)
        return RunRecord(
            status="running", signature=self.signature, seed=int(self.cfg.seed),
            baseline=RunBaseline.from_meta(cls.meta),
            protocol=OmegaConf.to_container(self.cfg.protocol, resolve=True),
            dataset=RunDataset(name=str(self.cfg.dataset.name), manifest_hash=self.data.manifest_hash,
                               classes=list(self.data.classes),
                               counts={s: len(getattr(self.data, s)) for s in ("train", "valid", "test")}),
            config=OmegaConf.to_container(self.cfg, resolve=True))

    def reload(self) -> None:
        """Read ``run.json`` again (another job may have advanced the run since ``__init__``)."""
        self.record = self._load_or_new(baseline_identity(self.cfg)[2])

    def complete(self) -> bool:
        return self.record.complete(STAGES)

    def save(self) -> None:
        self.record.write(self.dir)

    def execute(self, only: str = "all") -> RunRecord:
        todo = STAGES if only == "all" else (only,)
        if only not in ("all", *STAGES):
            raise ValueError(f"stage must be one of all, {', '.join(STAGES)}; got {only!r}")
        if only == "all" and self.complete() and not self.cfg.force:
            log.info("complete, skipping: %s", self.dir)
            return self.record
        if self.cfg.force and only in ("all", "fit"):
            self._discard_training()
        seed_everything(int(self.cfg.seed))
        self.record.status = "running"
        self.record.error = None
        self.record.provenance = provenance(self.device)
        self.record.real_samples = str(listening_clips(self.data, Path(self.cfg.data_dir)).resolve())
        self.save()
        for stage in todo:
            if only == "all" and self.record.stages.get(stage, {}).get("status") == "ok" \
                    and not self.cfg.force:
                continue  # resume: this stage's files are already there
            self._stage(stage)
        self.record.status = "ok"
        self.record.provenance["finished"] = now()
        self.save()
        return self.record

    def _discard_training(self) -> None:
        """``force=true`` means a fresh run: drop the checkpoints (else the fit would resume from
        ``last.pt`` with its spent budget and train nothing), the training log, the samples and
        the metric files of the previous attempt, and forget its stage records."""
        for name in ("checkpoints", SAMPLES_DIR, METRICS_DIR):
            shutil.rmtree(self.dir / name, ignore_errors=True)
        (self.dir / "events.jsonl").unlink(missing_ok=True)
        self.record.stages = {}

    def _stage(self, stage: str) -> None:
        log.info("%s: %s", stage, self.dir)
        t0 = time.perf_counter()
        self.record.stages[stage] = {"status": "running", "started": now()}
        self.save()
        try:
            if self.cfg.debug.fail_stage == stage:
                raise RuntimeError(f"debug.fail_stage={stage}: injected failure")
            fn = {"fit": stages.fit, "generate": stages.generate, "score": stages.score}[stage]
            info = fn(self) or {}
        except Exception as err:
            self.record.stages[stage].update(status="failed", seconds=time.perf_counter() - t0)
            self.record.status = "failed"
            self.record.error = {"stage": stage, "message": f"{type(err).__name__}: {err}",
                                    "traceback": traceback.format_exc()}
            self.save()
            raise RunFailed(self.dir, stage, f"{type(err).__name__}: {err}") from err
        self.record.stages[stage].update(status="ok", seconds=round(time.perf_counter() - t0, 3), **info)
        self.save()


def run_experiment(cfg: DictConfig) -> dict[str, Any]:
    """Run (or resume, or skip) one configuration; returns the run record as JSON + ``run_dir``."""
    run = Run(cfg)
    with claim(run.dir):  # one job per signature at a time (bench/runner/claims.py)
        run.reload()
        record = run.execute(str(cfg.stage))
    return {**record.to_json(), "run_dir": str(run.dir)}

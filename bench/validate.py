"""The conformance kit behind ``drumbench validate module:Class``.

Every built-in baseline passes it, and a plugin author runs it before opening a pull request:
declared capabilities match the methods, a few fit steps run under a budget, samples have the
right shape/dtype/range, a seed reproduces samples, and a checkpoint round-trip reproduces them.
"""
from __future__ import annotations

import argparse
import io
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from bench import registry
from bench.api.baseline import (Autoencoder, Baseline, BaselineMeta, Condition, FitSummary,
                                LatentGenerator, declared_vs_implemented)
from bench.api.fit import Budget, FitContext
from bench.data.datamodule import ClipSet, DataModule

KIT_RATE, KIT_SECONDS, KIT_PER_CLASS = 8000, 0.5, 6


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


def tiny_datamodule(seed: int = 0) -> DataModule:
    """Nine synthkit classes × a few clips at 8 kHz: enough to exercise a training loop."""
    from bench.data.drum_synth import CLASSES, generate

    clips, labels, ids = [], [], []
    for clip_id, cls, audio, _ in generate(seed, KIT_PER_CLASS, KIT_RATE, KIT_SECONDS):
        clips.append(audio)
        labels.append(CLASSES.index(cls))
        ids.append(clip_id)
    audio = torch.from_numpy(np.stack(clips)).unsqueeze(1)
    lab = torch.tensor(labels)
    idx = torch.arange(len(ids))
    parts = {"train": idx[idx % KIT_PER_CLASS < 4], "valid": idx[idx % KIT_PER_CLASS == 4],
             "test": idx[idx % KIT_PER_CLASS == 5]}
    whole = ClipSet(audio, lab, ids)
    return DataModule(classes=list(CLASSES), sample_rate=KIT_RATE, clip_samples=audio.shape[-1],
                      dataset_name="conformance-kit", manifest_hash="kit",
                      **{k: whole.subset(v) for k, v in parts.items()})


def _samples(b: Baseline, n: int, seed: int, labels: torch.Tensor | None) -> torch.Tensor:
    cond = Condition(labels=labels.to(b.device)) if labels is not None else None
    with torch.no_grad():
        return b.sample(n, condition=cond, generator=torch.Generator().manual_seed(seed)).cpu()


def run_conformance(cls: type, kwargs: dict[str, Any] | None = None, *, steps: int = 3,
                    device: str = "cpu") -> list[Check]:
    kwargs = dict(kwargs or {})
    kwargs.pop("_target_", None)
    checks: list[Check] = []

    def check(name: str, fn: Callable[[], str | None]) -> bool:
        try:
            detail = fn() or ""
            checks.append(Check(name, True, detail))
            return True
        except Exception as err:  # the kit reports every failure, it does not stop at the first
            checks.append(Check(name, False, f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"))
            return False

    def is_baseline() -> str:
        if not (isinstance(cls, type) and issubclass(cls, Baseline)):
            raise TypeError(f"{cls!r} does not subclass bench.api.baseline.Baseline")
        if not isinstance(getattr(cls, "meta", None), BaselineMeta):
            raise TypeError("class attribute `meta` must be a BaselineMeta")
        return f"{cls.meta.name}@{cls.meta.version} {sorted(cls.meta.capabilities)}"

    if not check("is a Baseline with BaselineMeta", is_baseline):
        return checks
    data = tiny_datamodule()
    n, labels = 4, torch.tensor([0, 1, 2, 0])
    conditional = "conditional" in cls.meta.capabilities
    state: dict[str, Any] = {}

    def build() -> Baseline:
        torch.manual_seed(0)
        return cls(num_classes=data.num_classes, sample_rate=data.sample_rate,
                   clip_samples=data.clip_samples, **kwargs).to(device)

    def construct() -> str:
        state["b"] = build()
        problems = declared_vs_implemented(state["b"])
        if problems:
            raise TypeError("; ".join(problems))
        return "capabilities match Autoencoder/LatentGenerator mixins"

    if not check("constructs; declared capabilities match methods", construct):
        return checks
    b: Baseline = state["b"]

    def fit() -> str:
        with tempfile.TemporaryDirectory() as tmp:
            from bench.runner.validation import validation_fn

            ctx = FitContext(budget=Budget(steps, 120.0, 4, 2), device=torch.device(device), seed=0,
                             run_dir=Path(tmp), baseline=b,
                             validate_fn=validation_fn(b, data, _KitProtocol(), torch.device(device)))
            try:
                summary = b.fit(data, ctx)
            finally:
                ctx.close()
            if not isinstance(summary, FitSummary):
                raise TypeError(f"fit returned {type(summary).__name__}, expected FitSummary")
            if summary.steps > steps:
                raise AssertionError(f"fit ran {summary.steps} steps with max_steps={steps}")
            return f"{summary.steps} steps, stopped: {summary.stopped_because}"

    if not check(f"fit honours a {steps}-step budget", fit):
        return checks
    b.eval()
    lab = labels if conditional else None

    def shape_range() -> str:
        x = _samples(b, n, 0, lab)
        if tuple(x.shape) != (n, 1, data.clip_samples):
            raise AssertionError(f"shape {tuple(x.shape)} ≠ {(n, 1, data.clip_samples)}")
        if x.dtype != torch.float32:
            raise AssertionError(f"dtype {x.dtype} ≠ float32")
        if not torch.isfinite(x).all():
            raise AssertionError("non-finite values")
        if x.abs().max() > 1.0 + 1e-6:
            raise AssertionError(f"peak {x.abs().max():.3f} outside [-1, 1]")
        return f"{tuple(x.shape)} float32, peak {float(x.abs().max()):.3f}"

    check("sample: shape, dtype, finite, range", shape_range)
    check("sample: same generator seed → same audio",
          lambda: _same(_samples(b, n, 1, lab), _samples(b, n, 1, lab), "two calls with seed 1"))
    check("sample: different seeds → different audio",
          lambda: _differ(_samples(b, n, 1, lab), _samples(b, n, 2, lab)))

    def round_trip() -> str:
        buf = io.BytesIO()
        torch.save(b.state_dict(), buf)
        buf.seek(0)
        other = build()
        other.load_state_dict(torch.load(buf, weights_only=False))
        other.eval()
        return _same(_samples(b, n, 3, lab), _samples(other, n, 3, lab), "after save/load")

    check("state_dict round-trip reproduces samples", round_trip)
    if isinstance(b, Autoencoder):
        def autoencode() -> str:
            cond = Condition(labels=labels.to(b.device))
            with torch.no_grad():
                z = b.encode(data.test.audio[:n].to(b.device), condition=cond)
                y = b.decode(z, condition=cond)
            if z.ndim != 2 or z.shape[0] != n:
                raise AssertionError(f"encode gave {tuple(z.shape)}, expected ({n}, latent_dim)")
            if tuple(y.shape) != (n, 1, data.clip_samples) or not torch.isfinite(y).all():
                raise AssertionError(f"decode gave {tuple(y.shape)} (finite: {bool(torch.isfinite(y).all())})")
            return f"z {tuple(z.shape)}"
        check("Autoencoder: encode/decode shapes", autoencode)
    if isinstance(b, LatentGenerator):
        def latent() -> str:
            cond = Condition(labels=labels.to(b.device)) if conditional else None
            with torch.no_grad():
                z = b.sample_latent(n, condition=cond, generator=torch.Generator().manual_seed(0))
                y = b.decode(z, condition=cond)
            if tuple(y.shape) != (n, 1, data.clip_samples):
                raise AssertionError(f"decode gave {tuple(y.shape)}")
            return f"z {tuple(z.shape)}"
        check("LatentGenerator: sample_latent/decode", latent)
    return checks


class _KitProtocol:
    validation_embedder = "mel"


def _same(a: torch.Tensor, b: torch.Tensor, what: str) -> str:
    if not torch.equal(a, b):
        raise AssertionError(f"{what}: max difference {float((a - b).abs().max()):.3g}")
    return "identical"


def _differ(a: torch.Tensor, b: torch.Tensor) -> str:
    if torch.equal(a, b):
        raise AssertionError("different seeds gave identical audio")
    return "differ"


def load_config(path: Path | None, cls: type) -> dict[str, Any]:
    """Kwargs from a YAML file, or the built-in ``<name>_smoke.yaml`` when there is one."""
    if path is None:
        smoke = Path(__file__).parent / "conf" / "baseline" / f"{cls.meta.name}_smoke.yaml"
        path = smoke if smoke.exists() else None
    if path is None:
        return {}
    cfg = yaml.safe_load(Path(path).read_text()) or {}
    return {k: v for k, v in cfg.items() if k not in ("_target_", "defaults")}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="drumbench validate")
    parser.add_argument("target", help="a registered baseline name or module:Class")
    parser.add_argument("--config", type=Path, default=None, help="YAML with constructor kwargs")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    cls = registry.resolve("baselines", args.target)
    checks = run_conformance(cls, load_config(args.config, cls), steps=args.steps)
    for c in checks:
        print(f"{'PASS' if c.ok else 'FAIL'}  {c.name}" + (f"  — {c.detail.splitlines()[0]}" if c.detail else ""))
        if not c.ok:
            print("      " + "\n      ".join(c.detail.splitlines()[1:]))
    failed = sum(not c.ok for c in checks)
    print(f"conformance {cls.meta.name}: {len(checks) - failed} checks passed, {failed} checks failed")
    return 1 if failed else 0

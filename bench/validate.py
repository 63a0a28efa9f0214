"""The conformance kit behind ``drumbench validate module:Class``.

Every built-in baseline passes it, and a plugin author runs it before opening a pull request:
declared capabilities match the methods, samples have the right shape/dtype/range (checked before
the fit, so a bad ``sample`` is named as such), a few fit steps run under a budget, a seed
reproduces samples, and a checkpoint round-trip reproduces them. Every check runs and is
reported, whatever failed before it.
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
from bench.cli_errors import UsageError
from bench.api.baseline import (Autoencoder, Baseline, BaselineMeta, Condition, FitSummary,
                                LatentGenerator, declared_vs_implemented)
from bench.api.fit import Budget, FitContext
from bench.api.output_check import PluginOutputError, checked_decode, checked_sample
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


def _raw_samples(b: Baseline, n: int, seed: int, labels: torch.Tensor | None) -> torch.Tensor:
    """What ``sample`` returns, unchecked: for the determinism checks, which compare calls."""
    cond = Condition(labels=labels.to(b.device)) if labels is not None else None
    with torch.no_grad():
        out = b.sample(n, condition=cond, generator=torch.Generator().manual_seed(seed))
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"sample returned {type(out).__name__}, not a torch.Tensor")
    return out.detach().cpu()


class NotRun(Exception):
    """A check whose prerequisite failed: reported as failed, with the reason."""


def run_conformance(cls: type, kwargs: dict[str, Any] | None = None, *, steps: int = 3,
                    device: str = "cpu") -> list[Check]:
    """Every check, in order, each reported even when an earlier one failed: identity,
    construction, the untrained model's samples (a baseline that needs ``fit`` first may decline),
    a fit under a ``steps`` budget, the trained model's samples (shape, dtype, range,
    finiteness, seeding), the checkpoint round-trip, and the Autoencoder/LatentGenerator
    methods where declared."""
    kwargs = {k: v for k, v in dict(kwargs or {}).items() if k not in ("_target_", "name")}
    checks: list[Check] = []

    def check(name: str, fn: Callable[[], str | None]) -> bool:
        try:
            detail = fn() or ""
            checks.append(Check(name, True, detail))
            return True
        except NotRun as why:
            checks.append(Check(name, False, f"not run: {why}"))
            return False
        except Exception as err:  # the kit reports every failure, it does not stop at the first
            checks.append(Check(name, False, f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"))
            return False

    meta = getattr(cls, "meta", None)
    caps = frozenset(getattr(meta, "capabilities", frozenset()))

    def is_baseline() -> str:
        if not (isinstance(cls, type) and issubclass(cls, Baseline)):
            raise TypeError(f"{cls!r} does not subclass bench.api.baseline.Baseline")
        if not isinstance(meta, BaselineMeta):
            raise TypeError("class attribute `meta` must be a BaselineMeta")
        return f"{meta.name}@{meta.version} {sorted(caps)}"

    check("is a Baseline with BaselineMeta", is_baseline)
    data = tiny_datamodule()
    n, labels = 4, torch.tensor([0, 1, 2, 0])
    lab = labels if "conditional" in caps else None
    state: dict[str, Any] = {}

    def build() -> Baseline:
        torch.manual_seed(0)
        return cls(num_classes=data.num_classes, sample_rate=data.sample_rate,
                   clip_samples=data.clip_samples, **kwargs).to(device)

    def construct() -> str:
        b = build()
        if isinstance(b, Baseline) and isinstance(getattr(b, "meta", None), BaselineMeta):
            problems = declared_vs_implemented(b)
            if problems:
                raise TypeError("; ".join(problems))
        state["b"] = b
        return "capabilities match Autoencoder/LatentGenerator mixins"

    check("constructs; declared capabilities match methods", construct)

    def instance() -> Any:
        if "b" not in state:
            raise NotRun("the baseline could not be constructed")
        return state["b"]

    def shape_range() -> str:
        b = instance()
        b.eval()
        cond = Condition(labels=lab.to(b.device)) if lab is not None else None
        with torch.no_grad():
            x = checked_sample(b, n, condition=cond, generator=torch.Generator().manual_seed(0),
                               clip_samples=data.clip_samples)
        return f"{tuple(x.shape)} float32, peak {float(x.abs().max()):.3f}"

    def before_fit() -> str:
        # first, so that a wrong shape or a NaN is named here and not by fit's validation loop
        try:
            return shape_range()
        except (PluginOutputError, NotRun):
            raise
        except Exception as err:  # allowed: a baseline may need fit() before it can sample
            return f"cannot sample untrained ({type(err).__name__}: {err}); checked after fit"

    check("sample before fit: shape, dtype, finite, range", before_fit)

    def fit() -> str:
        b = instance()
        b.train()
        with tempfile.TemporaryDirectory() as tmp:
            from bench.runner.validation import validation_fn

            ctx = FitContext(budget=Budget(steps, 120.0, 4, 2), device=torch.device(device), seed=0,
                             run_dir=Path(tmp), baseline=b,
                             validate_fn=validation_fn(b, data, _KitProtocol(), torch.device(device)))
            try:
                summary = b.fit(data, ctx)
            finally:
                ctx.close()
                b.eval()
            if not isinstance(summary, FitSummary):
                raise TypeError(f"fit returned {type(summary).__name__}, expected FitSummary")
            if summary.steps > steps:
                raise AssertionError(f"fit ran {summary.steps} steps with max_steps={steps}")
            return f"{summary.steps} steps, stopped: {summary.stopped_because}"

    check(f"fit honours a {steps}-step budget", fit)
    check("sample: shape, dtype, finite, range", shape_range)
    check("sample: same generator seed → same audio",
          lambda: _same(_raw_samples(instance(), n, 1, lab), _raw_samples(instance(), n, 1, lab),
                        "two calls with seed 1"))
    check("sample: different seeds → different audio",
          lambda: _differ(_raw_samples(instance(), n, 1, lab), _raw_samples(instance(), n, 2, lab)))

    def round_trip() -> str:
        b = instance()
        buf = io.BytesIO()
        torch.save(b.state_dict(), buf)
        buf.seek(0)
        other = build()
        other.load_state_dict(torch.load(buf, weights_only=False))
        other.eval()
        return _same(_raw_samples(b, n, 3, lab), _raw_samples(other, n, 3, lab), "after save/load")

    check("state_dict round-trip reproduces samples", round_trip)
    is_ae = isinstance(cls, type) and issubclass(cls, Autoencoder)
    is_latent = isinstance(cls, type) and issubclass(cls, LatentGenerator)
    if is_ae or "encode" in caps:
        def autoencode() -> str:
            b = instance()
            cond = Condition(labels=labels.to(b.device))
            with torch.no_grad():
                z = b.encode(data.test.audio[:n].to(b.device), condition=cond)
                if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[0] != n:
                    raise AssertionError(f"encode gave {_shape(z)}, expected ({n}, latent_dim)")
                checked_decode(b, z, condition=cond, clip_samples=data.clip_samples)
            return f"z {tuple(z.shape)}"
        check("Autoencoder: encode/decode shapes", autoencode)
    if is_latent or "latent" in caps:
        def latent() -> str:
            b = instance()
            cond = Condition(labels=labels.to(b.device)) if lab is not None else None
            with torch.no_grad():
                z = b.sample_latent(n, condition=cond, generator=torch.Generator().manual_seed(0))
                if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[0] != n:
                    raise AssertionError(f"sample_latent gave {_shape(z)}, expected ({n}, latent_dim)")
                checked_decode(b, z, condition=cond, clip_samples=data.clip_samples)
            return f"z {tuple(z.shape)}"
        check("LatentGenerator: sample_latent/decode", latent)
    return checks


def _shape(z: Any) -> str:
    return str(tuple(z.shape)) if hasattr(z, "shape") else type(z).__name__


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


def load_config(path: Path | None, cls: type, name: str | None = None) -> dict[str, Any]:
    """Kwargs from a YAML file, or from the ``baseline/<name>_smoke.yaml`` Hydra would find
    (drumbench's own or an installed plugin's; ``name`` defaults to ``cls.meta.name``)."""
    if path is None:
        from bench.plugin_configs import find_config

        name = name or getattr(getattr(cls, "meta", None), "name", None)
        path = find_config("baseline", f"{name}_smoke") if name else None
        if path is not None:  # composed as a run would, so a `defaults:` list is honoured
            from omegaconf import OmegaConf

            from bench.runner.app import compose

            cfg = OmegaConf.to_container(compose([f"baseline={name}_smoke"]).baseline, resolve=True)
            return {k: v for k, v in cfg.items() if k not in ("_target_", "name")}
    if path is None:
        return {}
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--config {path}: no such file")
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise UsageError(f"--config {path}: not valid YAML ({err})") from err
    if not isinstance(cfg, dict):
        raise UsageError(f"--config {path}: expected a mapping of constructor arguments, "
                         f"got {type(cfg).__name__}")
    return {k: v for k, v in cfg.items() if k not in ("_target_", "name", "defaults")}


def resolve_target(target: str) -> type:
    """The class named by a registered name or ``module:Class``; a typo is a :class:`UsageError`."""
    try:
        return registry.resolve("baselines", target)
    except registry.UnknownName as err:
        raise UsageError(str(err)) from err
    except ModuleNotFoundError as err:
        module = target.partition(":")[0]
        if err.name and module.startswith(err.name):  # the module asked for, not one it imports
            raise UsageError(f"cannot import {target!r}: {err}") from err
        raise
    except (ImportError, ValueError) as err:
        if ":" in target and "has no attribute" in str(err) or "expected 'module:Attr'" in str(err):
            raise UsageError(f"cannot load {target!r}: {err}") from err
        raise


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="drumbench validate")
    parser.add_argument("target", help="a registered baseline name or module:Class")
    parser.add_argument("--config", type=Path, default=None, help="YAML with constructor kwargs")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    cls = resolve_target(args.target)
    name = args.target if ":" not in args.target else None
    meta = getattr(cls, "meta", None)
    checks = run_conformance(cls, load_config(args.config, cls, name), steps=args.steps)
    for c in checks:
        print(f"{'PASS' if c.ok else 'FAIL'}  {c.name}" + (f"  — {c.detail.splitlines()[0]}" if c.detail else ""))
        if not c.ok and len(c.detail.splitlines()) > 1:
            print("      " + "\n      ".join(c.detail.splitlines()[1:]))
    failed = sum(not c.ok for c in checks)
    label = getattr(meta, "name", args.target)
    print(f"conformance {label}: {len(checks) - failed} checks passed, {failed} checks failed")
    return 1 if failed else 0

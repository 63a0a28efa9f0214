"""Deliberately broken baselines for the failure-isolation tests: each fails one way.

Registered per test through ``hydra.searchpath`` (configs in ``plugin_conf/baseline/``), never in
the built-in registry. Each is the `noise` floor with one method broken, so the rest is fast.
"""
from __future__ import annotations

import time

import torch

from baselines.references.noise import DecayingNoise
from bench.api.baseline import BaselineMeta, FitSummary

CAPS = frozenset({"sample", "conditional"})


class RaisesInFit(DecayingNoise):
    meta = BaselineMeta(name="broken_raise", version="1", capabilities=CAPS)
    reference = False

    def fit(self, data, ctx) -> FitSummary:
        raise RuntimeError("broken on purpose: fit raised")


class NaNSamples(DecayingNoise):
    meta = BaselineMeta(name="broken_nan", version="1", capabilities=CAPS)
    reference = False

    def sample(self, n, *, condition=None, generator=None):
        return torch.full((n, 1, self.clip_samples), float("nan"))


class WrongShape(DecayingNoise):
    meta = BaselineMeta(name="broken_shape", version="1", capabilities=CAPS)
    reference = False

    def sample(self, n, *, condition=None, generator=None):
        return super().sample(n, condition=condition, generator=generator)[:, :, : self.clip_samples // 2]


class Sleeper(DecayingNoise):
    """Trains "forever": only the run's time limit stops it."""
    meta = BaselineMeta(name="broken_sleep", version="1", capabilities=CAPS)
    reference = False

    def fit(self, data, ctx) -> FitSummary:
        time.sleep(3600)
        return FitSummary(steps=0, wall_s=ctx.elapsed())

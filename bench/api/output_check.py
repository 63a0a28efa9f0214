"""Checks on what a plugin returns, made where it returns it.

A wrong shape or a NaN from ``sample()``/``decode()`` used to surface far away (an embedder
complaining about shape ``(18,)``, a "fit failed" from the validation loop). Every harness call
of those methods goes through :func:`checked_sample` / :func:`checked_decode`, so the error names
the baseline, the method and what it returned.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

#: Float slack on the [-1, 1] contract (a tanh in float32 can land a hair outside).
PEAK_TOLERANCE = 1e-4


class PluginOutputError(ValueError):
    """A baseline method returned something that breaks the contract in bench/api/baseline.py."""


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"a {str(value.dtype).removeprefix('torch.')} tensor of shape {tuple(value.shape)}"
    shape = getattr(value, "shape", None)
    return f"{type(value).__name__}" + (f" of shape {tuple(shape)}" if shape is not None else "")


def check_audio(audio: Any, *, baseline: Any, call: str, n: int, clip_samples: int) -> Tensor:
    """``audio`` itself when it is an ``(n, 1, clip_samples)`` float32 tensor, finite, in
    [-1, 1]; otherwise :class:`PluginOutputError` naming ``<baseline>.<call>``."""
    name = getattr(getattr(baseline, "meta", None), "name", type(baseline).__name__)
    who = f"baseline {name!r}: {call}"
    want = f"({n}, 1, {clip_samples}) = (n, 1, clip_samples)"
    if not isinstance(audio, Tensor):
        raise PluginOutputError(f"{who} returned {_describe(audio)}; expected a torch.Tensor "
                                f"of shape {want}")
    if tuple(audio.shape) != (n, 1, clip_samples):
        raise PluginOutputError(f"{who} returned {_describe(audio)}; expected shape {want}")
    if audio.dtype != torch.float32:
        raise PluginOutputError(f"{who} returned {_describe(audio)}; expected dtype float32")
    finite = torch.isfinite(audio)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        rows = (~finite).flatten(1).any(dim=1).nonzero().flatten().tolist()
        raise PluginOutputError(f"{who} returned {bad} NaN/inf value(s) in clip(s) {rows[:8]}"
                                f"{' …' if len(rows) > 8 else ''} of {_describe(audio)}")
    peak = float(audio.detach().abs().max()) if audio.numel() else 0.0
    if peak > 1.0 + PEAK_TOLERANCE:
        raise PluginOutputError(f"{who} returned values outside [-1, 1] (peak {peak:.4g}) in "
                                f"{_describe(audio)}")
    return audio


def checked_sample(baseline: Any, n: int, *, condition: Any = None,
                   generator: torch.Generator | None = None,
                   clip_samples: int | None = None) -> Tensor:
    """``baseline.sample(n, ...)``, checked (``clip_samples`` defaults to the baseline's)."""
    out = baseline.sample(n, condition=condition, generator=generator)
    return check_audio(out, baseline=baseline, call=f"sample(n={n})", n=n,
                       clip_samples=baseline.clip_samples if clip_samples is None else clip_samples)


def checked_decode(baseline: Any, z: Tensor, *, condition: Any = None,
                   clip_samples: int | None = None) -> Tensor:
    """``baseline.decode(z, ...)``, checked against ``len(z)`` clips."""
    out = baseline.decode(z, condition=condition)
    n = int(z.shape[0]) if isinstance(z, Tensor) and z.ndim else 0
    return check_audio(out, baseline=baseline, call=f"decode(z of shape {_shape(z)})", n=n,
                       clip_samples=baseline.clip_samples if clip_samples is None else clip_samples)


def _shape(z: Any) -> tuple[int, ...] | str:
    return tuple(z.shape) if hasattr(z, "shape") else type(z).__name__

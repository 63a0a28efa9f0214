"""Find baselines and embedders by name: built-ins plus installed packages' entry points.

Everything is a lazy ``"module:attr"`` string until asked for, so ``drumbench ls`` never imports
torch models (or frechet-audio-distance). Unknown names get a "did you mean" error.
"""
from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points
from typing import Any

BUILTIN_BASELINES: dict[str, str] = {
    "real": "baselines.references.real:RealClips",
    "noise": "baselines.references.noise:DecayingNoise",
    "vae": "baselines.vae.baseline:VAE",
    "aae": "baselines.aae.baseline:AAE",
}

GROUPS = {"baselines": "drumbench.baselines", "embedders": "drumbench.embedders"}


class UnknownName(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


def _builtins(kind: str) -> dict[str, str]:
    if kind == "baselines":
        return dict(BUILTIN_BASELINES)
    from bench.metrics.embedders import BUILTIN_EMBEDDERS

    return dict(BUILTIN_EMBEDDERS)


def available(kind: str) -> dict[str, str]:
    """name → "module:attr" for ``kind`` in {"baselines", "embedders"}; plugins override nothing."""
    found = _builtins(kind)
    for ep in entry_points(group=GROUPS[kind]):
        found.setdefault(ep.name, ep.value)
    return dict(sorted(found.items()))


def did_you_mean(name: str, choices: list[str] | dict[str, Any], what: str) -> str:
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown {what} {name!r}.{hint} Available: {', '.join(choices)}"


def import_string(spec: str) -> Any:
    """Import ``"pkg.module:Attr"`` (or ``"pkg.module.Attr"``)."""
    module_name, _, attr = spec.partition(":") if ":" in spec else spec.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"expected 'module:Attr', got {spec!r}")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError as err:
        raise ImportError(f"module {module_name!r} has no attribute {attr!r}") from err


def resolve(kind: str, name: str) -> Any:
    """The class registered as ``name`` (or a literal ``module:Class``)."""
    table = available(kind)
    if name in table:
        return import_string(table[name])
    if ":" in name:
        return import_string(name)
    raise UnknownName(did_you_mean(name, table, kind.rstrip("s")))


def embedder(name: str) -> Any:
    """An embedder instance by name."""
    return resolve("embedders", name)()

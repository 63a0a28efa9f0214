"""A baseline from the run's config: the class the registry knows as ``baseline.name``, built and checked.

``baseline.name`` is a registered name (``vae``, or a plugin's entry-point name) or a literal
``module:Class``; every other key of the ``baseline`` group is a constructor keyword. (A legacy
``_target_: module.Class`` is read the same way as a literal name.)

Its own module so that the runner (which needs the class's identity to name the run folder) and
the stages (which build and load the model) both import it without importing each other.
"""
from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from bench import registry
from bench.api.baseline import Baseline, declared_vs_implemented
from bench.data.datamodule import DataModule


def baseline_spec(cfg: DictConfig) -> tuple[str, dict[str, Any]]:
    """``(name or module:Class, constructor kwargs)`` of the ``baseline`` config group."""
    kwargs = OmegaConf.to_container(cfg.baseline, resolve=True)
    if not isinstance(kwargs, dict):
        raise TypeError(f"the baseline config must be a mapping, got {kwargs!r}")
    name, target = kwargs.pop("name", None), kwargs.pop("_target_", None)
    if name is not None and target is not None:
        raise ValueError(f"baseline config sets both name={name!r} and _target_={target!r}: keep `name`")
    if name is None and target is None:
        raise ValueError("baseline config has no `name` (a registered baseline, or module:Class)")
    if name is None:  # a dotted _target_: module.Class
        module, _, attr = str(target).rpartition(".")
        name = f"{module}:{attr}" if ":" not in str(target) else str(target)
    return str(name), kwargs


def baseline_class(cfg: DictConfig) -> type:
    name, _ = baseline_spec(cfg)
    cls = registry.resolve("baselines", name)
    if not (isinstance(cls, type) and issubclass(cls, Baseline)):
        raise TypeError(f"baseline {name!r} resolves to {cls!r}, not a bench.api.baseline.Baseline subclass")
    if getattr(cls, "meta", None) is None:
        raise TypeError(f"baseline {name!r} ({cls.__module__}.{cls.__qualname__}) has no `meta` "
                        "(BaselineMeta) class attribute")
    return cls


def instantiate_baseline(cfg: DictConfig, data: DataModule) -> Baseline:
    """A fresh, untrained baseline sized to ``data``; a class that breaks the contract is an error."""
    _, kwargs = baseline_spec(cfg)
    baseline = baseline_class(cfg)(num_classes=data.num_classes, sample_rate=data.sample_rate,
                                   clip_samples=data.clip_samples, **kwargs)
    problems = declared_vs_implemented(baseline)
    if problems:
        raise TypeError("; ".join(problems))
    return baseline


def baseline_identity(cfg: DictConfig) -> tuple[str, str, Any]:
    """``(name, version, class)`` of the configured baseline, without building it."""
    cls = baseline_class(cfg)
    return cls.meta.name, cls.meta.version, cls

"""Data sources: scan raw files into manifest entries plus a quarantine list.

Sources are registered in :mod:`bench.registry` (kind ``sources``; outside packages add theirs
through the ``drumbench.sources`` entry-point group). ``build_source(cfg)`` turns the ``dataset``
config (``bench.protocol.DatasetConfig``, an OmegaConf node or any object with those attributes)
into a :class:`~bench.api.dataset.DataSource`.
"""
from __future__ import annotations

from typing import Any

from bench import registry
from bench.api.dataset import DataSource
from bench.data.sources.common import cfg_get


def build_source(cfg: Any) -> DataSource:
    """The source named by ``cfg.source``, configured from the other ``dataset.*`` fields."""
    name = str(cfg_get(cfg, "source"))
    if name not in registry.available("sources"):
        raise registry.UnknownName(
            "dataset.source: " + registry.did_you_mean(name, registry.available("sources"), "dataset source"))
    return registry.resolve("sources", name).from_config(cfg)


__all__ = ["build_source"]

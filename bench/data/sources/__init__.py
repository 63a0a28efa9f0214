"""Data sources: scan raw files into manifest entries plus a quarantine list.

``build_source(cfg)`` turns the ``dataset`` config (``bench.protocol.DatasetConfig``, an OmegaConf
node or any object with those attributes) into a :class:`~bench.api.dataset.DataSource`.
"""
from __future__ import annotations

from typing import Any

from bench.api.dataset import DataSource
from bench.data.sources.common import ScanningSource, cfg_get, did_you_mean
from bench.data.sources.dcase2023_t7 import Dcase2023T7Source
from bench.data.sources.folder import FolderSource
from bench.data.sources.freesound_oneshot import FreesoundOneShotSource
from bench.data.sources.fsd50k import FSD50KSource
from bench.data.sources.hydrogen import HydrogenSource
from bench.data.sources.synthkit import SynthKitSource

SOURCES: dict[str, type[ScanningSource]] = {
    cls.name: cls for cls in (SynthKitSource, HydrogenSource, FolderSource,
                              FreesoundOneShotSource, FSD50KSource, Dcase2023T7Source)
}


def build_source(cfg: Any) -> DataSource:
    """The source named by ``cfg.source``, configured from the other ``dataset.*`` fields."""
    name = cfg_get(cfg, "source")
    if name not in SOURCES:
        raise ValueError(f"unknown dataset.source={name!r}{did_you_mean(str(name), SOURCES)}; "
                         f"known sources: {', '.join(sorted(SOURCES))}")
    return SOURCES[name].from_config(cfg)


__all__ = ["SOURCES", "build_source", "Dcase2023T7Source", "FolderSource", "FreesoundOneShotSource",
           "FSD50KSource", "HydrogenSource", "SynthKitSource"]

"""Built-in embedders by name, as lazy "module:Class" strings that :mod:`bench.registry` resolves.

Nothing is imported here, so listing names never loads torch models or frechet-audio-distance.
"""
from __future__ import annotations

BUILTIN_EMBEDDERS: dict[str, str] = {
    "aisfx": "bench.metrics.embedders.aisfx:AisfxEmbedder",
    "mel": "bench.metrics.embedders.mel:MelStatsEmbedder",
    "mfcc": "bench.metrics.embedders.mfcc:MfccStatsEmbedder",
    "vggish": "bench.metrics.embedders.hub:VggishEmbedder",
    "pann": "bench.metrics.embedders.hub:PannEmbedder",
    "clap": "bench.metrics.embedders.hub:ClapEmbedder",
    "encodec": "bench.metrics.embedders.hub:EncodecEmbedder",
}

"""The protocol's validation loop metric (lower is better), used to keep the best checkpoint.

Autoencoders: multi-resolution STFT distance of valid-split reconstructions. Other samplers:
KAD (unbiased, so usable with a few hundred clips) between samples and the valid split in the
protocol's ``validation_embedder`` space.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from bench.api.baseline import Autoencoder, Baseline, Condition
from bench.api.output_check import checked_decode, checked_sample
from bench.data.datamodule import DataModule

VAL_BATCH = 64


def validation_fn(baseline: Baseline, data: DataModule, protocol, device: torch.device
                  ) -> Callable[[], float] | None:
    valid = data.valid
    if len(valid) < 2:
        return None
    if isinstance(baseline, Autoencoder):
        from bench.metrics.recon import mrstft_distance

        def recon() -> float:
            total = 0.0
            for start in range(0, len(valid), VAL_BATCH):
                x = valid.audio[start:start + VAL_BATCH].to(device)
                cond = Condition(labels=valid.labels[start:start + VAL_BATCH].to(device))
                y = checked_decode(baseline, baseline.encode(x, condition=cond), condition=cond,
                                   clip_samples=data.clip_samples)
                total += float(mrstft_distance(y, x).sum())  # (estimate, target)
            return total / len(valid)
        return recon

    from bench.metrics.distances import kad
    from bench.metrics.embedding_cache import EmbeddingCache

    cache = EmbeddingCache(None)
    ref = cache.embed(protocol.validation_embedder, valid.audio[:, 0].numpy(), data.sample_rate)
    conditional = "conditional" in baseline.meta.capabilities

    def sample_kad() -> float:
        gen = torch.Generator().manual_seed(0)
        cond = Condition(labels=valid.labels.to(device)) if conditional else None
        clips = checked_sample(baseline, len(valid), condition=cond, generator=gen,
                               clip_samples=data.clip_samples)
        emb = cache.embed(protocol.validation_embedder, clips[:, 0].float().cpu().numpy(), data.sample_rate)
        return float(kad(emb, ref)["value"])
    return sample_kad

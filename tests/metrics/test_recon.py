"""Reconstruction metrics against autoencoders whose error we choose: a perfect lookup-table
autoencoder, the same with added noise at a known SNR or a known delay, and one that decodes
unrelated noise."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.api.baseline import Autoencoder, Baseline, BaselineMeta, FitSummary
from bench.api.metric import ScoreContext
from bench.metrics.recon import (LogSpectralDistance, MRSTFTDistance, OnsetError,
                                 mrstft_distance, onset_error_ms)

SR, T = 16000, 4000
CLASSES = ["kick", "snare", "hat"]


class LookupAE(Baseline, Autoencoder):
    """``encode`` files each clip in a table and returns its row number; ``decode`` looks it up,
    then adds noise at ``snr_db``, delays it by ``shift_ms``, or returns unrelated noise."""

    meta = BaselineMeta(name="lookup_ae", version="1",
                        capabilities=frozenset({"sample", "encode", "conditional"}))

    def __init__(self, *, snr_db: float | None = None, shift_ms: float = 0.0,
                 unrelated: bool = False, silent: bool = False) -> None:
        super().__init__(num_classes=len(CLASSES), sample_rate=SR, clip_samples=T)
        self.snr_db, self.shift_ms, self.unrelated, self.silent = snr_db, shift_ms, unrelated, silent
        self.table: list[torch.Tensor] = []
        self.encode_calls, self.conditions = 0, []

    def fit(self, data, ctx):
        return FitSummary(steps=0, wall_s=0.0)

    def sample(self, n, *, condition=None, generator=None):
        return torch.zeros(n, 1, T)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass

    def encode(self, audio, *, condition=None):
        self.encode_calls += 1
        self.conditions.append(condition)
        rows = []
        for clip in audio:
            self.table.append(clip.clone())
            rows.append(float(len(self.table) - 1))
        return torch.tensor(rows).unsqueeze(1)

    def decode(self, z, *, condition=None):
        out = []
        for row in z[:, 0].round().long().tolist():
            clip = self.table[row][0]
            g = torch.Generator().manual_seed(row)
            if self.unrelated:
                clip = 0.3 * torch.randn(T, generator=g)
            if self.silent:
                clip = torch.zeros(T)
            if self.snr_db is not None:
                noise_power = clip.pow(2).mean() / 10 ** (self.snr_db / 10)
                clip = clip + noise_power.sqrt() * torch.randn(T, generator=g)
            if self.shift_ms:
                shift = round(self.shift_ms * SR / 1000)
                clip = torch.nn.functional.pad(clip, (shift, 0))[:T]
            out.append(clip)
        return torch.stack(out).unsqueeze(1)


def drum_clips(per_class: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Onset-aligned toy kicks (falling sine), snares (tone + noise) and hats (noise)."""
    g = torch.Generator().manual_seed(0)
    t = torch.arange(T) / SR
    clips, labels = [], []
    for c in range(len(CLASSES)):
        for _ in range(per_class):
            r = torch.rand(3, generator=g)
            noise = torch.randn(T, generator=g)
            if c == 0:
                f = 50 + 100 * r[0] + 150 * torch.exp(-t / 0.02)
                x = torch.sin(2 * math.pi * torch.cumsum(f, 0) / SR) * torch.exp(-t / (0.05 + 0.1 * r[1]))
            elif c == 1:
                x = (0.5 * torch.sin(2 * math.pi * (180 + 60 * r[0]) * t) + noise) * torch.exp(-t / (0.03 + 0.05 * r[1]))
            else:
                x = torch.diff(noise, prepend=noise[:1]) * torch.exp(-t / (0.01 + 0.03 * r[1]))
            x = torch.cat([torch.zeros(16), x[:-16]])        # 1 ms before the onset
            clips.append(0.9 * x / x.abs().max())
            labels.append(c)
    return torch.stack(clips).numpy().astype(np.float32), np.array(labels)


def context(baseline) -> ScoreContext:
    clips, labels = drum_clips()
    return ScoreContext(generated=clips, generated_labels=labels, real_test=clips,
                        real_test_labels=labels, real_train=clips, real_train_labels=labels,
                        classes=CLASSES, sample_rate=SR, protocol=None,
                        embed=lambda name, x: np.zeros((len(x), 1)),
                        capabilities=baseline.meta.capabilities, baseline=baseline, seed=0)


METRICS = (MRSTFTDistance(), LogSpectralDistance(), OnsetError())


def scores(baseline) -> dict[str, float]:
    ctx = context(baseline)
    return {m.name: m.compute(ctx).value for m in METRICS}


def test_perfect_autoencoder_scores_zero_and_unrelated_noise_scores_high():
    perfect = scores(LookupAE())
    assert perfect == {"recon_mrstft": 0.0, "recon_lsd": 0.0, "recon_onset_ms": 0.0}
    bad = scores(LookupAE(unrelated=True))
    assert bad["recon_mrstft"] > 1.0
    assert bad["recon_lsd"] > 10.0


def test_distances_rise_as_snr_falls():
    by_snr = {snr: scores(LookupAE(snr_db=snr)) for snr in (30, 20, 10, 0)}
    for name in ("recon_mrstft", "recon_lsd"):
        values = [by_snr[snr][name] for snr in (30, 20, 10, 0)]
        assert all(a < b for a, b in zip(values, values[1:])), (name, values)
        assert values[0] > 0
    assert by_snr[0]["recon_onset_ms"] >= by_snr[30]["recon_onset_ms"]
    bad = scores(LookupAE(unrelated=True))
    assert bad["recon_mrstft"] > by_snr[30]["recon_mrstft"]
    assert bad["recon_lsd"] > by_snr[30]["recon_lsd"]


def test_onset_error_measures_a_20_ms_delay():
    ctx = context(LookupAE(shift_ms=20.0))
    result = OnsetError().compute(ctx)
    assert result.value == pytest.approx(20.0, abs=2.0)
    assert set(result.details["per_class"]) == set(CLASSES)
    assert all(v == pytest.approx(20.0, abs=3.0) for v in result.details["per_class"].values())
    assert result.ci95[0] <= result.value <= result.ci95[1]
    assert result.n == 12 and "spectral flux" in result.details["detector"]


def test_a_silent_reconstruction_costs_the_clip_length():
    ctx = context(LookupAE(silent=True))
    assert OnsetError().compute(ctx).value == pytest.approx(1000 * T / SR)
    silence = torch.zeros(2, T)
    assert onset_error_ms(silence, silence, SR).tolist() == [0.0, 0.0]


def test_one_encoder_pass_serves_all_three_metrics_with_the_class_condition():
    ae = LookupAE(snr_db=20)
    ctx = context(ae)
    for metric in METRICS:
        metric.compute(ctx)
    _, labels = drum_clips()
    assert ae.encode_calls == 1                                    # 12 clips, one batch, cached
    assert ae.conditions[0].labels.tolist() == labels.tolist()


def test_mrstft_distance_is_per_clip_and_usable_on_its_own():
    clips, _ = drum_clips()
    x = torch.from_numpy(clips)
    same = mrstft_distance(x, x.clone())
    assert same.shape == (len(clips),) and torch.all(same == 0)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    noisy = x + 0.01 * noise
    d = mrstft_distance(noisy.unsqueeze(1), x.unsqueeze(1))
    assert d.shape == (len(clips),) and torch.all(d > 0)
    assert torch.all(mrstft_distance(x + 0.1 * noise, x) > d)
    assert torch.allclose(mrstft_distance(noisy.double(), x.double()), d.double(), rtol=1e-3)
    estimate = noisy.clone().requires_grad_(True)
    mrstft_distance(estimate, x).sum().backward()
    assert torch.isfinite(estimate.grad).all() and estimate.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="differ in shape"):
        mrstft_distance(x[:, :100], x)


def test_a_decoder_returning_the_wrong_length_is_named():
    class Short(LookupAE):
        def decode(self, z, *, condition=None):
            return super().decode(z, condition=condition)[..., :-1]

    with pytest.raises(ValueError, match="lookup_ae.decode.*shape"):
        MRSTFTDistance().compute(context(Short()))

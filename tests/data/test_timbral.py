"""The timbral descriptors against closed-form signals, and their place in the data build."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.data import timbral
from bench.data.build import load_datamodule
from bench.runner.app import compose

SR = 16000
T = torch.arange(SR) / SR


def _tone(freq: float, decay_s: float = 0.3, attack_s: float = 0.0) -> torch.Tensor:
    env = torch.exp(-math.log(1000.0) * T / decay_s)
    if attack_s > 0:
        env = env * (T / attack_s).clamp(max=1.0)
    return torch.sin(2 * math.pi * freq * T) * env


def _lowpassed_noise(cutoff_hz: float, seed: int = 0) -> torch.Tensor:
    noise = torch.randn(SR, generator=torch.Generator().manual_seed(seed))
    spectrum = torch.fft.rfft(noise)
    spectrum[torch.fft.rfftfreq(SR, 1 / SR) > cutoff_hz] = 0
    x = torch.fft.irfft(spectrum, n=SR) * torch.exp(-math.log(1000.0) * T / 0.3)
    return x / x.abs().max()


def _describe(*clips: torch.Tensor) -> dict[str, list[float]]:
    return {k: v.tolist() for k, v in timbral.timbral_descriptors(torch.stack(clips), SR).items()}


def test_a_brighter_filter_gives_a_higher_brightness_and_sharpness():
    d = _describe(_lowpassed_noise(1500.0), _lowpassed_noise(4000.0), _lowpassed_noise(7500.0))
    assert d["brightness"][0] + 10 < d["brightness"][1] < d["brightness"][2] - 1
    assert d["sharpness"][0] < d["sharpness"][1] < d["sharpness"][2]


def test_low_tones_are_deep_low_mids_are_warm():
    d = _describe(_tone(60.0), _tone(500.0), _tone(4000.0))
    assert d["depth"][0] > -1.0 > -20.0 > max(d["depth"][1:])         # nearly all energy < 250 Hz
    assert d["warmth"][1] > -1.0 > -20.0 > max(d["warmth"][0], d["warmth"][2])


def test_boominess_needs_a_low_end_that_rings_on():
    ringing, thud = _tone(60.0, decay_s=0.6), _tone(60.0, decay_s=0.03)
    d = _describe(ringing, thud)
    assert d["boominess"][0] > d["boominess"][1] + 20
    assert abs(d["depth"][0] - d["depth"][1]) < 3   # both are all low end


def test_hardness_follows_the_attack_time():
    attacks = (0.002, 0.01, 0.04)
    d = _describe(*(_tone(1000.0, decay_s=0.5, attack_s=a) for a in attacks))
    # a linear ramp rises from 10 % to 90 % in 0.8 of its length
    for value, attack in zip(d["hardness"], attacks):
        assert value == pytest.approx(math.log10(1 / (0.8 * attack)), abs=0.15)


def test_amplitude_modulation_in_the_beating_range_is_rough():
    steady = _tone(1000.0, decay_s=0.8)
    beating = steady * (0.5 + 0.5 * torch.sin(2 * math.pi * 70.0 * T))
    d = _describe(steady, beating)
    assert d["roughness"][1] > d["roughness"][0] + 6   # measured: 9.6 dB apart


def test_silence_gets_the_finite_floors_and_bad_audio_is_refused():
    d = _describe(torch.zeros(SR))
    assert d["brightness"] == [timbral.FLOOR_DB] and d["hardness"] == [0.0] and d["sharpness"] == [0.0]
    with pytest.raises(ValueError, match="NaN"):
        timbral.timbral_matrix(torch.full((1, SR), float("nan")), SR)


def test_the_data_build_stores_every_clip_s_descriptors_and_reuses_them(tmp_path):
    cfg = compose(["protocol=smoke", "dataset=synthkit_smoke", f"data_dir={tmp_path}"])
    data = load_datamodule(cfg.dataset, cfg.protocol, Path(cfg.data_dir))
    for split in (data.train, data.valid, data.test):
        assert set(timbral.NAMES) <= set(split.extra)
        assert all(len(split.extra[n]) == len(split) for n in timbral.NAMES)
    expected = timbral.timbral_matrix(data.train.audio, data.sample_rate)
    stored = torch.stack([data.train.extra[n] for n in timbral.NAMES], dim=1)
    assert torch.allclose(stored, expected, atol=1e-4)
    (cached,) = Path(tmp_path).glob(f"*/clips/*.timbral-v{timbral.VERSION}.npy")
    np.save(cached, np.load(cached) + 1.0)   # a second build reads the cache, not the audio
    again = load_datamodule(cfg.dataset, cfg.protocol, Path(cfg.data_dir))
    assert torch.allclose(again.train.extra["brightness"], data.train.extra["brightness"] + 1.0)

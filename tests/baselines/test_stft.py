"""The shared STFT pieces: a magnitude whose gradient stays finite where a decay underflows, and
the log-mel front end built on it (a GAN critic back-propagates through it into generated audio)."""
from __future__ import annotations

import torch
import torchaudio

from baselines._common import stft
from baselines._common.stft import ISTFTSynth, LogMelFrontEnd, magnitude


def _underflowing_clips() -> torch.Tensor:
    torch.manual_seed(0)
    x = torch.randn(2, 1, 4000) * torch.exp(-torch.arange(4000) / 200.0)
    x[..., 2000:] = 1e-41          # a decay gone subnormal, as a model's tail can be
    return x


def test_magnitude_equals_abs_and_has_a_zero_not_nan_gradient_at_subnormal_bins():
    spec = torch.complex(torch.tensor([3.0, 1e-41, 0.0]), torch.tensor([4.0, 1e-41, 0.0]))
    z = spec.clone().requires_grad_(True)
    value = magnitude(z)
    assert torch.equal(value, spec.abs())
    value.sum().backward()
    assert torch.isfinite(torch.view_as_real(z.grad)).all()
    assert torch.allclose(z.grad[0], torch.tensor(0.6 + 0.8j))   # d|z| = z / |z| elsewhere
    assert z.grad[1] == 0
    w = torch.randn(3, 33, 7)
    normal = torch.randn(3, 33, 7, dtype=torch.complex64)
    mine, plain = normal.clone().requires_grad_(True), normal.clone().requires_grad_(True)
    (magnitude(mine) * w).sum().backward()
    (plain.abs() * w).sum().backward()
    assert torch.allclose(mine.grad, plain.grad, atol=1e-6)


def test_log_mel_front_end_matches_torchaudio_and_back_propagates_through_an_underflowed_tail():
    front = LogMelFrontEnd(8000, 256, 64, 16)
    reference = torchaudio.transforms.MelSpectrogram(
        sample_rate=8000, n_fft=256, hop_length=64, n_mels=16, power=1.0, center=True,
        pad_mode="constant", f_min=0.0, f_max=4000.0, norm="slaney", mel_scale="slaney")
    x = _underflowing_clips()
    assert torch.equal(front(x), torch.log(reference(x[:, 0]) + 1e-5))
    grads = []
    for f in (front, lambda a: torch.log(reference(a[:, 0]) + 1e-5)):
        a = x.clone().requires_grad_(True)
        f(a).sum().backward()
        grads.append(a.grad)
    assert torch.isfinite(grads[0]).all()
    assert not torch.isfinite(grads[1]).all()      # the plain abs: what the critic used to do
    assert set(front.state_dict()) == {"mel.spectrogram.window", "mel.mel_scale.fb"}  # old checkpoints load


def _head_gradients() -> torch.Tensor:
    torch.manual_seed(0)
    head = ISTFTSynth(4, 64, 16, 800, phase="if_noise", init_log_mag=-95.0)   # exp(−95): subnormal
    features = torch.randn(1, 4, 51)
    head(features).pow(2).sum().backward()
    return head.proj.weight.grad


def test_the_istft_head_keeps_its_gradient_finite_where_magnitudes_underflow(monkeypatch):
    assert torch.isfinite(_head_gradients()).all()
    monkeypatch.setattr(stft, "MIN_LOG_MAG", -float("inf"))    # no floor: polar's backward NaNs
    assert not torch.isfinite(_head_gradients()).all()

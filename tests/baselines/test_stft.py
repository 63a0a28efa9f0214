"""The shared STFT pieces: a magnitude whose gradient stays finite where a decay underflows, the
log-mel front end built on it (a GAN critic back-propagates through it into generated audio), and
where the iSTFT head's phases start (``lobe_phase``: partials that add up instead of cancelling)."""
from __future__ import annotations

import pytest
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


def _partial_head(lobe_phase: bool, centre: float = 35.3) -> ISTFTSynth:
    """An ``"if"`` head whose output is one steady partial at fractional bin ``centre``: the bins of
    its main lobe carry a Hann lobe's magnitudes and every one of them the partial's frequency."""
    head = ISTFTSynth(1, 1024, 256, 16000, phase="if", lobe_phase=lobe_phase)
    with torch.no_grad():
        head.proj.weight.zero_()
        log_mag = torch.full((head.bins,), stft.MIN_LOG_MAG)
        u = torch.zeros(head.bins)
        for k in range(34, 38):
            log_mag[k] = torch.log(torch.tensor(1.0 - ((k - centre) / 2) ** 2))
            u[k] = torch.atanh(torch.tensor((centre - k) * 256 / 1024 * 2))  # deviation / π
        head.proj.bias.copy_(torch.cat([log_mag, u]))
    return head


def test_lobe_phase_lets_a_partial_spread_over_its_main_lobe_add_up_instead_of_cancelling():
    features = torch.zeros(1, 1, 63)
    loudness = {}
    for lobe_phase in (False, True):
        with torch.no_grad():
            wave = _partial_head(lobe_phase).eval()(features)[0, 0, 4000:12000]
        loudness[lobe_phase] = float(wave.pow(2).mean().sqrt())
    # a sinusoid whose STFT peak is 1 has amplitude 2 / Σ hann and RMS ≈ 0.0028
    assert 0.002 < loudness[True] < 0.004
    assert loudness[True] > 5 * loudness[False]
    with pytest.raises(ValueError, match="lobe_phase"):
        ISTFTSynth(1, 1024, 256, 16000, phase="direct", lobe_phase=True)


def test_without_lobe_phase_the_phases_are_the_summed_advances_the_autoencoders_were_trained_on():
    torch.manual_seed(0)
    head = ISTFTSynth(4, 256, 64, 4000, phase="if").eval()
    features = torch.randn(2, 4, 63)
    log_mag, u = head.proj(features).split(head.bins, dim=1)
    phase = torch.cumsum(head.bin_advance + torch.pi * torch.tanh(u), dim=2)
    expected = torch.istft(torch.polar(torch.exp(log_mag.clamp(stft.MIN_LOG_MAG, 7.0)), phase), 256,
                           64, window=torch.hann_window(256), center=True, length=4000)
    assert torch.allclose(head(features)[:, 0], expected, atol=1e-6)
    assert not any("lobe" in k for k in head.state_dict())   # checkpoints unchanged

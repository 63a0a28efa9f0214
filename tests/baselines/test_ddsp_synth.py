"""The DDSP synthesisers, each alone, against closed forms: the modal bank (frequency and decay of
a partial read off its spectrum, pitch glide, agreement with the sample-by-sample formula), the
filtered noise (level, energy inside its band and frame), the transient bank, and the per-class
latent density. Everything runs at 16 kHz on one-second signals and takes about a second."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import signal

from baselines._common.losses import MultiResolutionSTFTLoss
from baselines.ddsp.density import ClassDensity
from baselines.ddsp.modal import LN1000, ModalBank
from baselines.ddsp.noise import FilteredNoise, band_edges
from baselines.ddsp.transient import TransientBank

SR, N = 16000, 16000


def _partial(bank: ModalBank, freq, amp, t60, ratio=None, glide=None) -> np.ndarray:
    def col(v):
        return None if v is None else torch.tensor(v, dtype=torch.float32).view(1, -1)
    with torch.no_grad():
        return bank(col(freq), col(amp), col(t60), col(ratio), col(glide))[0].numpy()


def _closed_form(freq, amp, t60, ratio=1.0, glide=0.01) -> np.ndarray:
    t = np.arange(N) / SR
    phase = 2 * np.pi * (freq * t + (ratio - 1) * freq * glide * (1 - np.exp(-t / glide)))
    return amp * np.exp(-LN1000 * t / t60) * np.sin(phase)


# --------------------------------------------------------------------------- modal bank
def test_a_decaying_partials_frequency_and_decay_are_read_off_its_spectrum():
    f0, t60 = 1000.0, 0.3
    x = _partial(ModalBank(SR, N), [f0], [0.5], [t60])
    n = 2 ** 19                                   # zero-padded: 0.03 Hz per bin
    power = np.abs(np.fft.rfft(x, n)) ** 2
    freqs = np.fft.rfftfreq(n, 1 / SR)
    peak = int(power.argmax())
    assert abs(freqs[peak] - f0) < 0.5
    # a one-sided exponential decay e^{−αt} has a Lorentzian power spectrum whose half width at
    # half maximum is α / 2π Hz
    above = np.nonzero(power >= power[peak] / 2)[0]
    half_width = (freqs[above.max()] - freqs[above.min()]) / 2
    alpha = LN1000 / t60
    assert half_width == pytest.approx(alpha / (2 * np.pi), rel=0.1)


def test_slow_partials_match_the_sample_by_sample_formula_and_add_up():
    bank = ModalBank(SR, N)
    # 50 Hz sits within the window's reach of 0 Hz, so its mirror image matters too
    params = [(50.0, 0.6, 0.5), (440.0, 0.3, 0.8), (2500.0, 0.2, 0.4)]
    x = _partial(bank, *zip(*params))
    ref = sum(_closed_form(f, a, d) for f, a, d in params)
    rel = np.sqrt(np.mean((x - ref) ** 2) / np.mean(ref ** 2))
    assert rel < 0.03, rel


def test_a_gliding_partial_follows_the_closed_form_instantaneous_frequency():
    f0, ratio, glide = 400.0, 2.0, 0.05
    x = _partial(ModalBank(SR, N), [f0], [0.5], [2.0], [ratio], [glide])
    inst = np.diff(np.unwrap(np.angle(signal.hilbert(x)))) * SR / (2 * np.pi)
    for t in (0.06, 0.1, 0.2, 0.4):
        i = int(t * SR)
        measured = float(np.median(inst[i - 80:i + 80]))
        expected = f0 * (1 + (ratio - 1) * math.exp(-t / glide))
        assert measured == pytest.approx(expected, rel=0.03), (t, measured, expected)


def test_partials_at_or_above_nyquist_are_muted():
    bank = ModalBank(SR, N)
    assert np.abs(_partial(bank, [8500.0], [0.5], [0.5])).max() == 0.0
    # starting above Nyquist and gliding below it: silent until it falls under 8 kHz
    x = _partial(bank, [6000.0], [0.5], [2.0], [2.0], [0.05])
    t_cross = -0.05 * math.log(8000.0 / 6000.0 - 1.0)  # f(t) = 8 kHz
    early = np.abs(x[: int((t_cross - 0.04) * SR)]).max()
    assert early == 0.0 and np.abs(x).max() > 0.1


def test_the_spectral_loss_pulls_a_partials_frequency_towards_the_target():
    bank = ModalBank(SR, N)
    loss = MultiResolutionSTFTLoss((2048, 1024, 512, 256, 128, 64), hop_ratio=0.5)
    target = torch.from_numpy(_closed_form(612.0, 0.5, 0.5)).float().view(1, 1, -1)
    # from as far as two bins of the bank's 512-point frames (31 Hz each) on either side
    for start, direction in ((560.0, 1.0), (600.0, 1.0), (624.0, -1.0), (670.0, -1.0)):
        freq = torch.tensor([[start]], requires_grad=True)
        x = bank(freq, torch.tensor([[0.5]]), torch.tensor([[0.5]]))
        loss(x.unsqueeze(1), target).backward()
        assert float(freq.grad) * direction < 0  # a descent step moves towards 612 Hz


def test_modal_bank_rejects_mismatched_shapes():
    bank = ModalBank(SR, N)
    with pytest.raises(ValueError, match="one shape"):
        bank(torch.ones(2, 3) * 100, torch.ones(2, 3), torch.ones(2, 4))
    with pytest.raises(ValueError, match="glide_ratio and glide_s"):
        bank(torch.ones(1, 1) * 100, torch.ones(1, 1), torch.ones(1, 1), torch.ones(1, 1))


# --------------------------------------------------------------------------- filtered noise
def test_band_edges_cover_every_bin_once_and_refuse_too_many_bands():
    edges = band_edges(64, 512, SR)
    assert edges[0] == 0 and edges[-1] == 257 and len(edges) == 65
    assert all(b > a for a, b in zip(edges, edges[1:]))
    with pytest.raises(ValueError, match="bands must lie in"):
        band_edges(300, 512, SR)


def test_unit_gains_give_unit_variance_white_noise():
    noise = FilteredNoise(SR, N, bands=32)
    gains = torch.ones(4, 32, noise.frames)
    assert float(noise(gains).std()) == pytest.approx(1.0, rel=0.05)        # fresh draws
    assert float(noise.eval()(gains).std()) == pytest.approx(1.0, rel=0.05)  # the fixed draw


@pytest.mark.parametrize("band", [3, 20, 50])
def test_a_bands_energy_stays_inside_its_band(band):
    noise = FilteredNoise(SR, N, bands=64, n_fft=512, hop=128)
    gains = torch.zeros(2, 64, noise.frames)
    gains[:, band] = 1.0
    with torch.no_grad():
        x = noise(gains).numpy()
    freqs, psd = signal.welch(x, SR, nperseg=2048, axis=-1)
    bin_hz = SR / 512
    lo, hi = noise.edges_hz[band] - 2 * bin_hz, noise.edges_hz[band + 1] + 2 * bin_hz  # + main lobe
    inside = psd[:, (freqs >= lo) & (freqs < hi)].sum()
    assert inside / psd.sum() > 0.99


def test_band_gains_vary_in_time_frame_by_frame():
    noise = FilteredNoise(SR, N, bands=16, n_fft=512, hop=128)
    gains = torch.zeros(1, 16, noise.frames)
    half = noise.frames // 2
    gains[..., :half] = 1.0
    with torch.no_grad():
        x = noise(gains)[0].numpy()
    # a frame's window spans n_fft / 2 samples either side of its centre
    on, off = x[: (half - 3) * 128], x[(half - 1) * 128 + 256:]
    assert np.mean(on ** 2) == pytest.approx(1.0, rel=0.1)
    assert np.abs(off).max() == 0.0


def test_training_draws_fresh_noise_and_eval_is_deterministic():
    noise = FilteredNoise(SR, N, bands=8)
    gains = torch.ones(1, 8, noise.frames)
    assert not torch.equal(noise(gains), noise(gains))
    noise.eval()
    assert torch.equal(noise(gains), noise(gains))
    with pytest.raises(ValueError, match="gains of shape"):
        noise(torch.ones(1, 7, noise.frames))


# --------------------------------------------------------------------------- transient bank
def test_transients_are_linear_mixes_of_faded_waveforms_that_end_at_zero():
    bank = TransientBank(count=3, length=400, num_samples=N)
    w = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, -1.0]])
    with torch.no_grad():
        x = bank(w)
        wave = bank.waveforms
    assert x.shape == (2, N) and x[:, 400:].abs().max() == 0.0
    assert torch.allclose(x[0, :300], wave[0, :300])          # untouched before the fade
    assert torch.allclose(x[1, :300], 2 * wave[1, :300] - wave[2, :300])
    assert x[:, 399].abs().max() < 1e-6                        # faded to zero at the end
    with pytest.raises(ValueError, match="exceeds the clip"):
        TransientBank(count=2, length=N + 1, num_samples=N)


# --------------------------------------------------------------------------- latent density
def test_class_density_is_standard_normal_before_fitting_and_fits_each_class():
    density = ClassDensity(num_classes=3, latent_dim=2, components=2, min_clips_per_component=50)
    g = torch.Generator().manual_seed(0)
    z = density.sample(4000, torch.zeros(4000, dtype=torch.long), g)
    assert z.mean(0).abs().max() < 0.1 and (z.std(0) - 1).abs().max() < 0.1
    # class 0 around (3, 0) with std 0.5, class 1 around (−3, 1) with std 0.2; no clip of class 2
    codes = torch.cat([torch.tensor([3.0, 0.0]) + 0.5 * torch.randn(400, 2, generator=g),
                       torch.tensor([-3.0, 1.0]) + 0.2 * torch.randn(400, 2, generator=g)])
    labels = torch.cat([torch.zeros(400), torch.ones(400)]).long()
    with pytest.warns(UserWarning, match="no training clip of class 2"):
        used = density.fit(codes, labels)
    assert used["0"] == 2 and used["all"] == 2
    for c, mean, std in ((0, (3.0, 0.0), 0.5), (1, (-3.0, 1.0), 0.2)):
        z = density.sample(4000, torch.full((4000,), c), torch.Generator().manual_seed(1))
        assert torch.allclose(z.mean(0), torch.tensor(mean), atol=0.05)
        assert torch.allclose(z.std(0), torch.full((2,), std), rtol=0.1)
    z2 = density.sample(4000, torch.full((4000,), 2), torch.Generator().manual_seed(1))
    assert (z2[:, 0] > 0).float().mean() == pytest.approx(0.5, abs=0.05)  # both classes' modes
    a = density.sample(5, torch.tensor([0, 1, 2, 0, -1]), torch.Generator().manual_seed(7))
    assert torch.equal(a, density.sample(5, torch.tensor([0, 1, 2, 0, -1]), torch.Generator().manual_seed(7)))
    with pytest.raises(ValueError, match="NaN"):
        density.fit(torch.full((4, 2), float("nan")), torch.zeros(4).long())

"""The synthkit drum machine: reproducible, well-formed clips; each voice sounds like its class."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.data import drum_synth
from bench.data.drum_synth import CLASSES, FACTORS, clip_rng, generate, render

SR = 16_000


def clips(cls: str, n: int, *, sr: int = SR, seconds: float = 0.5, seed: int = 11):
    c = CLASSES.index(cls)
    return [render(cls, clip_rng(seed, c, k), sr, seconds) for k in range(n)]


def spectrum(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    power = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    return np.fft.rfftfreq(x.size, 1 / sr), power


def centroid(x: np.ndarray, sr: int) -> float:
    freqs, power = spectrum(x, sr)
    return float((freqs * power).sum() / power.sum())


def energy(x: np.ndarray, sr: int, start_s: float, end_s: float) -> float:
    return float(np.sum(x[int(start_s * sr):int(end_s * sr)].astype(np.float64) ** 2))


def decay_time(x: np.ndarray, sr: int, drop_db: float = 40.0, frame_s: float = 0.005) -> float:
    """Seconds until the frame energy stays more than ``drop_db`` below its maximum."""
    hop = int(frame_s * sr)
    frames = x[: x.size // hop * hop].astype(np.float64).reshape(-1, hop)
    level = 10 * np.log10((frames ** 2).mean(axis=1) + 1e-30)
    return float((np.nonzero(level > level.max() - drop_db)[0][-1] + 1) * frame_s)


def dominant_hz(x: np.ndarray, sr: int, start_s: float, end_s: float, below_hz: float) -> float:
    seg = x[int(start_s * sr):int(end_s * sr)].astype(np.float64)
    seg = seg * np.hanning(seg.size)
    size = 1 << 16
    power = np.abs(np.fft.rfft(seg, size))
    freqs = np.fft.rfftfreq(size, 1 / sr)
    power[freqs > below_hz] = 0
    return float(freqs[np.argmax(power)])


def onsets(x: np.ndarray, sr: int, within_s: float, rise_db: float = 15.0) -> list[float]:
    """Times where the 2 ms energy jumps ``rise_db`` above its minimum over the previous 4 ms
    (and is within 20 dB of the loudest frame): the attacks of separate hits."""
    win, hop = int(0.002 * sr), int(0.0005 * sr)
    x = x.astype(np.float64)
    e = np.array([np.sum(x[i:i + win] ** 2) for i in range(0, int(within_s * sr), hop)])
    look = 8  # frames: 4 ms
    found: list[float] = []
    last = -look - 1
    for j, now in enumerate(e):
        before = e[max(0, j - look):j].min() if j else 0.0
        if now >= 0.01 * e.max() and now >= 10 ** (rise_db / 10) * before and j - last > look:
            found.append(j * hop / sr)
            last = j
    return found


# ---------------------------------------------------------------------------- well-formed clips

@pytest.mark.parametrize("cls", CLASSES)
def test_every_class_renders_a_well_formed_clip_with_its_declared_factors(cls):
    for x, factors in clips(cls, 3, seconds=0.37):
        assert x.dtype == np.float32 and x.shape == (round(SR * 0.37),)
        assert np.isfinite(x).all()
        peak = float(np.abs(x).max())
        assert 0.5 <= peak <= 0.95 and peak == pytest.approx(factors["peak"], rel=1e-5)
        assert x[0] == 0.0 and abs(float(x[-1])) < 1e-3  # attack from zero, faded tail
        assert np.abs(x[: int(0.003 * SR)]).max() > 0.1 * peak  # the hit is at the start
        assert list(factors) == list(FACTORS[cls])
        for name, value in factors.items():
            assert type(value) is float, name
            declared = FACTORS[cls][name]
            assert declared.low <= value <= declared.high, (cls, name, value)
    assert len(CLASSES) == len(set(CLASSES)) >= 9


def test_generate_is_deterministic_and_depends_on_the_seed():
    first = list(generate(7, 2, SR, 0.25))
    again = list(generate(7, 2, SR, 0.25))
    other = list(generate(8, 2, SR, 0.25))
    assert [c[0] for c in first] == [f"{cls}/{cls}_{k:04d}" for cls in CLASSES for k in range(2)]
    assert [c[1] for c in first] == [cls for cls in CLASSES for _ in range(2)]
    for a, b in zip(first, again):
        assert a[2].tobytes() == b[2].tobytes() and a[3] == b[3]
    for a, b in zip(first, other):
        assert a[2].tobytes() != b[2].tobytes() and a[3] != b[3]


def test_clip_k_is_the_same_whatever_the_dataset_size():
    small = {c[0]: c for c in generate(3, 2, SR, 0.25)}
    large = {c[0]: c for c in generate(3, 5, SR, 0.25)}
    assert set(small) < set(large) and len(large) == 5 * len(CLASSES)
    for clip_id, (_, _, audio, factors) in small.items():
        assert audio.tobytes() == large[clip_id][2].tobytes() and factors == large[clip_id][3]


def test_factors_depend_only_on_the_seed_not_on_rate_or_length():
    for c, cls in enumerate(CLASSES):
        _, low = render(cls, clip_rng(0, c, 4), 8000, 0.2)
        _, high = render(cls, clip_rng(0, c, 4), 44_100, 1.0)
        assert low == high


def test_low_sample_rates_still_render_every_voice():
    """The conformance kit renders at 8 kHz: filter edges above Nyquist must be capped."""
    for cls, (x, _) in zip(CLASSES, (render(cls, clip_rng(1, c, 0), 8000, 0.5)
                                     for c, cls in enumerate(CLASSES))):
        assert x.shape == (4000,) and np.isfinite(x).all() and np.abs(x).max() >= 0.5, cls


def test_bad_arguments_raise_clear_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="cowbel"):
        render("cowbel", rng)
    with pytest.raises(TypeError, match="Generator"):
        render("kick", 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seconds"):
        render("kick", rng, SR, 0.0)
    with pytest.raises(ValueError, match="sample_rate"):
        render("kick", rng, 0, 1.0)
    with pytest.raises(ValueError, match="seed"):
        generate(-1, 2)
    with pytest.raises(ValueError, match="clips_per_class"):
        generate(0, 0)


def test_square_oscillators_are_polyblep_squares():
    """The edge-built oscillator bank equals per-sample PolyBLEP squares summed."""
    freqs, n, sr = np.array([205.3, 540.0, 800.0, 3100.0]), 3000, SR
    phase0 = np.random.default_rng(5).uniform(0, 1, (freqs.size, 1))
    dt = (freqs / sr)[:, None]
    phase = (np.arange(n)[None, :] * dt + phase0) % 1.0

    def blep(p):
        d = np.broadcast_to(dt, p.shape)
        out = np.zeros_like(p)
        rise, fall = p < d, p > 1 - d
        out[rise] = -(1 - p[rise] / d[rise]) ** 2
        out[fall] = (1 + (p[fall] - 1) / d[fall]) ** 2
        return out

    expected = (np.where(phase < 0.5, 1.0, -1.0) + blep(phase) - blep((phase + 0.5) % 1.0)).sum(0)
    got = drum_synth._squares(freqs, n, sr, np.random.default_rng(5))
    np.testing.assert_allclose(got, expected, atol=1e-9)


# ---------------------------------------------------------------------------- the voices

def test_kick_is_low_and_hihat_is_high():
    kicks = [centroid(x, SR) for x, _ in clips("kick", 6)]
    hats = [centroid(x, SR) for x, _ in clips("closed_hihat", 6)]
    assert max(kicks) < 400 and min(hats) > 4000 and min(hats) > 10 * max(kicks)
    for cls, share in (("closed_hihat", 0.9), ("open_hihat", 0.9), ("cymbal", 0.6)):
        (x, _), = clips(cls, 1, sr=44_100, seconds=1.0)
        freqs, power = spectrum(x, 44_100)
        assert power[freqs > 5000].sum() > share * power.sum(), cls


def glide_hz(f: dict[str, float], t: float) -> float:
    """The recorded pitch glide: from ``pitch_glide_ratio × pitch_hz`` down to ``pitch_hz``."""
    return f["pitch_hz"] * (1 + (f["pitch_glide_ratio"] - 1) * np.exp(-t / f["glide_s"]))


def test_kick_pitch_falls_as_its_factors_say():
    for x, f in clips("kick", 6):
        early = dominant_hz(x, SR, 0.0, 0.02, below_hz=1000)
        late = dominant_hz(x, SR, 0.1, 0.2, below_hz=1000)
        assert early > 1.4 * late
        assert glide_hz(f, 0.02) < early < glide_hz(f, 0.0)
        assert 0.95 * f["pitch_hz"] < late < 1.05 * glide_hz(f, 0.1)


def test_tom_and_cowbell_ring_at_their_recorded_pitches():
    for x, f in clips("tom", 4):
        ringing = dominant_hz(x, SR, 0.1, 0.3, below_hz=1000)
        assert 0.97 * f["pitch_hz"] < ringing < 1.03 * glide_hz(f, 0.1)
    for x, f in clips("cowbell", 4):
        freqs, power = spectrum(x, SR)
        peaks = signal.find_peaks(power, distance=int(60 * x.size / SR))[0]
        strongest = freqs[peaks[np.argsort(power[peaks])[-2:]]]
        wanted = np.array([f["pitch_hz"], f["pitch_hz"] * f["tone_ratio"]])
        assert np.allclose(np.sort(strongest), wanted, rtol=0.03)


def test_snare_mixes_a_pitched_body_with_noise():
    for x, f in clips("snare", 4):
        freqs, power = spectrum(x, SR)
        noise_share = power[freqs > 1000].sum() / power.sum()
        assert 0.2 < noise_share < 0.98
        body = dominant_hz(x, SR, 0.0, 0.05, below_hz=600)
        assert 0.97 * f["pitch_hz"] < body < 1.03 * f["pitch_hz"] * f["pitch_glide_ratio"]


def test_closed_hihat_is_choked_open_hihat_rings_and_cymbal_rings_longest():
    def tail_ratio(x):
        return energy(x, SR, 0.2, 0.3) / energy(x, SR, 0.0, 0.05)

    closed = [x for x, _ in clips("closed_hihat", 5)]
    opened = [x for x, _ in clips("open_hihat", 5)]
    cymbals = [x for x, _ in clips("cymbal", 5, seconds=1.0)]
    assert max(tail_ratio(x) for x in closed) < 1e-6
    assert min(tail_ratio(x) for x in opened) > 1e-5
    assert max(decay_time(x, SR) for x in closed) < 0.1
    assert min(decay_time(x, SR) for x in opened) > 0.12
    assert min(decay_time(x, SR) for x in cymbals) > 0.5
    assert max(decay_time(x, SR) for x, _ in clips("rim", 5)) <= 0.03


def test_clap_is_a_train_of_separate_bursts():
    for x, f in clips("clap", 6):
        assert len(onsets(x, SR, within_s=0.04)) >= 3
        assert len(onsets(x, SR, within_s=0.07)) == f["n_bursts"]
    # the detector is not fooled by one decaying noise burst through the same kind of filter
    t = np.arange(SR // 2) / SR
    noise = np.random.default_rng(0).standard_normal(t.size) * np.exp(-6.9 * t / 0.3)
    one = signal.lfilter(*signal.butter(2, (900, 2200), "bandpass", fs=SR), noise)
    assert len(onsets(one, SR, within_s=0.07)) == 1


def test_a_simple_classifier_tells_the_classes_apart():
    """The benchmark's class-conditional metrics need classes that are acoustically distinct."""
    per_class = 16
    edges_hz = [0, 250, 1000, 2500, 5000, SR / 2]
    spans_s = [(0.0, 0.05), (0.05, 0.15), (0.15, 0.5)]
    features, labels = [], []
    for c, cls in enumerate(CLASSES):
        for x, _ in clips(cls, per_class, seed=21):
            row = []
            for start, end in spans_s:
                freqs, power = spectrum(x[int(start * SR):int(end * SR)], SR)
                row += [np.log10(power[(freqs >= lo) & (freqs < hi)].sum() + 1e-10)
                        for lo, hi in zip(edges_hz[:-1], edges_hz[1:])]
            features.append(row)
            labels.append(c)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    folds = StratifiedKFold(4, shuffle=True, random_state=0)
    accuracy = cross_val_score(model, np.array(features), np.array(labels), cv=folds).mean()
    assert accuracy > 0.85  # chance is 1/9

"""drumbench's procedural drum machine: the voices behind the embedded ``synthkit`` dataset.

Each voice is a small analogue-modelled circuit in the TR-808/909 tradition (gliding sine kicks
and toms, tone + noise snares, multi-burst claps, six-square metallic hats and cymbals, a
two-square cowbell, a rim click), written with numpy and ``scipy.signal`` only. Every clip draws
its own physical parameters from the ranges declared in :data:`FACTORS`; those draws are the
clip's ground-truth factors, so a benchmark can ask whether a model's latent space recovers them.

Conventions shared by all voices:

* ``decay_s`` (and every other ``*_decay_s``) is a T60: the time the envelope takes to fall 60 dB.
* The factors are drawn first, in declared order, before any noise or phase: a clip's factors
  depend only on its seed, never on the sample rate or the clip length.
* Every clip starts at sample 0 with a linear attack of ``attack_s`` (≤ 2 ms) so onsets align,
  ends with a short raised-cosine fade so nothing clicks, and is scaled to a peak of ``peak``.
* Filter edges are capped at 0.45 × the sample rate, so low rates (the 8 kHz conformance kit)
  still render; high voices then lose their top octave, their factors stay as drawn.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy import signal

CLASSES: tuple[str, ...] = ("kick", "snare", "clap", "closed_hihat", "open_hihat", "tom", "rim",
                            "cowbell", "cymbal")

#: ln(1000): ``exp(-_LN1000 * t / d)`` falls by 60 dB at ``t = d``.
_LN1000 = float(np.log(1000.0))
#: The TR-808's six hi-hat / cymbal square oscillators (Hz), as ratios of the lowest.
_METAL_RATIOS = np.array([205.3, 304.4, 369.6, 522.7, 540.0, 800.0]) / 205.3
_FADE_OUT_S = 0.01
#: Voices are rendered until their slowest envelope is 100 dB down (below 16-bit resolution),
#: plus this margin for burst offsets and filter ring; the rest of the clip is exact silence.
_TAIL_MARGIN_S = 0.06


@dataclass(frozen=True)
class Factor:
    """The range one synthesis parameter is drawn from (log-uniform for rates and times)."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def draw(self, rng: np.random.Generator) -> float:
        if self.integer:
            return float(rng.integers(int(self.low), int(self.high) + 1))
        if self.log:
            return float(np.exp(rng.uniform(np.log(self.low), np.log(self.high))))
        return float(rng.uniform(self.low, self.high))


def _log(low: float, high: float) -> Factor:
    return Factor(low, high, log=True)


def _lin(low: float, high: float) -> Factor:
    return Factor(low, high)


_COMMON = {"attack_s": _log(0.0002, 0.002), "peak": _lin(0.5, 0.95)}
_METAL = {"pitch_hz": _log(175.0, 245.0), "detune": _lin(0.0, 0.04), "noise_mix": _lin(0.15, 0.6)}

#: Per class, the factors a clip records and the ranges they are drawn from (draw order).
FACTORS: dict[str, dict[str, Factor]] = {
    "kick": {"pitch_hz": _log(40.0, 70.0), "pitch_glide_ratio": _lin(2.5, 5.0),
             "glide_s": _log(0.012, 0.06), "decay_s": _log(0.2, 0.8),
             "click_level": _lin(0.05, 0.5), "click_cutoff_hz": _log(1500.0, 6000.0),
             "drive": _log(1.0, 4.0), **_COMMON},
    "snare": {"pitch_hz": _log(150.0, 250.0), "tone_ratio": _lin(1.45, 1.95),
              "pitch_glide_ratio": _lin(1.0, 1.3), "glide_s": _log(0.005, 0.03),
              "decay_s": _log(0.08, 0.3), "noise_decay_s": _log(0.1, 0.4),
              "noise_mix": _lin(0.45, 0.8), "noise_cutoff_hz": _log(1200.0, 4000.0),
              "noise_lowpass_hz": _log(6000.0, 14000.0), **_COMMON},
    "clap": {"n_bursts": Factor(3, 4, integer=True), "burst_spacing_s": _lin(0.007, 0.013),
             "burst_jitter": _lin(0.0, 0.3), "burst_decay_s": _log(0.004, 0.01),
             "decay_s": _log(0.15, 0.5), "tail_level": _lin(0.3, 0.8),
             "noise_cutoff_hz": _log(900.0, 2200.0), "bandwidth_oct": _lin(0.7, 1.6), **_COMMON},
    "closed_hihat": {**_METAL, "highpass_hz": _log(6000.0, 9000.0), "decay_s": _log(0.03, 0.12),
                     **_COMMON},
    "open_hihat": {**_METAL, "highpass_hz": _log(6000.0, 9000.0), "decay_s": _log(0.25, 0.7),
                   **_COMMON},
    "tom": {"pitch_hz": _log(90.0, 300.0), "pitch_glide_ratio": _lin(1.1, 1.6),
            "glide_s": _log(0.02, 0.1), "decay_s": _log(0.3, 0.9), "noise_mix": _lin(0.02, 0.15),
            "noise_decay_s": _log(0.03, 0.1), "click_level": _lin(0.0, 0.3),
            "drive": _log(1.0, 2.0), **_COMMON},
    "rim": {"pitch_hz": _log(380.0, 560.0), "tone_ratio": _lin(3.2, 4.0),
            "decay_s": _log(0.008, 0.03), "tone_mix": _lin(0.4, 0.9),
            "noise_cutoff_hz": _log(1500.0, 5000.0), "drive": _log(1.0, 3.0), **_COMMON},
    "cowbell": {"pitch_hz": _log(480.0, 620.0), "tone_ratio": _lin(1.42, 1.56),
                "band_hz": _log(650.0, 1000.0), "bandwidth_oct": _lin(0.8, 1.6),
                "fast_decay_s": _log(0.03, 0.1), "decay_s": _log(0.15, 0.5),
                "tail_level": _lin(0.2, 0.5), **_COMMON},
    "cymbal": {**_METAL, "band_low_hz": _log(3000.0, 5500.0), "decay_s": _log(0.8, 2.5),
               "body_decay_s": _log(0.15, 0.5), "body_mix": _lin(0.1, 0.4), **_COMMON},
}


# ---------------------------------------------------------------------------- building blocks

def _decay(t: np.ndarray, t60: float) -> np.ndarray:
    return np.exp(-_LN1000 * t / t60)


def _unit(x: np.ndarray) -> np.ndarray:
    """Scaled to unit RMS, so mixing weights mean energy shares."""
    rms = float(np.sqrt(np.mean(x * x)))
    return x / rms if rms > 0 else x


def _filter(x: np.ndarray, sr: int, btype: str, cutoff: float | tuple[float, float],
            order: int = 2) -> np.ndarray:
    """Butterworth filter with edges capped below Nyquist (see the module notes)."""
    top = 0.45 * sr
    if btype == "bandpass":
        low, high = cutoff  # type: ignore[misc]
        high = min(high, top)
        low = min(low, 0.5 * high)
        wn: float | tuple[float, float] = (low, high)
    else:
        wn = min(float(cutoff), top)  # type: ignore[arg-type]
    # Transfer-function form: low orders only (≤ 6 poles, edges ≥ ~250 Hz) keep it well
    # conditioned, and it designs twice as fast as second-order sections.
    b, a = signal.butter(order, wn, btype=btype, fs=sr)
    return signal.lfilter(b, a, x)


def _band(centre: float, octaves: float) -> tuple[float, float]:
    return centre * 2.0 ** (-octaves / 2), centre * 2.0 ** (octaves / 2)


def _glide_phase(t: np.ndarray, f_end: float, ratio: float, glide_s: float) -> np.ndarray:
    """Phase of an oscillator gliding exponentially from ``ratio * f_end`` down to ``f_end``."""
    return 2 * np.pi * (f_end * t + (ratio - 1) * f_end * glide_s * (1 - np.exp(-t / glide_s)))


def _squares(freqs: np.ndarray, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Sum of free-running band-limited (PolyBLEP) square waves, one per frequency.

    Built from its edges: each edge adds a ±2 step (summed by one cumsum) and the PolyBLEP
    residual on the two samples around it, so the cost grows with the number of edges, not
    with oscillators × samples."""
    start = 0.0  # the summed naive squares at sample -1; index j below is sample j - 1
    at_step, step, at_blep, blep = [], [], [], []
    for dt, phase in zip(np.asarray(freqs, dtype=np.float64) / sr, rng.uniform(0, 1, len(freqs))):
        start += 1.0 if (phase - dt) % 1.0 < 0.5 else -1.0
        for offset, jump in ((0.0, 2.0), (0.5, -2.0)):
            # edge k sits at the (fractional) sample position s where s*dt + phase = k + offset
            k = np.arange(np.floor(phase - offset - dt) + 1, np.ceil(n * dt + phase - offset))
            s = (k + offset - phase) / dt
            s = s[(s > -1) & (s < n)]
            i = np.ceil(s).astype(np.int64)  # first sample after the edge
            frac = i - s
            at_step.append(i + 1)
            step.append(np.full(i.size, jump))
            at_blep += [i + 1, i]
            blep += [-(jump / 2) * (1 - frac) ** 2, (jump / 2) * frac ** 2]
    steps = np.bincount(np.concatenate(at_step), np.concatenate(step), minlength=n + 2)
    smooth = np.bincount(np.concatenate(at_blep), np.concatenate(blep), minlength=n + 2)
    return (start + np.cumsum(steps) + smooth)[1:n + 1]


def _click(rng: np.random.Generator, t: np.ndarray, sr: int, cutoff: float,
           t60: float = 0.006) -> np.ndarray:
    """A short high-passed noise transient with unit peak (the beater / stick hit)."""
    x = _filter(rng.standard_normal(t.size), sr, "highpass", cutoff) * _decay(t, t60)
    return x / max(float(np.abs(x).max()), 1e-12)


def _saturate(x: np.ndarray, drive: float) -> np.ndarray:
    return np.tanh(drive * x) / np.tanh(drive)


def _metal(f: dict[str, float], rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """The 808's six detuned squares (same ratios for hats and cymbal)."""
    freqs = f["pitch_hz"] * _METAL_RATIOS * (1 + f["detune"] * rng.uniform(-1, 1, 6))
    return _squares(freqs, n, sr, rng)


# ---------------------------------------------------------------------------- voices
# Each returns the dry voice (float64, any scale); render() adds attack, fade and peak level.

def _kick(f: dict[str, float], rng: np.random.Generator, t: np.ndarray, sr: int) -> np.ndarray:
    body = np.sin(_glide_phase(t, f["pitch_hz"], f["pitch_glide_ratio"], f["glide_s"]))
    body = _saturate(body * _decay(t, f["decay_s"]), f["drive"])
    return body + f["click_level"] * _click(rng, t, sr, f["click_cutoff_hz"])


def _snare(f: dict[str, float], rng: np.random.Generator, t: np.ndarray, sr: int) -> np.ndarray:
    f1, glide, g = f["pitch_hz"], f["pitch_glide_ratio"], f["glide_s"]
    tone = (np.sin(_glide_phase(t, f1, glide, g)) * _decay(t, f["decay_s"])
            + 0.6 * np.sin(_glide_phase(t, f1 * f["tone_ratio"], glide, g))
            * _decay(t, 0.7 * f["decay_s"]))
    noise = _filter(rng.standard_normal(t.size), sr, "bandpass",
                    (f["noise_cutoff_hz"], f["noise_lowpass_hz"]))
    noise *= _decay(t, f["noise_decay_s"])
    mix = f["noise_mix"]
    return (1 - mix) * _unit(tone) + mix * _unit(noise)


def _clap(f: dict[str, float], rng: np.random.Generator, t: np.ndarray, sr: int) -> np.ndarray:
    """Hand claps: n quick noise bursts (each at unit peak, as the circuit's retriggered
    envelope gives them) and a reverb-like noise tail from the last burst on."""
    band = _band(f["noise_cutoff_hz"], f["bandwidth_oct"])
    n_bursts = int(f["n_bursts"])
    gaps = f["burst_spacing_s"] * (1 + f["burst_jitter"] * rng.uniform(-1, 1, n_bursts - 1))
    starts = np.round(np.concatenate([[0.0], np.cumsum(gaps)]) * sr).astype(np.int64)
    starts = starts[starts < t.size]
    out = np.zeros_like(t)
    span = int(np.ceil((2 * f["burst_decay_s"] + 0.01) * sr))  # -120 dB, then 10 ms of ring
    for start in starts:
        end = min(start + span, t.size)
        burst = rng.standard_normal(end - start) * _decay(t[:end - start], f["burst_decay_s"])
        burst = _filter(burst, sr, "bandpass", band)
        out[start:end] += burst / max(float(np.abs(burst).max()), 1e-12)
    last = starts[-1]
    tail = rng.standard_normal(t.size - last) * _decay(t[:t.size - last], f["decay_s"])
    tail = _filter(tail, sr, "bandpass", (band[0], 2 * band[1]))  # the room: a wider band
    out[last:] += f["tail_level"] * tail / max(float(np.abs(tail).max()), 1e-12)
    return out


def _hihat(f: dict[str, float], rng: np.random.Generator, t: np.ndarray, sr: int) -> np.ndarray:
    metal = _filter(_metal(f, rng, t.size, sr), sr, "highpass", f["highpass_hz"], order=4)
    noise = _filter(rng.standard_normal(t.size), sr, "highpass", f["highpass_hz"], order=4)
    mix = f["noise_mix"]
    return ((1 - mix) * _unit(metal) + mix * _unit(noise)) * _decay(t, f["decay_s"])


def _tom(f: dict[str, float], rng: np.random.Generator, t: np.ndarray, sr: int) -> np.ndarray:
    body = np.sin(_glide_phase(t, f["pitch_hz"], f["pitch_glide_ratio"], f["glide_s"]))
    body = _saturate(body * _decay(t, f["decay_s"]), f["drive"])
    noise = _filter(rng.standard_normal(t.size), sr, "lowpass", 8 * f["pitch_hz"])
    noise = _unit(noise) * _decay(t, f["noise_decay_s"])
    click = _click(rng, t, sr, 2000.0, t60=0.004)
    return body + f["noise_mix"] * noise + f["click_level"] * click


def _rim(f: dict[str, float], rng: np.random.Generator, t: np.ndarray, sr: int) -> np.ndarray:
    f1 = f["pitch_hz"]
    tone = np.sin(2 * np.pi * f1 * t) + 0.5 * np.sin(2 * np.pi * f1 * f["tone_ratio"] * t)
    tone *= _decay(t, f["decay_s"])
    click = _filter(rng.standard_normal(t.size), sr, "bandpass", _band(f["noise_cutoff_hz"], 1.0))
    click *= _decay(t, 0.3 * f["decay_s"])
    mix = f["tone_mix"]
    x = _filter(mix * _unit(tone) + (1 - mix) * _unit(click), sr, "highpass", 250.0)
    return _saturate(x / max(float(np.abs(x).max()), 1e-12), f["drive"])


def _cowbell(f: dict[str, float], rng: np.random.Generator, t: np.ndarray, sr: int) -> np.ndarray:
    f1 = f["pitch_hz"]
    tone = _squares(np.array([f1, f1 * f["tone_ratio"]]), t.size, sr, rng)
    tone = _filter(tone, sr, "bandpass", _band(f["band_hz"], f["bandwidth_oct"]))
    tail = f["tail_level"]
    return tone * ((1 - tail) * _decay(t, f["fast_decay_s"]) + tail * _decay(t, f["decay_s"]))


def _cymbal(f: dict[str, float], rng: np.random.Generator, t: np.ndarray, sr: int) -> np.ndarray:
    metal = _metal(f, rng, t.size, sr)
    mix = f["noise_mix"]
    source = (1 - mix) * _unit(metal) + mix * _unit(rng.standard_normal(t.size))
    low = f["band_low_hz"]
    shimmer = _unit(_filter(source, sr, "bandpass", (low, 16000.0), order=3))
    body = _unit(_filter(source, sr, "bandpass", (low / 2.5, low)))
    body_mix = f["body_mix"]
    return ((1 - body_mix) * shimmer * _decay(t, f["decay_s"])
            + body_mix * body * _decay(t, f["body_decay_s"]))


_Voice = Callable[[dict[str, float], np.random.Generator, np.ndarray, int], np.ndarray]
_VOICES: dict[str, _Voice] = {"kick": _kick, "snare": _snare, "clap": _clap,
                              "closed_hihat": _hihat, "open_hihat": _hihat, "tom": _tom,
                              "rim": _rim, "cowbell": _cowbell, "cymbal": _cymbal}


# ---------------------------------------------------------------------------- public API

def _clip_samples(sample_rate: int, seconds: float) -> int:
    if int(sample_rate) != sample_rate or sample_rate < 1000:
        raise ValueError(f"drum synth: sample_rate must be an integer ≥ 1000 Hz, "
                         f"got {sample_rate}")
    if not np.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"drum synth: seconds must be > 0, got {seconds}")
    n = int(round(sample_rate * seconds))
    if n < 1:
        raise ValueError(f"drum synth: {seconds} s at {sample_rate} Hz is less than one sample")
    return n


def render(cls: str, rng: np.random.Generator, sample_rate: int = 44100,
           seconds: float = 1.0) -> tuple[np.ndarray, dict[str, float]]:
    """One clip of ``cls``: float32 mono, ``round(sample_rate * seconds)`` samples, peak ≤ 1,
    and the factors drawn for it (see :data:`FACTORS`). An unknown class is a ValueError."""
    if cls not in _VOICES:
        raise ValueError(f"drum synth: unknown class {cls!r}; known classes: {', '.join(CLASSES)}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"drum synth: rng must be a numpy.random.Generator, "
                        f"got {type(rng).__name__}")
    n = _clip_samples(sample_rate, seconds)
    factors = {name: factor.draw(rng) for name, factor in FACTORS[cls].items()}
    slowest = max(v for k, v in factors.items() if k.endswith("decay_s"))
    voiced = min(n, int(np.ceil(sample_rate * (slowest * 100 / 60 + _TAIL_MARGIN_S))))
    x = np.zeros(n)
    x[:voiced] = _VOICES[cls](factors, rng, np.arange(voiced) / sample_rate, int(sample_rate))
    rise = min(int(np.ceil(factors["attack_s"] * sample_rate)), n)
    x[:rise] *= np.arange(rise) / (factors["attack_s"] * sample_rate)
    fade = min(int(round(_FADE_OUT_S * sample_rate)), n // 4)
    if fade > 0:
        x[n - fade:] *= 0.5 * (1 + np.cos(np.pi * np.arange(1, fade + 1) / fade))
    top = float(np.abs(x[:voiced]).max())
    if top > 0:
        x[:voiced] *= factors["peak"] / top
    return x.astype(np.float32), factors


def clip_rng(seed: int, class_index: int, clip_index: int) -> np.random.Generator:
    """The generator of clip ``clip_index`` of class ``class_index``: the same clip whatever
    the dataset size, because it depends on nothing else."""
    return np.random.default_rng(np.random.SeedSequence([seed, class_index, clip_index]))


def generate(seed: int, clips_per_class: int, sample_rate: int = 44100,
             seconds: float = 1.0) -> Iterator[tuple[str, str, np.ndarray, dict[str, float]]]:
    """Every class × clip as ``(clip_id, cls, audio, factors)``, class by class, with
    ``clip_id`` like ``"kick/kick_0007"``; deterministic from ``seed``."""
    if int(seed) != seed or seed < 0:
        raise ValueError(f"drum synth: seed must be a non-negative integer, got {seed!r}")
    if int(clips_per_class) != clips_per_class or clips_per_class < 1:
        raise ValueError(f"drum synth: clips_per_class must be an integer ≥ 1, "
                         f"got {clips_per_class!r}")
    _clip_samples(sample_rate, seconds)  # bad arguments fail here, not at the first next()
    return _clips(int(seed), int(clips_per_class), int(sample_rate), float(seconds))


def _clips(seed: int, clips_per_class: int, sample_rate: int,
           seconds: float) -> Iterator[tuple[str, str, np.ndarray, dict[str, float]]]:
    for c, cls in enumerate(CLASSES):
        for k in range(clips_per_class):
            audio, factors = render(cls, clip_rng(seed, c, k), sample_rate, seconds)
            yield f"{cls}/{cls}_{k:04d}", cls, audio, factors

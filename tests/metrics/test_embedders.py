"""The built-in embedders: shapes, determinism, separation of sound families, and the hub models'
fail-fast path (their weights are not on the test machine)."""
from __future__ import annotations

import sys
import time

import numpy as np
import pytest
import torch

from bench import registry
from bench.api.embedder import Embedder, EmbedderUnavailable
from bench.metrics.embedders.aisfx import AisfxEmbedder, block_starts, frame_count
from bench.metrics.embedders.hub import ClapEmbedder, EncodecEmbedder, PannEmbedder, VggishEmbedder
from bench.metrics.embedders.mel import MelStatsEmbedder


def hats(sr: int, n: int, seconds: float, seed: int) -> np.ndarray:
    """Bright, short, noisy: first-differenced white noise with a 20–80 ms decay."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    out = []
    for _ in range(n):
        noise = np.diff(rng.standard_normal(len(t) + 1))
        noise /= np.abs(noise).max()
        out.append(rng.uniform(0.3, 0.9) * noise * np.exp(-t / rng.uniform(0.02, 0.08)))
    return np.asarray(out, dtype=np.float32)


def kicks(sr: int, n: int, seconds: float, seed: int) -> np.ndarray:
    """Dark, tonal: a sine falling from ~150 Hz to ~50 Hz with a 150–400 ms decay."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    out = []
    for _ in range(n):
        f_hi, f_lo, drop = rng.uniform(120, 180), rng.uniform(40, 60), rng.uniform(0.02, 0.06)
        freq = f_lo + (f_hi - f_lo) * np.exp(-t / drop)
        phase = 2 * np.pi * np.cumsum(freq) / sr
        out.append(rng.uniform(0.5, 0.9) * np.sin(phase) * np.exp(-t / rng.uniform(0.15, 0.4)))
    return np.asarray(out, dtype=np.float32)


def separation(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(mean distance between the families, largest mean distance within one family)."""
    def mean_dist(x, y, same):
        d = np.linalg.norm(x[:, None] - y[None], axis=-1)
        return d[~np.eye(len(x), dtype=bool)].mean() if same else d.mean()
    return mean_dist(a, b, False), max(mean_dist(a, a, True), mean_dist(b, b, True))


@pytest.fixture(scope="module")
def mel() -> MelStatsEmbedder:
    return MelStatsEmbedder(device="cpu")


@pytest.fixture(scope="module")
def aisfx() -> AisfxEmbedder:
    return AisfxEmbedder(device="cpu")


# --- registry -----------------------------------------------------------------------------------

def test_builtin_names_resolve_to_embedders_with_matching_names():
    builtins = registry.KINDS["embedders"].builtins
    assert set(builtins) == {"aisfx", "mel", "mfcc", "vggish", "pann", "clap", "encodec"}
    for name in builtins:
        cls = registry.resolve("embedders", name)
        assert issubclass(cls, Embedder) and cls.name == name
        assert cls.sample_rate > 0 and cls.dim > 0 and cls.version


# --- mel ----------------------------------------------------------------------------------------

def test_mel_shape_dtype_and_determinism(mel):
    clips = np.concatenate([hats(16000, 3, 1.0, 0), kicks(16000, 3, 1.0, 1)])
    first = mel.embed(clips)
    assert first.vectors.shape == (6, 256) and first.vectors.dtype == np.float64
    assert np.isfinite(first.vectors).all() and first.notes == []
    assert np.array_equal(first.vectors, mel.embed(clips).vectors)
    alone = mel.embed(clips[2:3]).vectors[0]       # a clip's vector does not depend on its batch
    np.testing.assert_allclose(alone, first.vectors[2], rtol=1e-9, atol=1e-9)
    # the four blocks are mean, std, delta mean, delta std of the log-mel bands
    assert (first.vectors[:, 64:128] >= 0).all() and (first.vectors[:, 192:] >= 0).all()
    assert not np.allclose(first.vectors[:, :64], first.vectors[:, 128:192])


def test_mel_pads_short_clips_and_says_so(mel):
    result = mel.embed(np.full((2, 300), 0.1, dtype=np.float32))
    assert result.vectors.shape == (2, 256) and np.isfinite(result.vectors).all()
    assert len(result.notes) == 1 and "padded 2 clips of 0.019 s" in result.notes[0]


@pytest.mark.parametrize("bad, match", [
    (np.zeros(100, dtype=np.float32), "shape"),
    (np.zeros((2, 0), dtype=np.float32), "empty"),
    (np.zeros((2, 100), dtype=np.int16), "dtype"),
    (np.array([[0.0, np.nan] * 600], dtype=np.float32), "NaN"),
])
def test_bad_input_is_refused_with_the_reason(mel, bad, match):
    with pytest.raises(ValueError, match=match):
        mel.embed(bad)


# --- aisfx --------------------------------------------------------------------------------------

def test_aisfx_shape_dtype_determinism_and_padding_note(aisfx):
    clips = np.concatenate([hats(44100, 2, 1.0, 2), kicks(44100, 2, 1.0, 3)])
    first = aisfx.embed(clips)
    assert first.vectors.shape == (4, 512) and first.vectors.dtype == np.float64
    assert np.isfinite(first.vectors).all() and (first.vectors >= 0).any()
    assert np.array_equal(first.vectors, aisfx.embed(clips).vectors)
    frames = frame_count(44100)
    assert frames == 45
    assert first.notes == [f"clips of 1.00 s fill 45% of aisfx's 2.32 s block ({frames} of 100 frames); "
                           f"the rest is zero-padded, as aisfx pads"]


def test_aisfx_long_clips_span_blocks_and_the_partial_block_is_noted(aisfx):
    clips = kicks(44100, 2, 3.5, 4)
    result = aisfx.embed(clips)
    assert result.vectors.shape == (2, 512)
    assert block_starts(frame_count(clips.shape[1])) == [0, 50]      # 152 frames: blocks 0–99, 50–149
    assert "span 2 aisfx block(s)" in result.notes[0] and "last 2 frames are dropped" in result.notes[0]


def test_aisfx_batch_size_does_not_change_embeddings():
    clips = np.concatenate([hats(44100, 2, 0.5, 5), kicks(44100, 1, 0.5, 6)])
    big = AisfxEmbedder(device="cpu", batch_size=32).embed(clips).vectors
    small = AisfxEmbedder(device="cpu", batch_size=1).embed(clips).vectors
    np.testing.assert_allclose(small, big, rtol=1e-5, atol=1e-5)


# --- both separate two sound families -----------------------------------------------------------

@pytest.mark.parametrize("which", ["mel", "aisfx"])
def test_embeddings_separate_hats_from_kicks(which, mel, aisfx):
    embedder = {"mel": mel, "aisfx": aisfx}[which]
    sr = embedder.sample_rate
    a = embedder.embed(hats(sr, 6, 1.0, 7)).vectors
    b = embedder.embed(kicks(sr, 6, 1.0, 8)).vectors
    between, within = separation(a, b)
    assert between > 1.5 * within, (which, between, within)


# --- hub models fail fast without their weights ---------------------------------------------------

@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    """torch.hub and the Hugging Face cache pointed at empty folders, as on a fresh machine."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.mark.parametrize("name, sr, missing_file", [
    ("vggish", 16000, "vggish-10086976.pth"),
    ("pann", 16000, "Cnn14_16k_mAP%3D0.438.pth"),
    ("clap", 48000, "630k-audioset-best.pt"),
    ("encodec", 24000, "encodec_24khz-d7cc33bc.th"),
])
def test_hub_embedder_without_weights_fails_fast_naming_the_files(empty_caches, name, sr, missing_file):
    imported_before = "frechet_audio_distance" in sys.modules
    embedder = registry.embedder(name)
    start = time.monotonic()
    with pytest.raises(EmbedderUnavailable) as info:
        embedder.embed(np.zeros((2, sr), dtype=np.float32))
    elapsed = time.monotonic() - start
    assert elapsed < 30, f"{name} took {elapsed:.1f} s to give up"
    message = str(info.value)
    assert missing_file in message
    assert str(empty_caches / "torch" / "hub") in message
    assert f'FrechetAudioDistance(model_name="{name}", sample_rate={sr})' in message
    if not imported_before:     # the package (and laion_clap's hub calls) were never imported
        assert "frechet_audio_distance" not in sys.modules


def test_hub_check_lists_only_what_is_still_missing(empty_caches):
    hub = empty_caches / "torch" / "hub"
    vggish = VggishEmbedder()
    assert len(vggish.missing()) == 3
    (hub / "checkpoints").mkdir(parents=True)
    (hub / "checkpoints" / "vggish-10086976.pth").write_bytes(b"x")
    (hub / "harritaylor_torchvggish_master").mkdir()
    (hub / "harritaylor_torchvggish_master" / "hubconf.py").write_text("")
    assert [line.split(":")[0] for line in vggish.missing()] == ["VGGish PCA parameters (loaded by the constructor)"]

    (hub / "checkpoints" / "encodec_24khz-d7cc33bc.th").write_bytes(b"x")
    assert EncodecEmbedder().missing() == []

    snapshot = empty_caches / "hf" / "hub" / "models--roberta-base" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (snapshot / "model.safetensors").write_bytes(b"x")
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("abc123")
    assert [line.split(":")[0] for line in ClapEmbedder().missing()] == ["CLAP checkpoint"]


class FakeVggish:
    """Stands in for torchvggish: one 'example' per 0.96 s, each embedding = example index + clip level."""

    def _preprocess(self, clip, sr):
        k = 1 + (len(clip) - 15600) // 15360
        return torch.stack([torch.full((1, 96, 64), float(clip[0]) + i) for i in range(k)])

    def __call__(self, examples):
        return examples.mean(dim=(1, 2, 3))[:, None].repeat(1, 128)


class FakeEncoder:
    def encoder(self, x):                      # (b, 1, T) → (b, 128, T // 320)
        frames = x[:, :, : x.shape[-1] // 320 * 320].reshape(x.shape[0], 1, -1, 320).mean(-1)
        return frames.repeat(1, 128, 1)


def test_hub_batching_keeps_one_vector_per_clip(monkeypatch):
    """The weights-present path minus the package: padding, batching, per-clip reduction."""
    vggish = VggishEmbedder(device="cpu", batch_size=2)
    monkeypatch.setattr(vggish, "_load", lambda: FakeVggish())
    levels = np.array([0.1, 0.2, 0.3], dtype=np.float32)
    two_seconds = np.repeat(levels[:, None], 32000, axis=1)       # 2 examples per clip: level, level + 1
    result = vggish.embed(two_seconds)
    np.testing.assert_allclose(result.vectors, np.repeat(levels[:, None] + 0.5, 128, axis=1), rtol=1e-6)
    assert "give 2 examples of 0.96 s each" in result.notes[0]
    short = vggish.embed(np.full((2, 8000), 0.1, dtype=np.float32))
    assert short.vectors.shape == (2, 128) and "padded 2 clips of 0.500 s with zeros to 0.975 s" in short.notes[0]

    pann = PannEmbedder(device="cpu")
    monkeypatch.setattr(pann, "_load", lambda: lambda x, _: {"embedding": x.mean(-1, keepdim=True).repeat(1, 2048)})
    assert pann.embed(np.full((3, 16000), 0.1, dtype=np.float32)).vectors.shape == (3, 2048)  # not flattened

    encodec = EncodecEmbedder(device="cpu")
    monkeypatch.setattr(encodec, "_load", lambda: FakeEncoder())
    clips = np.stack([np.full(24000, 0.1), np.linspace(0, 1, 24000)]).astype(np.float32)
    result = encodec.embed(clips)
    assert result.vectors.shape == (2, 128)
    np.testing.assert_allclose(result.vectors[:, 0], [0.1, 0.5], atol=1e-3)
    assert result.notes == ["encodec: 75 encoder frames per clip (75 Hz), averaged"]


def test_mfcc_embedder_is_small_deterministic_and_separates_families():
    from bench.metrics.embedders.mfcc import MfccStatsEmbedder

    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    tones = np.stack([np.sin(2 * np.pi * f * t) * np.exp(-t / 0.2) for f in (60, 70, 80, 90)])
    hiss = rng.standard_normal((4, 16000)) * np.exp(-t / 0.05)
    emb = MfccStatsEmbedder(device="cpu")
    a = emb.embed(np.concatenate([tones, hiss]).astype(np.float32)).vectors
    assert a.shape == (8, 40) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, emb.embed(np.concatenate([tones, hiss]).astype(np.float32)).vectors)
    within = np.linalg.norm(a[0] - a[1]) + np.linalg.norm(a[4] - a[5])
    across = np.linalg.norm(a[0] - a[4]) + np.linalg.norm(a[1] - a[5])
    assert across > 2 * within

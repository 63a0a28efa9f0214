"""Our batched aisfx embeddings against the aisfx package's own per-file extraction.

The package's extraction (``aisfx.inference.main``) reads files through Essentia, the front end its
model was trained on, so this test needs the ``essentia`` wheel. Two things in the package's path
are adjusted, and nothing else:

* torch ≥ 2.6 loads checkpoints with ``weights_only=True`` by default and the package's
  ``torch.load`` call predates that; TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 (torch's own switch)
  restores the old default for that call (the file is the one shipped in the wheel).
* With its default block hop (50 frames) the package asserts the hop is shorter than the clip, so
  it refuses clips of ≤ 50 frames (≤ 1.14 s). For our 1 s clips it is called with
  ``emb_hop_size=0.01``: a clip shorter than one block gives one zero-padded block whatever the hop.
"""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from bench.metrics.embedders.aisfx import (SPEC_MAX, AisfxEmbedder, block_starts, essentia_mel_filterbank,
                                           frame_count)

SR = 44100
pytestmark = pytest.mark.filterwarnings("ignore:Environment variable TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")


def essentia():
    try:
        import essentia.standard
    except ImportError as err:   # a clear failure, not a skip: the parity is the point of this file
        raise AssertionError("the aisfx parity test needs Essentia, the package's audio front end: "
                             "pip install --no-deps essentia==2.1b6.dev1389 six") from err
    return essentia.standard


def make_clips(seconds: float, seed: int) -> np.ndarray:
    """Decaying noise bursts (one louder than full scale, to exercise clipping), sweeps, a kick."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    burst = rng.standard_normal(len(t)) * np.exp(-t / 0.05)                      # peaks above 1
    soft_burst = rng.standard_normal(len(t)) * np.exp(-t / 0.2)
    soft_burst *= 0.5 / np.abs(soft_burst).max()
    sweep = 0.7 * np.sin(2 * np.pi * (200 * t + 3000 * t ** 2)) * np.exp(-t / 0.5)
    freq = 50 + 100 * np.exp(-t / 0.04)
    kick = 0.9 * np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t / 0.3)
    return np.stack([burst, soft_burst, sweep, kick]).astype(np.float32)


def package_embeddings(clips: np.ndarray, tmp_path, emb_hop_size: float) -> list[np.ndarray]:
    """The package's per-file extraction, run on WAV files of ``clips``: one (blocks, 512) array each."""
    from aisfx import inference

    audio_dir, out_dir = tmp_path / "audio", tmp_path / "emb"
    audio_dir.mkdir()
    for i, clip in enumerate(clips):
        sf.write(audio_dir / f"clip{i}.wav", clip, SR, subtype="FLOAT")
    inference.main(str(audio_dir), str(out_dir), spectrogram_type="essentia", use_cuda=False,
                   emb_hop_size=emb_hop_size)
    return [np.load(out_dir / f"clip{i}.npy") for i in range(len(clips))]


@pytest.fixture
def weights_only_off(monkeypatch):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")


@pytest.mark.parametrize("seconds, emb_hop_size", [(1.0, 0.01), (3.5, 0.5)])
def test_batched_embeddings_equal_the_package_per_file(tmp_path, weights_only_off, seconds, emb_hop_size):
    essentia()
    clips = make_clips(seconds, seed=int(seconds * 10))
    reference = package_embeddings(clips, tmp_path, emb_hop_size)
    n_blocks = len(block_starts(frame_count(clips.shape[1])))
    assert [r.shape for r in reference] == [(n_blocks, 512)] * len(clips)
    ours = AisfxEmbedder(device="cpu").embed(clips)
    expected = np.stack([r.mean(axis=0) for r in reference])
    np.testing.assert_allclose(ours.vectors, expected, rtol=1e-5, atol=1e-4)
    assert any("clipped 1 of 4 clips" in note for note in ours.notes)


def test_package_refuses_one_second_clips_with_its_default_hop(tmp_path, weights_only_off):
    essentia()
    with pytest.raises(AssertionError):
        package_embeddings(make_clips(1.0, seed=0)[:1], tmp_path, emb_hop_size=0.5)


def test_spectrogram_equals_the_package_essentia_front_end(tmp_path):
    essentia()
    from aisfx.inference import F_MAX, F_MIN, MEL_BINS, SPEC_BLOCK_LENGTH, SPEC_HOP_LENGTH
    from aisfx.preprocessing import spectrogram_normalize
    from aisfx.spectrogram.spectrogram_essentia import compute_spectrogram

    clips = make_clips(0.6, seed=3)
    ours = AisfxEmbedder(device="cpu").spectrogram(torch.from_numpy(clips)).numpy()
    for i, clip in enumerate(clips):
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, clip, SR, subtype="FLOAT")
        spec = compute_spectrogram(filename=str(path), sr=float(SR), block_size=SPEC_BLOCK_LENGTH,
                                   hop_size=SPEC_HOP_LENGTH, n_mels=MEL_BINS, f_min=F_MIN, f_max=F_MAX)
        spec = spectrogram_normalize(spec, spec_norm="original")
        assert spec.shape == ours[i].shape == (frame_count(clips.shape[1]), 96)
        np.testing.assert_allclose(ours[i], spec, atol=1e-5)
    assert SPEC_MAX == 9.457798957824707


def test_filterbank_equals_essentia_melbands():
    es = essentia()
    bands = es.MelBands(inputSize=1025, numberBands=96, sampleRate=SR, lowFrequencyBound=0,
                        highFrequencyBound=22050, warpingFormula="htkMel", weighting="warping",
                        normalize="unit_sum", type="power", log=False)
    probed = np.stack([bands(row) for row in np.eye(1025, dtype=np.float32)], axis=1)   # unit |X| per bin
    np.testing.assert_allclose(essentia_mel_filterbank(), probed, atol=1e-6)


def test_block_layout_equals_the_package_blocking():
    from aisfx.preprocessing import blocking

    for n_frames in range(2, 420):
        data = np.arange(n_frames, dtype=float)[:, None] + 1.0          # frame index + 1, zero = padding
        blocks = blocking(data, block_size=100, hop_size=50, drop_partial_block=True)
        starts = [int(b[0, 0]) - 1 for b in blocks]
        assert starts == block_starts(n_frames), n_frames

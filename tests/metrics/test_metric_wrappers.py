"""FAD/KAD/PRDC/memorisation/classifier metrics move the right way on real drum sounds."""
from __future__ import annotations

import numpy as np
import pytest

from bench.data.drum_synth import CLASSES, generate
from bench.metrics.class_metrics import ClassAccuracy, ClassKL, InceptionScore, KID
from bench.metrics.distances import EmbeddingError
from bench.metrics.fad import FAD, FADInf
from bench.metrics.fidelity import Coverage, Precision
from bench.metrics.kad import KAD
from bench.metrics.memorization import Memorization
from tests.metrics.helpers import make_context

SR = 16000


@pytest.fixture(scope="module")
def drums():
    audio, labels = [], []
    for _, cls, clip, _ in generate(3, 24, SR, 1.0):
        audio.append(clip)
        labels.append(CLASSES.index(cls))
    audio, labels = np.stack(audio), np.asarray(labels)
    k = np.arange(len(labels)) % 24
    return {"train": (audio[k < 10], labels[k < 10]), "held": (audio[(k >= 10) & (k < 16)], labels[(k >= 10) & (k < 16)]),
            "test": (audio[k >= 16], labels[k >= 16])}


def _noise(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(SR) / SR
    return (rng.standard_normal((n, SR)) * np.exp(-t / rng.uniform(0.03, 0.5, (n, 1)))).astype(np.float32) * 0.5


def _ctx(drums, generated, labels, tmp_path):
    return make_context(generated, labels, *drums["test"], *drums["train"], CLASSES, sample_rate=SR,
                        capabilities=frozenset({"sample", "conditional"}), artefacts_dir=tmp_path)


def _mix(clean: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(clean.shape)
    gain = np.sqrt((clean**2).mean(axis=1, keepdims=True) / (noise**2).mean(axis=1, keepdims=True)) \
        * 10 ** (-snr_db / 20)
    out = clean + gain * noise
    return (out / np.abs(out).max(axis=1, keepdims=True)).astype(np.float32)


def test_real_beats_noise_on_every_metric(drums, tmp_path):
    held, held_labels = drums["held"]
    real = _ctx(drums, held, held_labels, tmp_path)
    noise = _ctx(drums, _noise(len(held)), held_labels, tmp_path)
    for metric in (FAD("mfcc"), KAD("mel"), Precision("mel"), Coverage("mel"), ClassAccuracy(),
                   InceptionScore(), KID(), ClassKL()):
        r, n = metric.compute(real).value, metric.compute(noise).value
        better = r > n if metric.higher_is_better else r < n
        assert better, (metric.name, r, n)


def test_degradation_raises_fad_and_kad_and_lowers_accuracy(drums, tmp_path):
    held, held_labels = drums["held"]
    fad, kad, acc = [], [], []
    for snr in (30, 20, 10, 0):
        ctx = _ctx(drums, _mix(held, snr), held_labels, tmp_path)
        fad.append(FAD("mfcc").compute(ctx).value)
        kad.append(KAD("mel").compute(ctx).value)
        acc.append(ClassAccuracy().compute(ctx).value)
    assert fad == sorted(fad) and kad == sorted(kad), (fad, kad)
    assert acc[0] > acc[-1], acc


def test_kad_of_two_real_halves_has_zero_in_its_interval(drums, tmp_path):
    test, labels = drums["test"]
    held, held_labels = drums["held"]
    ctx = make_context(held, held_labels, test, labels, *drums["train"], CLASSES, sample_rate=SR)
    value = KAD("mel").compute(ctx)
    assert value.ci95[0] <= 0.0 <= value.ci95[1], value


def test_memorization_flags_copies_and_not_novel_clips(drums, tmp_path):
    train, train_labels = drums["train"]
    held, held_labels = drums["held"]
    copies = Memorization("mel").compute(_ctx(drums, train[: len(held)], train_labels[: len(held)], tmp_path))
    novel = Memorization("mel").compute(_ctx(drums, held, held_labels, tmp_path))
    assert copies.value > 0.9 and novel.value < 0.3, (copies.value, novel.value)
    assert copies.details["distance_ratio"] < novel.details["distance_ratio"]


def test_fad_inf_details_and_per_class(drums, tmp_path):
    held, held_labels = drums["held"]
    ctx = _ctx(drums, np.concatenate([held] * 2), np.concatenate([held_labels] * 2), tmp_path)
    fad = FAD("mfcc").compute(ctx)
    assert set(fad.details["per_class"]) == set(CLASSES)
    assert all(isinstance(v, str) for v in fad.details["per_class"].values())  # 8 clips < 40 dims: said why
    inf = FADInf("mfcc").compute(ctx)
    assert 0 <= inf.details["r2"] <= 1 and len(inf.details["n"]) >= 3


def test_a_nan_embedding_raises_instead_of_scoring(drums, tmp_path):
    held, held_labels = drums["held"]
    ctx = _ctx(drums, held, held_labels, tmp_path)
    real_embed = ctx.embed

    def broken(name, clips):
        out = real_embed(name, clips).copy()
        out[0, 0] = np.nan
        return out
    ctx.embed = broken
    for metric in (FAD("mfcc"), KAD("mel"), Precision("mel"), Memorization("mel")):
        with pytest.raises(EmbeddingError, match="NaN"):
            metric.compute(ctx)


def test_class_accuracy_confusion_rows_sum_to_requests(drums, tmp_path):
    held, held_labels = drums["held"]
    value = ClassAccuracy().compute(_ctx(drums, held, held_labels, tmp_path))
    confusion = np.asarray(value.details["confusion"])
    assert confusion.sum(axis=1).tolist() == np.bincount(held_labels, minlength=len(CLASSES)).tolist()
    assert value.details["classifier_test_accuracy"] > 0.8

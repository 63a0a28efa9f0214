"""Every metric and every offline embedder moves the right way on both kinds of drum data we ship
tests for: `synthkit` clips and the real Hydrogen kits of Debian's hydrogen-data (installed by CI).

Real clips must beat noise in each metric's own direction, adding noise at falling SNR must raise
FAD and KAD and lower classifier accuracy, and KAD of two halves of one real set must have 0 in its
interval. FAD needs more clips than embedding dimensions, so on the 100 Hydrogen clips it is scored
in the 40-d `mfcc` space; the 512-d `aisfx` and 256-d `mel` spaces are covered by KAD and PRDC.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.data.build import load_datamodule
from bench.data.drum_synth import CLASSES
from bench.metrics.class_metrics import KID, ClassAccuracy, ClassKL, InceptionScore
from bench.metrics.fad import FAD
from bench.metrics.fidelity import Coverage, Density, Precision, Recall
from bench.metrics.kad import KAD
from bench.metrics.memorization import Memorization
from bench.runner.app import compose
from tests.metrics.helpers import decaying_noise, drum_clips, make_context

OFFLINE_EMBEDDERS = ("aisfx", "mel", "mfcc")
HYDROGEN_KITS = "dataset.kits=[GMRockKit,TR808EmulationKit]"


class Drums:
    """Clips of one source, split per class into disjoint parts, with one embedding memo."""

    def __init__(self, audio: np.ndarray, labels: np.ndarray, classes: list[str], sr: int):
        self.audio, self.labels, self.classes, self.sr = audio, labels, classes, sr
        self.memo: dict = {}  # one memo per source: each set is embedded once
        rank = np.zeros(len(labels), dtype=int)
        for c in np.unique(labels):
            rank[labels == c] = np.arange((labels == c).sum())
        self.rank = rank

    def part(self, k: int, of: int) -> tuple[np.ndarray, np.ndarray]:
        keep = self.rank % of == k
        return self.audio[keep], self.labels[keep]

    def context(self, generated, labels, test, train, artefacts):
        return make_context(generated, labels, *test, *train, self.classes, sample_rate=self.sr,
                            capabilities=frozenset({"sample", "conditional"}), artefacts_dir=artefacts,
                            embed_memo=self.memo)

    def distribution(self, generated, artefacts):
        """Halves: the evaluated set against the other half (enough clips for 40-d FAD)."""
        return self.context(generated, self.part(0, 2)[1], self.part(1, 2), self.part(1, 2), artefacts)

    def classes_ctx(self, generated, artefacts):
        """Thirds: the reference classifier learns from its own third."""
        return self.context(generated, self.part(0, 3)[1], self.part(1, 3), self.part(2, 3), artefacts)


@pytest.fixture(scope="module", params=["synthkit", "hydrogen"])
def drums(request, tmp_path_factory) -> Drums:
    if request.param == "synthkit":
        return Drums(*drum_clips(3, 24), list(CLASSES), 16000)
    tmp = tmp_path_factory.mktemp("hydrogen")
    cfg = compose(["protocol=quick", "dataset=hydrogen", HYDROGEN_KITS, f"data_dir={tmp}"])
    data = load_datamodule(cfg.dataset, cfg.protocol, Path(cfg.data_dir))
    sets = (data.train, data.valid, data.test)
    audio = np.concatenate([s.audio[:, 0].numpy() for s in sets])
    labels = np.concatenate([s.labels.numpy() for s in sets])
    assert len(audio) >= 100, "hydrogen-data should give 100 clips: is the Debian package installed?"
    return Drums(audio, labels, list(data.classes), data.sample_rate)


def _mix(clean: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(clean.shape)
    gain = np.sqrt((clean**2).mean(axis=1, keepdims=True) / (noise**2).mean(axis=1, keepdims=True)) \
        * 10 ** (-snr_db / 20)
    out = clean + gain * noise
    return (out / np.abs(out).max(axis=1, keepdims=True)).astype(np.float32)


DISTRIBUTION_METRICS = [FAD("mfcc"), *(KAD(e) for e in OFFLINE_EMBEDDERS),
                        *(m(e) for m in (Precision, Recall, Density, Coverage) for e in ("aisfx", "mel"))]
CLASS_METRICS = [ClassAccuracy(), InceptionScore(), KID(), ClassKL()]
# Memorisation is not in the real-vs-noise race: noise copies nothing, so it rightly scores 0;
# its own test below gives it copies to find.


def _better(metric, real: float, noise: float) -> bool:
    return real > noise if metric.higher_is_better else real < noise


def test_real_beats_noise_on_every_metric_and_embedder(drums, tmp_path):
    worse = {}
    for metrics, held, context in ((DISTRIBUTION_METRICS, drums.part(0, 2)[0], drums.distribution),
                                   (CLASS_METRICS, drums.part(0, 3)[0], drums.classes_ctx)):
        real = context(held, tmp_path)
        noise = context(decaying_noise(len(held), drums.sr, drums.sr), tmp_path)
        for metric in metrics:
            r, n = metric.compute(real).value, metric.compute(noise).value
            if not _better(metric, r, n):
                worse[metric.name] = (r, n)
    assert not worse, f"real did not beat noise on: {worse}"


def test_falling_snr_raises_fad_and_kad_and_lowers_accuracy(drums, tmp_path):
    snrs = (30, 20, 10, 0)
    held, _ = drums.part(0, 2)
    metrics = (FAD("mfcc"), *(KAD(e) for e in OFFLINE_EMBEDDERS))
    series = {m.name: [] for m in metrics}
    for snr in snrs:
        ctx = drums.distribution(_mix(held, snr), tmp_path)
        for metric in metrics:
            series[metric.name].append(metric.compute(ctx).value)
    for name, values in series.items():
        assert values == sorted(values), (name, dict(zip(snrs, values)))
    held, _ = drums.part(0, 3)
    acc = [ClassAccuracy().compute(drums.classes_ctx(_mix(held, snr), tmp_path)).value for snr in snrs]
    assert acc[0] > acc[-1] and acc[0] >= acc[1] >= acc[2] >= acc[3], dict(zip(snrs, acc))


def test_kad_of_two_real_halves_has_zero_in_its_interval(drums, tmp_path):
    """Random halves, not stratified ones: exact class balance in both halves makes within-set
    pairs share a class less often than cross pairs, a real negative bias of order 1/n. The null
    distribution of MMD² is right-skewed, so the interval's upper end needs more than the 50
    resamples of the test protocol to be estimated (200; the `full` protocol uses 500)."""
    order = np.random.default_rng(7).permutation(len(drums.labels))
    a, b = order[: len(order) // 2], order[len(order) // 2:]
    ctx = drums.context(drums.audio[a], drums.labels[a], (drums.audio[b], drums.labels[b]),
                        (drums.audio[b], drums.labels[b]), tmp_path)
    for embedder in OFFLINE_EMBEDDERS:
        value = KAD(embedder, n_boot=200).compute(ctx)
        assert value.ci95[0] <= 0.0 <= value.ci95[1], (embedder, value.value, value.ci95)


def test_memorization_flags_copies_of_training_clips_and_not_held_out_ones(drums, tmp_path):
    train, train_labels = drums.part(2, 3)
    held, _ = drums.part(0, 3)
    n = min(len(train), len(held))
    for embedder in ("aisfx", "mel"):
        metric = Memorization(embedder)
        copies = metric.compute(drums.context(train[:n], train_labels[:n], drums.part(1, 3),
                                              (train, train_labels), tmp_path))
        novel = metric.compute(drums.classes_ctx(held, tmp_path))
        assert copies.value > 0.9 and novel.value < 0.3, (embedder, copies.value, novel.value)

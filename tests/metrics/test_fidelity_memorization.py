"""Precision / recall / density / coverage and memorisation as metrics: one shared k-NN computation,
the limiting cases, real vs noise, and what the memorisation value means. (Real vs noise and the copy
test on synthkit and Hydrogen: test_real_drums.py.)"""
from __future__ import annotations

import numpy as np
import pytest

from bench.data.drum_synth import CLASSES
from bench.metrics import fidelity
from bench.metrics.coverage import prdc
from bench.metrics.distances import EmbeddingError
from bench.metrics.fidelity import Coverage, Density, Precision, Recall
from bench.metrics.memorization import Memorization
from tests.metrics.helpers import decaying_noise, drum_clips, make_context

SR = 16000


@pytest.fixture(scope="module")
def sets():
    return {"train": drum_clips(31, 6, seconds=0.5), "test": drum_clips(32, 4, seconds=0.5),
            "held": drum_clips(33, 4, seconds=0.5)}


@pytest.fixture(scope="module")
def noise(sets):
    n, samples = sets["held"][0].shape
    return decaying_noise(n, samples, SR, seed=5, max_decay_s=0.3)


def _ctx(sets, generated, labels=None, embed=None):
    labels = np.full(len(generated), -1) if labels is None else labels
    return make_context(generated, labels, *sets["test"], *sets["train"], CLASSES,
                        sample_rate=SR, embed=embed)


FOUR = (Precision, Recall, Density, Coverage)


def test_the_four_share_one_knn_computation(sets, monkeypatch):
    calls = []

    def counting(real, fake, *, k):
        calls.append(k)
        return prdc(real, fake, k=k)
    monkeypatch.setattr(fidelity, "prdc", counting)
    ctx = _ctx(sets, *sets["held"])
    values = {cls.__name__: cls("mel").compute(ctx) for cls in FOUR}
    assert calls == [5]
    expected = prdc(ctx.embed("mel", ctx.real_test), ctx.embed("mel", ctx.generated), k=5)
    for cls in FOUR:
        assert values[cls.__name__].value == expected[cls.__name__.lower()]
    Precision("mel", k=3).compute(ctx)                     # another k is another computation
    Precision("mel").compute(_ctx(sets, *sets["held"]))     # and so is another context
    assert calls == [5, 3, 5]


def test_generating_the_reference_itself_is_perfect(sets):
    ctx = _ctx(sets, *sets["test"])
    names = {cls("mel").name: cls("mel").compute(ctx) for cls in FOUR}
    assert set(names) == {"precision_mel", "recall_mel", "density_mel", "coverage_mel"}
    for name, value in names.items():
        assert value.value == pytest.approx(1.0), name
        assert value.reference_hash == names["precision_mel"].reference_hash


def test_real_clips_beat_noise_on_all_four(sets, noise):
    real, fake = _ctx(sets, *sets["held"]), _ctx(sets, noise)
    for cls in FOUR:
        metric = cls("mel")
        assert metric.higher_is_better
        r, n = metric.compute(real).value, metric.compute(fake).value
        assert 0.0 <= n < r, (metric.name, r, n)


def test_memorization_value_and_details(sets, noise):
    train = sets["train"][0]
    metric = Memorization("mel")
    assert metric.higher_is_better is False and "real" in metric.definition
    copies = metric.compute(_ctx(sets, train[: len(noise)]))
    held = metric.compute(_ctx(sets, sets["held"][0]))
    loud = metric.compute(_ctx(sets, noise))
    # Training clips handed back (what the `real` reference row does) are all flagged;
    # new real clips about as often as real test clips are (5% by construction), noise never.
    assert copies.value == 1.0 and copies.details["distance_ratio"] < 1e-4   # 0 up to rounding
    assert held.value <= 0.25 and loud.value == 0.0
    assert 0.5 < held.details["distance_ratio"] < 2.0 < loud.details["distance_ratio"]
    assert held.details["median_test_to_train"] == copies.details["median_test_to_train"]


def test_a_leaking_split_cannot_be_judged(sets):
    train = sets["train"]
    ctx = make_context(*sets["held"], *train, *train, CLASSES, sample_rate=SR)
    with pytest.raises(ValueError, match="leak"):
        Memorization("mel").compute(ctx)


def test_a_nan_embedding_fails_every_fidelity_metric(sets):
    def broken(name, clips):
        out = np.random.default_rng(0).normal(size=(len(clips), 4))
        out[-1, 2] = np.nan
        return out
    ctx = _ctx(sets, *sets["held"], embed=broken)
    for metric in (*(cls("mel") for cls in FOUR), Memorization("mel")):
        with pytest.raises(EmbeddingError, match="NaN"):
            metric.compute(ctx)

"""FAD∞ and per-class details, NaN embeddings, and the confusion matrix on synthkit clips.

Real-vs-noise, SNR degradation and KAD unbiasedness on synthkit *and* Hydrogen: test_real_drums.py.
"""
from __future__ import annotations

import numpy as np
import pytest

from bench.data.drum_synth import CLASSES
from bench.metrics.class_metrics import ClassAccuracy
from bench.metrics.distances import EmbeddingError
from bench.metrics.fad import FAD, FADInf
from bench.metrics.fidelity import Precision
from bench.metrics.kad import KAD
from bench.metrics.memorization import Memorization
from tests.metrics.helpers import drum_clips, make_context

SR = 16000


@pytest.fixture(scope="module")
def drums():
    audio, labels = drum_clips(3, 24, sample_rate=SR)
    k = np.arange(len(labels)) % 24
    return {"train": (audio[k < 10], labels[k < 10]), "held": (audio[(k >= 10) & (k < 16)], labels[(k >= 10) & (k < 16)]),
            "test": (audio[k >= 16], labels[k >= 16])}


def _ctx(drums, generated, labels, tmp_path):
    return make_context(generated, labels, *drums["test"], *drums["train"], CLASSES, sample_rate=SR,
                        capabilities=frozenset({"sample", "conditional"}), artefacts_dir=tmp_path)


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

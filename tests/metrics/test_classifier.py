"""The reference classifier: both candidates trained and the better kept, stored once and reloaded,
keyed by its data, deterministic, and the class metrics that use it."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from bench.api.metric import MetricSkipped
from bench.data.drum_synth import CLASSES
from bench.metrics import classifier as clf_mod
from bench.metrics.class_metrics import KID, ClassAccuracy, ClassKL, InceptionScore
from bench.metrics.classifier import (ClassifierConfig, _Probe, classifier_key, clear_memory,
                                      get_reference_classifier)
from bench.metrics.kad import KAD
from tests.metrics.helpers import decaying_noise, drum_clips, make_context

SR = 16000
#: Fast judge for most tests: the probe reads the weight-free mel embedder instead of aisfx.
FAST = ClassifierConfig(probe_embedder="mel", cnn_epochs=6)


@pytest.fixture(scope="module")
def data():
    return {"train": drum_clips(11, 8), "test": drum_clips(12, 4), "held": drum_clips(13, 4)}


def _ctx(data, generated=None, labels=None, *, artefacts=None, caps=("sample", "conditional"),
         train=None):
    held, held_labels = data["held"]
    generated = held if generated is None else generated
    labels = held_labels if labels is None else labels
    return make_context(generated, labels, *data["test"], *(train or data["train"]), CLASSES,
                        sample_rate=SR, capabilities=frozenset(caps), artefacts_dir=artefacts)


@pytest.fixture(scope="module")
def stored(data, tmp_path_factory):
    """One fast classifier trained and stored; its folder and the first context."""
    folder = tmp_path_factory.mktemp("artefacts")
    clear_memory()
    ctx = _ctx(data, artefacts=folder)
    return folder, ctx, get_reference_classifier(ctx, FAST)


@pytest.fixture()
def fast_default(monkeypatch):
    """Metrics call get_reference_classifier(ctx) with the module default: make it the fast one."""
    monkeypatch.setattr(clf_mod, "DEFAULT_CONFIG", FAST)


def test_both_candidates_are_trained_and_the_better_kept(stored):
    folder, ctx, clf = stored
    cands = clf.summary["candidates"]
    assert set(cands) == {"probe", "cnn"}
    accs = {k: v["test_accuracy"] for k, v in cands.items()}
    assert clf.kind == max(accs, key=accs.get) and clf.test_accuracy == max(accs.values())
    assert clf.test_accuracy > 0.6, accs                       # chance is 1/9
    assert all(v["train_seconds"] > 0 for v in cands.values())
    files = sorted(p.name for p in folder.iterdir())
    assert files == [f"classifier-{clf.key}.json", f"classifier-{clf.key}.pt"]
    sidecar = json.loads((folder / f"classifier-{clf.key}.json").read_text())
    assert sidecar["chosen"] == clf.kind and sidecar["candidates"]["cnn"] == cands["cnn"]


def test_outputs_have_the_documented_shapes(stored, data, fast_default):
    _, ctx, clf = stored
    held = data["held"][0]
    proba = clf.predict_proba(held)
    feats = clf.features(held)
    assert proba.shape == (len(held), len(CLASSES))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert feats.dtype == np.float64 and feats.shape[0] == len(held) and np.isfinite(feats).all()
    # The scorer's route: ctx.embed("classifier", ...) is the classifier's features.
    np.testing.assert_allclose(ctx.embed("classifier", held), feats)


def test_a_second_context_loads_the_artefact_instead_of_training(stored, data, monkeypatch):
    folder, ctx, clf = stored
    path = folder / f"classifier-{clf.key}.pt"
    mtime = os.stat(path).st_mtime_ns
    clear_memory()

    def no_training(*args, **kwargs):
        raise AssertionError("the stored classifier should have been loaded")
    monkeypatch.setattr(clf_mod, "train_reference_classifier", no_training)
    again = get_reference_classifier(_ctx(data, artefacts=folder), FAST)
    assert again.key == clf.key and again.kind == clf.kind
    assert os.stat(path).st_mtime_ns == mtime
    held = data["held"][0]
    np.testing.assert_allclose(again.predict_proba(held), clf.predict_proba(held), atol=1e-12)


def test_key_follows_the_training_data_and_config(data):
    base = _ctx(data)
    assert classifier_key(base, FAST) == classifier_key(_ctx(data), FAST)
    audio, labels = data["train"]
    nudged = audio.copy()
    nudged[0, 100] += 1e-3
    relabelled = labels.copy()
    relabelled[[0, -1]] = relabelled[[-1, 0]]
    keys = {classifier_key(base, FAST), classifier_key(base, ClassifierConfig()),
            classifier_key(_ctx(data, train=(nudged, labels)), FAST),
            classifier_key(_ctx(data, train=(audio, relabelled)), FAST)}
    assert len(keys) == 4


def test_an_unreadable_artefact_is_replaced(data, tmp_path):
    ctx = _ctx(data, artefacts=tmp_path)
    config = ClassifierConfig(candidates=("cnn",), cnn_epochs=1)
    path = tmp_path / f"classifier-{classifier_key(ctx, config)}.pt"
    path.write_bytes(b"not a checkpoint")
    clear_memory()
    clf = get_reference_classifier(ctx, config)
    assert clf.kind == "cnn" and path.stat().st_size > 1000


def test_cnn_training_is_deterministic(data):
    config = ClassifierConfig(candidates=("cnn",), cnn_epochs=1)
    train = (data["train"][0][::4], data["train"][1][::4])
    runs = []
    for _ in range(2):
        clear_memory()
        runs.append(get_reference_classifier(_ctx(data, train=train), config))
    held = data["held"][0]
    np.testing.assert_array_equal(runs[0].features(held), runs[1].features(held))
    assert runs[0].summary["candidates"]["cnn"]["test_accuracy"] == \
        runs[1].summary["candidates"]["cnn"]["test_accuracy"]


@pytest.mark.parametrize("n_classes", [2, 4])
def test_probe_probabilities_equal_sklearn(n_classes):
    rng = np.random.default_rng(n_classes)
    y = np.repeat(np.arange(n_classes), 15)
    x = rng.normal(size=(len(y), 6)) + y[:, None] * 0.7
    params = _Probe.fit(x, y, c=1.0, seed=0)
    ours = _Probe(params, n_classes, "test").proba_from_features(
        _Probe(params, n_classes, "test").features_from_embedding(x))
    scaler = StandardScaler().fit(x)
    ref = LogisticRegression(C=1.0, max_iter=5000, random_state=0).fit(scaler.transform(x), y)
    np.testing.assert_allclose(ours, ref.predict_proba(scaler.transform(x)), atol=1e-10)


def test_bad_clips_are_refused(stored):
    _, _, clf = stored
    bad = np.zeros((2, SR), dtype=np.float32)
    bad[1, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict_proba(bad)
    with pytest.raises(ValueError, match="shape"):
        clf.features(np.zeros(SR, dtype=np.float32))


def test_class_metrics_on_real_and_noise(data, stored, fast_default):
    folder = stored[0]
    held, held_labels = data["held"]
    noise = decaying_noise(*held.shape, SR)
    real_ctx, noise_ctx = _ctx(data, artefacts=folder), _ctx(data, noise, artefacts=folder)
    for metric in (ClassAccuracy(), InceptionScore(), KID(), ClassKL()):
        real, fake = metric.compute(real_ctx), metric.compute(noise_ctx)
        assert np.isfinite(real.value) and np.isfinite(fake.value), metric.name
        assert (real.value > fake.value) == metric.higher_is_better, (metric.name, real, fake)

    acc = ClassAccuracy().compute(real_ctx)
    confusion = np.asarray(acc.details["confusion"])
    assert confusion.shape == (len(CLASSES),) * 2
    assert confusion.sum(axis=1).tolist() == np.bincount(held_labels).tolist()
    assert acc.value == pytest.approx(np.trace(confusion) / len(held))
    assert acc.details["chance"] == pytest.approx(1 / len(CLASSES))
    assert acc.details["classifier_kind"] in {"probe", "cnn"}
    assert acc.ci95[0] <= acc.value <= acc.ci95[1]


def test_class_accuracy_declares_its_need_and_class_kl_scores_unconditional(data, stored,
                                                                            fast_default):
    assert "conditional" in ClassAccuracy.needs
    held = data["held"][0]
    unlabelled = np.full(len(held), -1)
    ctx = _ctx(data, held, unlabelled, artefacts=stored[0], caps=("sample",))
    with pytest.raises((MetricSkipped, ValueError)):
        ClassAccuracy().compute(ctx)
    kl = ClassKL().compute(ctx)
    assert 0.0 <= kl.value < 0.5, kl            # real clips: the class balance of the test split


def test_default_judge_with_the_aisfx_probe(data, tmp_path):
    """The production configuration, with the real aisfx embedder, on a few clips."""
    train = (data["train"][0][::2], data["train"][1][::2])          # 4 per class
    ctx = _ctx(data, artefacts=tmp_path, train=train)
    clear_memory()
    clf = get_reference_classifier(ctx)
    probe = clf.summary["candidates"]["probe"]
    assert clf.summary["config"]["probe_embedder"] == "aisfx"
    assert probe["test_accuracy"] > 0.5, clf.summary["candidates"]
    if clf.kind == "probe":
        assert clf.features(data["held"][0][:3]).shape == (3, 512)
    ctx.generated, ctx.generated_labels = train      # embedded already: no new aisfx work
    value = KAD("aisfx").compute(ctx)
    assert np.isfinite(value.value) and value.details["bandwidth"] > 0

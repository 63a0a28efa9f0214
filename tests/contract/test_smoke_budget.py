"""Smoke is seconds: under it the reference classifier trains on a bounded subset per class, while
quick and full (and artefacts stored before the bound existed) keep training on everything."""
from __future__ import annotations

import numpy as np

from bench.data.drum_synth import CLASSES
from bench.metrics import classifier as clf_mod
from bench.metrics.classifier import ClassifierConfig, classifier_key, config_for, first_per_class
from bench.protocol import ClassifierOptions, ProtocolConfig
from bench.runner.app import compose
from tests.metrics.helpers import drum_clips, make_context

SR = 8000


def test_smoke_bounds_the_classifier_and_quick_does_not():
    smoke, quick = compose(["protocol=smoke"]).protocol, compose(["protocol=quick"]).protocol
    assert config_for(smoke).max_train_per_class == smoke.classifier.max_train_per_class > 0
    assert config_for(smoke).probe_embedder == smoke.classifier.probe_embedder != "aisfx"
    assert config_for(quick) is clf_mod.DEFAULT_CONFIG
    assert "max_train_per_class" not in config_for(quick).key_fields()


def test_first_per_class_keeps_the_split_order():
    labels = np.array([2, 0, 2, 1, 0, 2, 0])
    assert first_per_class(labels, 2).tolist() == [0, 1, 2, 3, 4]
    assert first_per_class(labels, 10).tolist() == list(range(7))


def test_bounded_classifier_trains_on_k_clips_per_class_and_has_its_own_key():
    train, y_train = drum_clips(11, 5, sample_rate=SR, seconds=0.25)
    test, y_test = drum_clips(12, 2, sample_rate=SR, seconds=0.25)
    protocol = ProtocolConfig(name="smoke", version="t", sample_rate=SR, bootstrap=10,
                              classifier=ClassifierOptions(max_train_per_class=2))
    ctx = make_context(test, y_test, test, y_test, train, y_train, CLASSES, sample_rate=SR,
                       protocol=protocol)
    config = config_for(protocol)
    assert config.max_train_per_class == 2
    fast = ClassifierConfig(candidates=("cnn",), cnn_epochs=1, max_train_per_class=2)
    payload = clf_mod.train_reference_classifier(ctx, fast, "k")
    assert payload["summary"]["n_train"] == 2 * len(CLASSES)
    assert payload["summary"]["n_train_available"] == 5 * len(CLASSES)
    unbounded = ClassifierConfig(candidates=("cnn",), cnn_epochs=1)
    assert classifier_key(ctx, fast) != classifier_key(ctx, unbounded)
    assert classifier_key(ctx) == classifier_key(ctx, config)   # the protocol's bound by default

"""FAD, FAD∞ and KAD as metrics: details, per-class scores by class name, the reference hash,
seeded intervals, and the unconditional case. (Direction on real vs noise, SNR degradation and
unbiasedness: test_real_drums.py; NaN handling: test_metric_wrappers.py.)"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from bench.api.metric import MetricSkipped
from bench.data.drum_synth import CLASSES
from bench.metrics import distances
from bench.metrics.embedders.mel import MelStatsEmbedder
from bench.metrics.fad import FAD, FADInf
from bench.metrics.kad import KAD
from tests.metrics.helpers import drum_clips, make_context

SR = 16000
N_CLASSES = 3          # kick, snare, clap: enough clips per class for a low-dim Fréchet distance


class SmallMel:
    """``mel`` reduced to its first 8 dims (band means of the lowest bands): few enough that a
    class of 20 clips gets a Fréchet distance. Memoised by content."""

    def __init__(self):
        self.mel = MelStatsEmbedder(device="cpu")
        self.memo: dict[bytes, np.ndarray] = {}

    def __call__(self, name: str, clips: np.ndarray) -> np.ndarray:
        assert name == "small"
        key = clips.tobytes()
        if key not in self.memo:
            self.memo[key] = self.mel.embed(clips).vectors[:, :8].astype(np.float64)
        return self.memo[key]


@pytest.fixture(scope="module")
def sets():
    return {name: drum_clips(seed, n, seconds=0.5, classes=N_CLASSES)
            for name, seed, n in (("train", 21, 4), ("test", 22, 24), ("held", 23, 24))}


@pytest.fixture(scope="module")
def embed():
    return SmallMel()


def _ctx(sets, embed, generated=None, labels=None, seed=0):
    held, held_labels = sets["held"]
    return make_context(held if generated is None else generated,
                        held_labels if labels is None else labels, *sets["test"], *sets["train"],
                        list(CLASSES[:N_CLASSES]), sample_rate=SR, embed=embed, seed=seed)


def test_fad_matches_the_distance_function_and_reports_details(sets, embed):
    ctx = _ctx(sets, embed)
    value = FAD("small").compute(ctx)
    gen, ref = embed("small", ctx.generated), embed("small", ctx.real_test)
    assert value.value == pytest.approx(distances.fad(gen, ref), rel=1e-12)
    assert value.n == len(gen)
    assert value.details["dim"] == 8 and value.details["n_ref"] == len(ref)
    assert value.details["log_fad"] == pytest.approx(np.log(value.value))
    lo, hi = value.ci95
    assert np.isfinite(lo) and lo < hi
    inf = value.details["fad_inf"]
    assert isinstance(inf, dict) and 0.0 <= inf["r2"] <= 1.0 and len(inf["n"]) >= 3
    # DCASE-style per-class FAD: class c of the generated set against class c of the reference.
    assert set(value.details["per_class"]) == set(CLASSES[:N_CLASSES])
    for c, name in enumerate(CLASSES[:N_CLASSES]):
        expected = distances.fad(gen[ctx.generated_labels == c], ref[ctx.real_test_labels == c])
        assert value.details["per_class"][name] == pytest.approx(expected, rel=1e-12)


def test_fad_inf_metric_reports_the_intercept_and_fit(sets, embed):
    metric = FADInf("small")
    value = metric.compute(_ctx(sets, embed))
    assert np.isfinite(value.value) and metric.name == "fadinf_small"
    assert 0.0 <= value.details["r2"] <= 1.0
    fads, sizes = np.asarray(value.details["fad"]), np.asarray(value.details["n"])
    assert len(sizes) >= 3 and sizes.max() == len(sets["held"][1])
    fitted = value.value + value.details["slope"] / sizes     # value = intercept of FAD vs 1/n
    r2 = 1 - np.sum((fads - fitted) ** 2) / np.sum((fads - fads.mean()) ** 2)
    assert r2 == pytest.approx(value.details["r2"], abs=1e-9)


def test_the_fad_rows_fad_inf_detail_is_the_fad_inf_metric(sets, embed):
    """One number for one quantity: the detail and the metric draw the same subsets (separate
    contexts, so the agreement comes from the random stream, not from the per-context memo)."""
    detail = FAD("small").compute(_ctx(sets, embed)).details["fad_inf"]
    metric = FADInf("small").compute(_ctx(sets, embed))
    assert detail["value"] == metric.value and detail["fad"] == metric.details["fad"]


def test_fad_inf_is_computed_once_per_context(sets, embed, monkeypatch):
    ctx = _ctx(sets, embed)
    calls = []
    real = distances.fad_inf
    monkeypatch.setattr(distances, "fad_inf", lambda *a, **k: calls.append(1) or real(*a, **k))
    FAD("small").compute(ctx)
    FADInf("small").compute(ctx)
    assert len(calls) == 1


def test_reference_hash_depends_on_the_reference_only(sets, embed):
    noise = np.random.default_rng(0).standard_normal(sets["held"][0].shape).astype(np.float32)
    a = FAD("small").compute(_ctx(sets, embed))
    b = KAD("small").compute(_ctx(sets, embed, generated=noise * 0.1))
    assert a.reference_hash == b.reference_hash and len(a.reference_hash) == 16
    other = make_context(*sets["held"], *sets["held"], *sets["train"], list(CLASSES[:N_CLASSES]),
                         sample_rate=SR, embed=embed)
    assert FAD("small").compute(other).reference_hash != a.reference_hash


def test_intervals_are_seeded(sets, embed):
    first = KAD("small").compute(_ctx(sets, embed, seed=0))
    again = KAD("small").compute(_ctx(sets, embed, seed=0))
    other = KAD("small").compute(_ctx(sets, embed, seed=1))
    assert first.ci95 == again.ci95 and first.ci95 != other.ci95
    assert first.value == other.value                      # the point estimate has no randomness


def test_kad_bandwidth_comes_from_the_reference(sets, embed):
    ctx = _ctx(sets, embed)
    far = _ctx(sets, embed, generated=sets["held"][0] * 0.01)     # quieter: different embeddings
    a, b = KAD("small").compute(ctx), KAD("small").compute(far)
    expected = float(np.median(pdist(embed("small", ctx.real_test))))
    assert a.details["bandwidth"] == pytest.approx(expected) == b.details["bandwidth"]
    assert b.value > a.value
    per_class = a.details["per_class"]
    assert set(per_class) == set(CLASSES[:N_CLASSES])
    assert all(np.isfinite(v) for v in per_class.values())


def test_unconditional_generations_get_a_note_instead_of_per_class_scores(sets, embed):
    held = sets["held"][0]
    ctx = _ctx(sets, embed, labels=np.full(len(held), -1))
    for metric in (FAD("small"), KAD("small")):
        value = metric.compute(ctx)
        assert np.isfinite(value.value)
        assert value.details["per_class"] == {}
        assert "unconditional" in value.details["per_class_note"]


def test_overall_fad_refuses_fewer_clips_than_dims(sets):
    """mel has 256 dims: 72 clips cannot support a covariance, so FAD is skipped with the numbers
    (a property of the data, as on the Hydrogen kits) and the distance itself raises."""
    ctx = make_context(*sets["held"], *sets["test"], *sets["train"], list(CLASSES[:N_CLASSES]),
                       sample_rate=SR)
    for metric in (FAD("mel"), FADInf("mel")):
        with pytest.raises(MetricSkipped, match=r"real test clips but mel embeddings have 256 dims"):
            metric.compute(ctx)
    ev, ref = ctx.embed("mel", ctx.generated), ctx.embed("mel", ctx.real_test)
    with pytest.raises(distances.EmbeddingError, match="more clips than"):
        distances.fad(ev, ref)
    assert np.isfinite(KAD("mel").compute(ctx).value)      # KAD has no such limit

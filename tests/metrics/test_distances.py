"""The distance math: FAD against two independent implementations, closed forms, KAD's
unbiasedness and reference bandwidth, FAD∞'s bias removal, bootstrap intervals, and errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torchaudio.functional as TAF
from scipy.spatial.distance import cdist, pdist
from scipy.stats import ortho_group

from bench.metrics.distances import (
    EmbeddingError,
    bootstrap_ci,
    check_embeddings,
    fad,
    fad_inf,
    frechet_distance,
    gaussian_stats,
    kad,
    per_class,
)


def _well_conditioned_stats(rng: np.random.Generator, dim: int):
    """Mean and covariance with eigenvalues in [0.5, ~3]: scipy's sqrtm is accurate here."""
    a = rng.normal(size=(dim, dim))
    return rng.normal(size=dim), a @ a.T / dim + 0.5 * np.eye(dim)


def _stat_pairs(seed: int = 0, dims=(1, 8, 16, 32)):
    rng = np.random.default_rng(seed)
    return [(*_well_conditioned_stats(rng, d), *_well_conditioned_stats(rng, d)) for d in dims]


def _kad_value(e: np.ndarray, r: np.ndarray) -> float:
    return kad(e, r)["value"]


# --- FAD against other implementations ---------------------------------------------------

def test_frechet_distance_matches_torchaudio():
    for mu1, s1, mu2, s2 in _stat_pairs():
        ours = frechet_distance(mu1, s1, mu2, s2)
        theirs = float(TAF.frechet_distance(*(torch.from_numpy(a) for a in (mu1, s1, mu2, s2))))
        assert ours == pytest.approx(theirs, rel=1e-9)


# frechet_audio_distance imports laion_clap at the top of fad.py, and laion_clap loads three
# Hugging Face tokenizers at import time: offline, that retries for ~11 minutes, and even with
# HF_HUB_OFFLINE=1 it costs 7-12 s on 2 cores. calculate_frechet_distance is plain numpy/scipy and
# laion_clap is only the CLAP model loader, so a child process stands an empty module in for it
# (plus the offline variables, should anything else reach for the hub); the child keeps the stub
# out of this test session. The whole check then takes ~3 s. (One dimension is left out: with
# scipy 1.17, sqrtm(..., disp=False) on a 1×1 matrix returns no error estimate and the package's
# tuple unpacking fails; torchaudio covers that case above.)
_FAD_PACKAGE_SCRIPT = textwrap.dedent("""
    import json, sys, time, types
    import numpy as np
    t0 = time.perf_counter()
    sys.modules["laion_clap"] = types.ModuleType("laion_clap")
    from frechet_audio_distance import FrechetAudioDistance
    import_s = time.perf_counter() - t0
    stats = np.load(sys.argv[1])
    # calculate_frechet_distance never touches self; calling it unbound avoids loading a model.
    values = [float(FrechetAudioDistance.calculate_frechet_distance(
        None, stats[f"mu1_{i}"], stats[f"s1_{i}"], stats[f"mu2_{i}"], stats[f"s2_{i}"]))
        for i in range(int(stats["count"]))]
    print(json.dumps({"import_s": import_s, "values": values}))
""")


def test_frechet_distance_matches_frechet_audio_distance_package(tmp_path):
    pairs = _stat_pairs(seed=1, dims=(2, 8, 16, 32))
    arrays = {"count": np.array(len(pairs))}
    for i, (mu1, s1, mu2, s2) in enumerate(pairs):
        arrays.update({f"mu1_{i}": mu1, f"s1_{i}": s1, f"mu2_{i}": mu2, f"s2_{i}": s2})
    np.savez(tmp_path / "stats.npz", **arrays)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONWARNINGS="ignore")
    # the timeout only catches a hang (e.g. a download attempt); a busy CPU took 97 s to import
    # the package, so no wall-clock bound here: speed is `drumbench perf`'s business
    done = subprocess.run([sys.executable, "-c", _FAD_PACKAGE_SCRIPT, str(tmp_path / "stats.npz")],
                          capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = json.loads(done.stdout.strip().splitlines()[-1])["values"]
    ours = [frechet_distance(*p) for p in pairs]
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


# --- FAD properties and closed forms -----------------------------------------------------

def test_fad_of_a_set_with_itself_is_zero_and_fad_is_symmetric():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(300, 16)) @ rng.normal(size=(16, 16))
    b = rng.normal(size=(250, 16)) + 0.3
    assert fad(a, a) == pytest.approx(0.0, abs=1e-9 * np.trace(np.cov(a, rowvar=False)))
    assert fad(a, b) > 0.1
    assert fad(a, b) == pytest.approx(fad(b, a), rel=1e-10)


def test_frechet_distance_closed_form_for_diagonal_and_rotated_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, -2.0, 0.5]), np.array([1.0, 1.0, 0.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 0.25, 2.0]), np.array([9.0, 1.0, 0.25, 0.5])
    # Diagonal covariances commute: the distance is ||Δμ||² + Σ (σ1 − σ2)².
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    assert expected == pytest.approx(5.25 + 4 + 1 + 0 + 0.5)
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected, rel=1e-12)
    # The distance is invariant under a rotation of both Gaussians (non-diagonal covariances).
    q = ortho_group.rvs(4, random_state=3)
    rotated = frechet_distance(q @ mu1, q @ np.diag(var1) @ q.T, q @ mu2, q @ np.diag(var2) @ q.T)
    assert rotated == pytest.approx(expected, rel=1e-10)
    # One dimension: (μ1 − μ2)² + (σ1 − σ2)².
    assert frechet_distance([1.0], [[4.0]], [-1.0], [[1.0]]) == pytest.approx(4.0 + 1.0)


def test_frechet_distance_on_singular_and_near_singular_covariances():
    # Exactly singular, known answer: (1 − 2)² + 0 + (0 − 1)².
    assert frechet_distance(np.zeros(3), np.diag([1.0, 0.0, 0.0]),
                            np.zeros(3), np.diag([4.0, 0.0, 1.0])) == pytest.approx(2.0, rel=1e-12)
    # Near singular: 40 clips of rank-3 signal in 32 dims plus 1e-7 noise (cov eigenvalues ~1e-14).
    rng = np.random.default_rng(4)
    basis = rng.normal(size=(3, 32))
    a = rng.normal(size=(40, 3)) @ basis + 1e-7 * rng.normal(size=(40, 32))
    b = rng.normal(size=(40, 3)) @ basis * 1.5 + 1e-7 * rng.normal(size=(40, 32))
    s_a = np.cov(a, rowvar=False)
    assert np.linalg.cond(s_a) > 1e10
    value = frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
    assert np.isfinite(value) and value > 0
    self_value = frechet_distance(a.mean(0), s_a, a.mean(0), s_a)
    assert 0.0 <= self_value < 1e-8 * np.trace(s_a)


def test_fad_and_kad_grow_with_the_shift_between_two_gaussians():
    rng = np.random.default_rng(5)
    ref = rng.normal(size=(300, 8))
    base = rng.normal(size=(300, 8))
    direction = np.ones(8) / np.sqrt(8)
    shifts = [0.0, 0.25, 0.5, 1.0, 2.0]
    fads = [fad(base + s * direction, ref) for s in shifts]
    kads = [kad(base + s * direction, ref)["value"] for s in shifts]
    assert np.all(np.diff(fads) > 0), fads
    assert np.all(np.diff(kads) > 0), kads
    # Between Gaussians with equal covariance, FAD's growth is the squared shift.
    np.testing.assert_allclose(np.array(fads) - fads[0],
                               [s * s + 2 * s * direction @ (base.mean(0) - ref.mean(0)) for s in shifts],
                               rtol=1e-9, atol=1e-12)


# --- KAD -------------------------------------------------------------------------------------

def test_kad_matches_the_unbiased_mmd_formula_written_out():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(9, 3)) + 0.4
    h = np.median([np.linalg.norm(y[i] - y[j]) for i in range(9) for j in range(9) if i != j])

    def k(a, b):
        return np.exp(-np.sum((a - b) ** 2) / (2 * h * h))

    xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    yy = sum(k(y[i], y[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
    xy = sum(k(a, b) for a in x for b in y) / (7 * 9)
    result = kad(x, y)
    assert result["bandwidth"] == pytest.approx(h, rel=1e-12)
    assert result["value"] == pytest.approx(100 * (xx + yy - 2 * xy), rel=1e-10)
    assert kad(x, y, scale=1.0)["value"] == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def test_kad_bandwidth_comes_from_the_reference_set():
    rng = np.random.default_rng(7)
    narrow, wide = rng.normal(size=(80, 8)), 3.0 * rng.normal(size=(90, 8))
    assert kad(wide, narrow)["bandwidth"] == pytest.approx(np.median(pdist(narrow)))
    assert kad(narrow, wide)["bandwidth"] == pytest.approx(np.median(pdist(wide)))
    assert kad(narrow, wide)["bandwidth"] / kad(wide, narrow)["bandwidth"] == pytest.approx(3.0, rel=0.15)
    # With a fixed bandwidth the estimator is symmetric in its two sets.
    assert kad(narrow, wide, bandwidth=2.0)["value"] == pytest.approx(
        kad(wide, narrow, bandwidth=2.0)["value"], rel=1e-12)


def test_kad_is_unbiased_on_two_halves_of_one_sample():
    unbiased, biased = [], []
    for seed in range(30):
        sample = np.random.default_rng(seed).normal(size=(200, 8))
        a, b = sample[:100], sample[100:]
        result = kad(a, b)
        unbiased.append(result["value"])
        # The V-statistic (diagonals kept) is what a naive MMD computes: biased upward.
        gamma = 1 / (2 * result["bandwidth"] ** 2)
        biased.append(100 * sum(s * np.exp(-gamma * cdist(p, q, "sqeuclidean")).mean()
                                for s, p, q in ((1, a, a), (1, b, b), (-2, a, b))))
    stderr = np.std(unbiased) / np.sqrt(len(unbiased))
    assert abs(np.mean(unbiased)) < 3 * stderr
    assert np.mean(biased) > np.mean(unbiased) + 10 * stderr      # the check above can fail


def test_kad_half_sampling_interval_holds_zero_for_matching_sets_but_not_for_shifted_ones():
    sample = np.random.default_rng(8).normal(size=(200, 8))
    a, b = sample[:100], sample[100:]
    lo, hi = bootstrap_ci(_kad_value, a, b, n_boot=100, rng=np.random.default_rng(0), replace=False)
    assert lo < 0.0 < hi
    lo, hi = bootstrap_ci(_kad_value, a, b + 0.5, n_boot=100, rng=np.random.default_rng(0), replace=False)
    assert lo > 0.0
    assert lo < kad(a, b + 0.5)["value"] < hi


def test_half_sampling_keeps_kad_replicates_centred_where_resampling_with_replacement_does_not():
    sample = np.random.default_rng(9).normal(size=(200, 8))
    a, b = sample[:100], sample[100:]
    full = kad(a, b)["value"]
    replicates = {True: [], False: []}
    for replace in (True, False):
        def recording(e, r, replace=replace):
            replicates[replace].append(_kad_value(e, r))
            return replicates[replace][-1]
        bootstrap_ci(recording, a, b, n_boot=150, rng=np.random.default_rng(1), replace=replace)
    for replace, values in replicates.items():
        values = np.asarray(values)
        offset, stderr = values.mean() - full, values.std() / np.sqrt(values.size)
        if replace:     # duplicated rows put k(x, x) = 1 into the off-diagonal mean
            assert offset > 6 * stderr
        else:
            assert abs(offset) < 3 * stderr


# --- FAD∞ ------------------------------------------------------------------------------------

def test_fad_inf_removes_the_one_over_n_bias():
    dim = 16
    ref = np.random.default_rng(10).normal(size=(20000, dim))
    shift = np.full(dim, 0.1)
    # The large-n truth against this reference: FAD of a 200k-clip evaluated set.
    truth = fad(np.random.default_rng(11).normal(size=(200000, dim)) + shift, ref)
    full_errors, inf_errors, r2s = [], [], []
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        ev = rng.normal(size=(400, dim)) + shift
        result = fad_inf(ev, ref, rng=rng)
        full_errors.append(abs(fad(ev, ref) - truth))
        inf_errors.append(abs(result["value"] - truth))
        r2s.append(result["r2"])
        assert result["fad"][-1] == pytest.approx(fad(ev, ref), rel=1e-10)   # last size = all clips
        assert result["slope"] > 0
    assert np.mean(full_errors) > 0.15                      # the bias is there to remove
    assert np.mean(inf_errors) < 0.5 * np.mean(full_errors)
    assert np.median(r2s) > 0.8


def test_fad_inf_subset_sizes_are_evenly_spaced_in_one_over_n():
    rng = np.random.default_rng(12)
    result = fad_inf(rng.normal(size=(400, 8)), rng.normal(size=(500, 8)), rng=rng)
    n = np.array(result["n"])
    assert n[0] == 100 and n[-1] == 400 and len(n) == 15 and np.all(np.diff(n) > 0)
    # Each size is the nearest integer to an even step in 1/n.
    targets = 1.0 / np.linspace(1 / 100, 1 / 400, 15)
    assert np.all(np.abs(n - targets) <= 0.5)
    assert len(result["fad"]) == len(n)


def test_fad_inf_refuses_too_few_clips_for_three_sizes():
    rng = np.random.default_rng(13)
    with pytest.raises(EmbeddingError, match="distinct subset sizes"):
        fad_inf(rng.normal(size=(18, 16)), rng.normal(size=(100, 16)), rng=rng)
    with pytest.raises(EmbeddingError, match="min_n=8 is not above the 16"):
        fad_inf(rng.normal(size=(100, 16)), rng.normal(size=(100, 16)), min_n=8, rng=rng)


# --- bootstrap and per-class -------------------------------------------------------------------

def test_bootstrap_interval_of_a_mean_difference_matches_normal_theory():
    rng = np.random.default_rng(14)
    ev, ref = rng.normal(size=(400, 2)), rng.normal(size=(400, 2))

    def mean_gap(e, r):
        return float(e[:, 0].mean() - r[:, 0].mean())

    lo, hi = bootstrap_ci(mean_gap, ev, ref, n_boot=400, rng=np.random.default_rng(0))
    assert lo < mean_gap(ev, ref) < hi
    assert hi - lo == pytest.approx(2 * 1.96 * ev[:, 0].std() / np.sqrt(400), rel=0.15)
    lo_b, hi_b = bootstrap_ci(mean_gap, ev, ref, n_boot=400, rng=np.random.default_rng(0),
                              resample="both")
    assert hi_b - lo_b == pytest.approx(np.sqrt(2) * (hi - lo), rel=0.2)
    # Half-sampling matches the full-set spread for a mean (finite-population correction).
    lo_h, hi_h = bootstrap_ci(mean_gap, ev, ref, n_boot=400, rng=np.random.default_rng(0),
                              replace=False)
    assert hi_h - lo_h == pytest.approx(hi - lo, rel=0.2)
    again = bootstrap_ci(mean_gap, ev, ref, n_boot=400, rng=np.random.default_rng(0))
    assert again == (lo, hi)
    with pytest.raises(ValueError, match="resample"):
        bootstrap_ci(mean_gap, ev, ref, rng=rng, resample="ref")


def test_per_class_scores_each_class_and_explains_the_ones_it_cannot():
    rng = np.random.default_rng(15)
    ev, ref = rng.normal(size=(100, 4)), rng.normal(size=(100, 4)) + 0.2
    ev_labels = np.repeat([0, 1, 2, 3], [45, 45, 3, 7])
    ref_labels = np.repeat([0, 1, 2, 4], [40, 40, 10, 10])
    scores = per_class(fad, ev, ev_labels, ref, ref_labels)
    assert set(scores) == {0, 1, 2, 3, 4}
    for cls in (0, 1):
        assert scores[cls] == pytest.approx(fad(ev[ev_labels == cls], ref[ref_labels == cls]))
    assert isinstance(scores[2], str) and "3 clips but 4 embedding dims" in scores[2]
    assert "class 3" in scores[3] and "0 reference clips" in scores[3]
    assert "class 4" in scores[4] and "0 evaluated clips" in scores[4]
    with pytest.raises(EmbeddingError, match="labels"):
        per_class(fad, ev, ev_labels[:-1], ref, ref_labels)


# --- errors --------------------------------------------------------------------------------------

def test_check_embeddings_returns_float64_and_names_every_problem():
    out = check_embeddings(np.ones((3, 2), dtype=np.float32), name="gen")
    assert out.dtype == np.float64 and out.shape == (3, 2)
    bad = np.zeros((50, 8))
    bad[[4, 9], 1] = [np.nan, np.inf]
    cases = [
        (bad, {}, r"gen: 2 of 50 rows contain NaN or inf \(first at row 4\)"),
        (np.zeros(8), {}, r"gen: expected a 2-D array .* 1-D"),
        (np.zeros((2, 3, 4)), {}, "3-D"),
        (np.zeros((0, 8)), {}, r"gen: empty set"),
        (np.zeros((5, 8)), {"dim": 16}, "gen: embeddings have 8 dims but 16 were expected"),
        (np.zeros((1, 8)), {}, "gen: 1 clips, need at least 2"),
        ([["a", "b"]], {}, "cannot be read as a float array"),
    ]
    for x, kwargs, message in cases:
        with pytest.raises(EmbeddingError, match=message):
            check_embeddings(x, name="gen", **kwargs)


def test_distances_raise_clear_errors_on_bad_sets():
    rng = np.random.default_rng(16)
    good = rng.normal(size=(100, 16))
    with pytest.raises(EmbeddingError, match=r"evaluated: 10 clips but 32 embedding dims.*at least 33"):
        fad(rng.normal(size=(10, 32)), rng.normal(size=(100, 32)))
    with pytest.raises(EmbeddingError, match="reference: 20 clips but 32 embedding dims"):
        fad(rng.normal(size=(100, 32)), rng.normal(size=(20, 32)))
    with pytest.raises(EmbeddingError, match="evaluated: embeddings have 8 dims but 16"):
        fad(rng.normal(size=(100, 8)), good)
    with pytest.raises(EmbeddingError, match="evaluated: embeddings have 8 dims but 16"):
        kad(rng.normal(size=(100, 8)), good)
    with_nan = good.copy()
    with_nan[3, 3] = np.nan
    for fn in (fad, kad):
        with pytest.raises(EmbeddingError, match="1 of 100 rows contain NaN"):
            fn(with_nan, good)
        with pytest.raises(EmbeddingError, match="empty set"):
            fn(np.zeros((0, 16)), good)
    with pytest.raises(EmbeddingError, match="median pairwise distance is 0"):
        kad(good, np.ones((10, 16)))
    with pytest.raises(EmbeddingError, match="not positive semi-definite"):
        frechet_distance(np.zeros(2), np.diag([1.0, -1.0]), np.zeros(2), np.eye(2))
    with pytest.raises(EmbeddingError, match="do not match"):
        frechet_distance(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(EmbeddingError, match="3 dims, the other side has 2"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))

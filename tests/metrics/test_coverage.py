"""Precision / recall / density / coverage and nearest-neighbour distances: a written-out
reference, the limiting cases, a mode-dropping case, and errors."""
from __future__ import annotations

import numpy as np
import pytest

from bench.metrics.coverage import nearest_neighbour_distances, prdc
from bench.metrics.distances import EmbeddingError


def _prdc_by_loops(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """The definitions read off the papers, one pair at a time."""
    def dist(a, b):
        return float(np.sqrt(np.sum((a - b) ** 2)))

    def radius(x, i):   # k-th nearest other point of the same set
        return sorted(dist(x[i], x[j]) for j in range(len(x)) if j != i)[k - 1]

    r_real = [radius(real, i) for i in range(len(real))]
    r_fake = [radius(fake, j) for j in range(len(fake))]
    inside = [[dist(real[i], fake[j]) < r_real[i] for j in range(len(fake))] for i in range(len(real))]
    return {
        "precision": np.mean([any(inside[i][j] for i in range(len(real))) for j in range(len(fake))]),
        "recall": np.mean([any(dist(real[i], fake[j]) < r_fake[j] for j in range(len(fake)))
                           for i in range(len(real))]),
        "density": sum(map(sum, inside)) / (k * len(fake)),
        "coverage": np.mean([any(row) for row in inside]),
    }


def test_prdc_matches_the_definitions_written_out():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(30, 4)), 0.8 * rng.normal(size=(25, 4)) + 0.5
    for k in (1, 3, 5):
        ours = prdc(real, fake, k=k)
        expected = _prdc_by_loops(real, fake, k)
        assert ours == pytest.approx(expected, rel=1e-12), k
    # The case is not degenerate: no share sits at an extreme (density has no upper bound).
    scores = prdc(real, fake, k=3)
    assert all(0.0 < scores[m] < 1.0 for m in ("precision", "recall", "coverage")), scores
    assert scores["density"] > 0.0


def test_identical_sets_score_one_everywhere():
    x = np.random.default_rng(1).normal(size=(200, 16))
    assert prdc(x, x.copy(), k=5) == {"precision": 1.0, "recall": 1.0, "density": 1.0, "coverage": 1.0}


def test_disjoint_far_away_sets_score_zero_everywhere():
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(200, 16)), rng.normal(size=(150, 16)) + 100.0
    assert prdc(real, fake, k=5) == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_fakes_from_part_of_one_mode_are_precise_but_not_diverse():
    rng = np.random.default_rng(3)
    mode_a = rng.normal(size=(150, 8)) + np.r_[10.0, np.zeros(7)]
    mode_b = rng.normal(size=(150, 8)) - np.r_[10.0, np.zeros(7)]
    real = np.concatenate([mode_a, mode_b])
    fake = mode_a[mode_a[:, 1] > 0.0]          # about half of one of the two modes
    scores = prdc(real, fake, k=5)
    assert scores["precision"] == 1.0
    assert scores["recall"] < 0.5
    assert scores["coverage"] < 0.5
    assert prdc(mode_b, fake, k=5)["coverage"] == 0.0           # the dropped mode
    # Fakes spread over both modes are diverse by the same measures.
    spread = prdc(real, real[::2], k=5)
    assert spread["recall"] > 0.9 and spread["coverage"] > 0.9


def test_density_counts_balls_so_fakes_piled_on_a_hub_exceed_one_while_coverage_stays_low():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(300, 4))
    assert prdc(real, rng.normal(size=(300, 4)), k=5)["density"] == pytest.approx(1.0, abs=0.2)
    # The real clip that lies inside the most real k-NN balls, copied 50 times.
    within = np.sqrt(((real[:, None] - real[None]) ** 2).sum(-1))
    radii = np.sort(within, axis=1)[:, 5]
    hub = int(np.argmax((within < radii[:, None]).sum(axis=0)))
    piled = prdc(real, np.repeat(real[hub:hub + 1], 50, axis=0) + 1e-9 * rng.normal(size=(50, 4)), k=5)
    assert piled["density"] > 1.5
    assert piled["precision"] == 1.0
    assert piled["coverage"] < 0.05


def test_prdc_errors_name_the_problem():
    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(10, 4)), rng.normal(size=(6, 4))
    with pytest.raises(EmbeddingError, match=r"fake: 6 clips, too few for k=6"):
        prdc(real, fake, k=6)
    with pytest.raises(EmbeddingError, match=r"real: 10 clips, too few for k=10"):
        prdc(real, rng.normal(size=(20, 4)), k=10)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        prdc(real, fake, k=0)
    with pytest.raises(EmbeddingError, match="fake: embeddings have 3 dims but 4"):
        prdc(real, rng.normal(size=(6, 3)), k=2)
    bad = fake.copy()
    bad[2, 0] = np.inf
    with pytest.raises(EmbeddingError, match="fake: 1 of 6 rows contain NaN or inf"):
        prdc(real, bad, k=2)
    with pytest.raises(EmbeddingError, match="real: empty set"):
        prdc(np.zeros((0, 4)), fake, k=2)


def test_nearest_neighbour_distances_match_brute_force():
    rng = np.random.default_rng(6)
    query, reference = rng.normal(size=(40, 8)), rng.normal(size=(70, 8))
    brute = np.sqrt(((query[:, None, :] - reference[None, :, :]) ** 2).sum(-1)).min(axis=1)
    np.testing.assert_allclose(nearest_neighbour_distances(query, reference), brute, rtol=1e-12)
    # A copied clip is at distance 0; one query row is allowed.
    np.testing.assert_allclose(nearest_neighbour_distances(reference[:5], reference), 0.0, atol=1e-12)
    assert nearest_neighbour_distances(query[:1], reference).shape == (1,)
    with pytest.raises(EmbeddingError, match="query: embeddings have 4 dims but 8"):
        nearest_neighbour_distances(query[:, :4], reference)

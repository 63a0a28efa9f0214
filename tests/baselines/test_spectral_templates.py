"""The spectral templates of the autoencoder baselines: k-means initialisation, the hard choice,
the nearest-template target and its cross-entropy, and their wiring into fit."""
from __future__ import annotations

import pytest
import torch

from baselines._common.templates import SpectralTemplates
from baselines.aae.baseline import AAE, AAETemplates
from baselines.vae.baseline import VAE, VAETemplates
from tests.baselines.test_vae_aae import _build, _data, _fit

BINS, FRAMES = 6, 5
TEMPLATE_VARIANTS = [VAETemplates, AAETemplates]  # `vae` and `aae` decode without templates


def _patterns(seed: int = 0) -> torch.Tensor:
    """Four well-separated log-magnitude patterns ``(4, BINS, FRAMES)``."""
    return 4.0 * torch.randn(4, BINS, FRAMES, generator=torch.Generator().manual_seed(seed))


def _clips_of(patterns: torch.Tensor, which: list[int], seed: int = 1) -> torch.Tensor:
    noise = 0.05 * torch.randn(len(which), BINS, FRAMES, generator=torch.Generator().manual_seed(seed))
    return patterns[which] + noise


def test_kmeans_gives_each_class_the_mean_of_each_of_its_clusters():
    p = _patterns()
    # class 0 mixes patterns 0 and 1, class 1 mixes 2 and 3; the last row ("no class") sees all
    which = [0, 1] * 6 + [2, 3] * 6
    log_mags, labels = _clips_of(p, which), torch.tensor([0] * 12 + [1] * 12)
    t = SpectralTemplates(3, 2, BINS, FRAMES, cond_dim=4)
    t.fit_kmeans(log_mags, labels, seed=0)
    for row, members in ((0, (0, 1)), (1, (2, 3))):
        for m in members:  # each pattern is one template of its class's row, up to the noise
            expect = log_mags[[i for i, w in enumerate(which) if w == m]].mean(0)
            assert min((t.bank[row, k] - expect).abs().max().item() for k in range(2)) < 1e-5
    # with two templates for four patterns, the "no class" row holds two cluster means
    assert not torch.allclose(t.bank[2, 0], t.bank[2, 1])


def test_a_row_with_fewer_clips_than_templates_repeats_them_and_an_empty_class_warns():
    p = _patterns()
    t = SpectralTemplates(3, 3, BINS, FRAMES, cond_dim=4)
    t.fit_kmeans(_clips_of(p, [0, 1, 2]), torch.tensor([0, 0, 1]))
    assert torch.allclose(t.bank[1, 0], t.bank[1, 1]) and torch.allclose(t.bank[1, 0], t.bank[1, 2])
    with pytest.warns(UserWarning, match="no training clip of class 1"):
        t.fit_kmeans(_clips_of(p, [0, 1]), torch.tensor([0, 0]))
    assert torch.equal(t.bank[1], t.bank[2])  # the empty class starts from all classes' templates
    with pytest.raises(ValueError, match="no training clips"):
        t.fit_kmeans(torch.zeros(0, BINS, FRAMES), torch.zeros(0, dtype=torch.long))


def test_the_hard_choice_sounds_one_template_and_still_passes_a_gradient():
    t = SpectralTemplates(2, 3, BINS, FRAMES, cond_dim=4)
    with torch.no_grad():
        t.bank.copy_(_patterns()[:3].expand(2, 3, BINS, FRAMES) + torch.tensor([0.0, 1.0]).view(2, 1, 1, 1))
    cond, rows = torch.randn(5, 4, generator=torch.Generator().manual_seed(2)), torch.tensor([0, 1, 1, 0, 1])
    envelope = t(cond, rows)
    chosen = t.select(cond).argmax(1)
    for b in range(5):
        assert torch.allclose(envelope[b], t.bank[rows[b], chosen[b]])
    (envelope * torch.randn_like(envelope)).sum().backward()
    assert t.select.weight.grad.abs().sum() > 0  # the soft choice carries the gradient

    soft = SpectralTemplates(2, 3, BINS, FRAMES, cond_dim=4, hard=False)
    soft.load_state_dict(t.state_dict())
    w = torch.softmax(soft.select(cond), 1)
    assert torch.allclose(soft(cond, rows)[0], torch.einsum("k,kft->ft", w[0], soft.bank[0]), atol=1e-5)


def test_nearest_is_the_closest_template_of_the_clips_own_row():
    g = torch.Generator().manual_seed(3)
    t = SpectralTemplates(3, 4, BINS, FRAMES, cond_dim=2)
    with torch.no_grad():
        t.bank.normal_(generator=g)
    x, rows = torch.randn(10, BINS, FRAMES, generator=g), torch.randint(3, (10,), generator=g)
    brute = torch.stack([(t.bank[r] - xi).pow(2).sum((1, 2)).argmin() for xi, r in zip(x, rows)])
    assert torch.equal(t.nearest(x, rows), brute)


def test_the_assignment_loss_teaches_the_selector_to_pick_the_nearest_template():
    p = _patterns()
    t = SpectralTemplates(2, 2, BINS, FRAMES, cond_dim=2)
    with torch.no_grad():
        t.bank[:] = p[:2]
    which = torch.tensor([0, 1] * 8)
    clips, rows = _clips_of(p, which.tolist()), torch.zeros(16, dtype=torch.long)
    cond = torch.nn.functional.one_hot(which, 2).float() * 2 - 1  # the code "knows" the pattern
    opt = torch.optim.Adam(t.select.parameters(), lr=0.05)
    before = t.assignment_loss(cond, rows, clips).item()
    for _ in range(100):
        opt.zero_grad()
        t.assignment_loss(cond, rows, clips).backward()
        opt.step()
    assert t.assignment_loss(cond, rows, clips).item() < 0.1 * before
    assert torch.equal(t.select(cond).argmax(1), which)


@pytest.mark.parametrize("cls", TEMPLATE_VARIANTS)
def test_fit_initialises_the_templates_from_the_training_split_and_logs_their_loss(cls, tmp_path):
    data = _data()
    b = _build(cls)
    assert b.net.templates.bank.abs().sum() == 0
    _, events = _fit(b, data, tmp_path, steps=3)
    bank = b.net.templates.bank.detach()
    # every class's templates were set from its own clips: the low tone's and the high tone's
    # templates peak in different bins
    peak = bank.mean(-1).argmax(-1)  # (rows, templates)
    assert peak[0, 0] != peak[1, 0]
    train = [e for e in events if e["kind"] == "train"]
    assert len(train) == 3 and all(e["template_ce"] >= 0 for e in train)


@pytest.mark.parametrize("cls", [VAE, AAE])
def test_without_templates_the_decoder_has_none_and_no_assignment_term(cls):
    b = _build(cls, templates=0)
    assert b.net.templates is None
    z = torch.zeros(2, b.latent_dim)
    assert b.net.template_loss(z, torch.tensor([0, 1]), torch.zeros(2, 1, b.clip_samples)).item() == 0.0
    assert b.decode(z, condition=None).shape == (2, 1, b.clip_samples)
    with pytest.raises(ValueError, match="templates"):
        _build(cls, templates=-1)


def _choice_rates(t: SpectralTemplates, cond: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    return torch.bincount(t.logits(cond, rows).argmax(1), minlength=t.count).float() / len(cond)


def test_calibration_makes_prior_codes_choose_templates_at_the_training_rates():
    t = SpectralTemplates(2, 4, BINS, FRAMES, cond_dim=3)
    with torch.no_grad():  # a selector that sends most codes to template 0
        t.select.bias.copy_(torch.tensor([2.0, 0.0, 0.0, -1.0]))
        t.frequency[0] = torch.tensor([0.1, 0.2, 0.3, 0.4])
    g = torch.Generator().manual_seed(4)
    cond, rows = torch.randn(4000, 3, generator=g), torch.zeros(4000, dtype=torch.long)
    target = t.frequency[0]
    before = 0.5 * (_choice_rates(t, cond, rows) - target).abs().sum().item()
    misfit = t.calibrate(cond, rows)
    assert set(misfit) == {0} and misfit[0] < 0.02 < before
    held_out = torch.randn(4000, 3, generator=g)  # fresh prior codes follow the same rates
    assert 0.5 * (_choice_rates(t, held_out, rows) - target).abs().sum().item() < 0.03
    assert torch.equal(t.prior_bias[1], torch.zeros(4))  # a row without codes is left alone
    # the cross-entropy still teaches the raw selector: calibration only shifts generation
    clips = t.bank[0, :1].expand(4000, BINS, FRAMES)
    expect = torch.nn.functional.cross_entropy(t.select(cond), torch.zeros(4000, dtype=torch.long))
    assert torch.allclose(t.assignment_loss(cond, rows, clips), expect)


def test_min_clips_caps_the_distinct_templates_and_the_repeats_are_never_chosen():
    p = _patterns()
    # class 0: seven clips of two patterns → at most 7 // 3 = 2 distinct templates of 4
    which = [0, 1, 0, 1, 0, 1, 0]
    t = SpectralTemplates(2, 4, BINS, FRAMES, cond_dim=2, min_clips=3)
    t.fit_kmeans(_clips_of(p, which), torch.zeros(7, dtype=torch.long))
    assert t.active[0].tolist() == [True, True, False, False]
    assert torch.equal(t.bank[0, 2], t.bank[0, 0]) and torch.equal(t.bank[0, 3], t.bank[0, 1])
    assert t.frequency[0, 2:].sum() == 0 and torch.isclose(t.frequency[0].sum(), torch.tensor(1.0))
    # the cluster with four clips is chosen more often by the training clips
    assert sorted(t.frequency[0, :2].tolist()) == pytest.approx([3.5 / 8, 4.5 / 8])
    with torch.no_grad():  # even a selector that prefers a repeat cannot choose it
        t.select.bias.copy_(torch.tensor([0.0, 0.0, 5.0, 9.0]))
    cond, rows = torch.randn(50, 2), torch.zeros(50, dtype=torch.long)
    assert int(t.weights(cond, rows).argmax(1).max()) <= 1
    assert int(t.nearest(_clips_of(p, [0, 1] * 5), rows[:10]).max()) <= 1
    assert torch.isfinite(t.assignment_loss(cond[:10], rows[:10], _clips_of(p, [0, 1] * 5)))
    t.calibrate(cond, rows)  # over the distinct templates only
    assert torch.isfinite(t.prior_bias).all() and int(t.weights(cond, rows).argmax(1).max()) <= 1
    with pytest.raises(ValueError, match="template_min_clips"):
        SpectralTemplates(2, 4, BINS, FRAMES, cond_dim=2, min_clips=0)


@pytest.mark.parametrize("cls", TEMPLATE_VARIANTS)
@pytest.mark.parametrize("learn", [False, True])
def test_templates_stay_the_kmeans_means_unless_learnt(cls, learn, tmp_path):
    data = _data()
    b = _build(cls, template_learn=learn)
    _fit(b, data, tmp_path, steps=5)
    fresh = _build(cls)
    fresh.net.init_templates(data.train.audio, data.train.labels, seed=0)  # fit's seed is 0
    same = torch.equal(b.net.templates.bank, fresh.net.templates.bank)
    assert same is not learn
    assert b.net.templates.bank.requires_grad is learn


@pytest.mark.parametrize("cls", TEMPLATE_VARIANTS)
def test_fit_calibrates_the_selector_to_the_prior(cls, tmp_path):
    data = _data()
    b = _build(cls)
    summary, _ = _fit(b, data, tmp_path, steps=4, val_every=2)
    assert summary.extra["template_calibration_tv"] < 0.05
    t = b.net.templates
    assert t.prior_bias[:-1].abs().sum() > 0 and t.prior_bias[-1].abs().sum() == 0
    labels = torch.arange(3).repeat_interleave(2048)
    z = b.prior.sample(labels, torch.Generator().manual_seed(9))  # codes the fit never saw
    rows, zc = b.net._decoder_input(z, labels)
    for r in range(3):
        rates = _choice_rates(t, zc[rows == r], rows[rows == r])
        assert 0.5 * (rates - t.frequency[r]).abs().sum() < 0.05
    # the kept checkpoint carries its own calibration
    restored = _build(cls)
    restored.load_state_dict(torch.load(tmp_path / "checkpoints" / "best.pt", weights_only=False)["state"])
    assert restored.net.templates.prior_bias[:-1].abs().sum() > 0
    assert torch.equal(restored.net.templates.frequency, t.frequency)

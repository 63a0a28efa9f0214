"""The DrumGAN baseline: its losses, its conditions, its latent code, checkpoints and run guards.

Everything runs on ``drumgan_smoke.yaml`` and a tiny in-code data set at 8 kHz (seconds on a CPU).
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
import torch
import yaml

from baselines._common.stft import num_frames
from baselines.drumgan.baseline import CriticDiverged, DrumGAN
from baselines.drumgan.losses import critic_loss, generator_loss, gradient_penalty, r1_penalty
from baselines.drumgan.model import _band_interpolation
from bench.api.baseline import Condition, LatentGenerator, declared_vs_implemented
from bench.api.fit import Budget, FitContext, NonFiniteGradient, NonFiniteLoss
from bench.data import timbral
from bench.data.datamodule import DataModule
from tests.baselines.tiny import CLASSES, RATE, SAMPLES, tiny_clips, tiny_data
from bench.io_atomic import read_jsonl

CONF = Path(__file__).resolve().parents[2] / "bench" / "conf" / "baseline"
_clips = tiny_clips


def _data() -> DataModule:
    return tiny_data(4, high_hz=1000.0)


def _gan(**overrides) -> DrumGAN:
    cfg = yaml.safe_load((CONF / "drumgan_smoke.yaml").read_text())
    cfg.pop("name")
    torch.manual_seed(0)
    return DrumGAN(num_classes=CLASSES, sample_rate=RATE, clip_samples=SAMPLES, **{**cfg, **overrides})


def _fit(gan: DrumGAN, data: DataModule, tmp: Path, steps: int = 3) -> FitContext:
    ctx = FitContext(budget=Budget(steps, 60.0, 4, 0), device=torch.device("cpu"), seed=0,
                     run_dir=tmp, baseline=gan)
    try:
        gan.fit(data, ctx)
    finally:
        ctx.close()
    return ctx


# --- losses ------------------------------------------------------------------------------------
def test_gradient_penalty_is_zero_for_a_1_lipschitz_critic_and_counts_the_excess_otherwise():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(16, 5, 7, generator=g), torch.randn(16, 5, 7, generator=g)
    w = torch.randn(5, 7, generator=g)
    unit = w / w.norm()            # f(x) = <w, x>, ‖∇f‖ = 1 everywhere

    def linear(scale):
        return lambda x: (x * scale * unit).sum(dim=(1, 2))
    assert gradient_penalty(linear(1.0), real, fake).item() == pytest.approx(0.0, abs=1e-10)
    assert gradient_penalty(linear(3.0), real, fake).item() == pytest.approx(4.0, rel=1e-5)
    assert r1_penalty(linear(3.0), real).item() == pytest.approx(9.0, rel=1e-5)
    # a 1-Lipschitz critic that is not linear, |x₀|: also zero (away from the kink at 0)
    assert gradient_penalty(lambda x: x[:, 0, 0].abs(), real, fake).item() == pytest.approx(0.0, abs=1e-10)


def test_penalties_take_a_tuple_of_features_as_one_input_vector():
    g = torch.Generator().manual_seed(1)
    real = (torch.randn(16, 5, 7, generator=g), torch.randn(16, 3, 11, generator=g))
    fake = (torch.randn(16, 5, 7, generator=g), torch.randn(16, 3, 11, generator=g))
    w = (torch.randn(5, 7, generator=g), torch.randn(3, 11, generator=g))
    norm = math.sqrt(sum(float(p.pow(2).sum()) for p in w))
    unit = tuple(p / norm for p in w)      # f(a, b) = <u_a, a> + <u_b, b>, ‖∇f‖ = 1 jointly

    def linear(scale):
        return lambda xs: scale * sum((x * u).sum(dim=(1, 2)) for x, u in zip(xs, unit))
    assert gradient_penalty(linear(1.0), real, fake).item() == pytest.approx(0.0, abs=1e-10)
    assert gradient_penalty(linear(3.0), real, fake).item() == pytest.approx(4.0, rel=1e-5)
    assert r1_penalty(linear(3.0), real).item() == pytest.approx(9.0, rel=1e-5)
    # a critic that reads only the first part has gradient norm ‖u_a‖ < 1: penalised by the gap
    first = float(unit[0].norm())
    only_a = lambda xs: (xs[0] * unit[0]).sum(dim=(1, 2))  # noqa: E731
    assert gradient_penalty(only_a, real, fake).item() == pytest.approx((first - 1) ** 2, rel=1e-5)
    with pytest.raises(ValueError, match="differ in shape"):
        gradient_penalty(linear(1.0), real, fake[:1])


def test_gan_losses_point_the_right_way():
    good, bad = torch.full((8,), 5.0), torch.full((8,), -5.0)
    for kind in ("ns_r1", "wgan_gp"):
        assert critic_loss(kind, good, bad) < critic_loss(kind, bad, good)
        assert generator_loss(kind, good) < generator_loss(kind, bad)
    with pytest.raises(ValueError, match="unknown GAN loss"):
        critic_loss("lsgan", good, bad)


def test_band_interpolation_is_a_partition_of_unity():
    w = _band_interpolation(16, 129, RATE)
    assert torch.allclose(w.sum(dim=0), torch.ones(129), atol=1e-6)
    assert bool((w >= 0).all())


# --- the plugin --------------------------------------------------------------------------------
def test_minibatch_std_is_zero_for_a_batch_of_copies_and_grows_with_their_spread():
    from baselines.drumgan.model import minibatch_std
    same = torch.randn(1, 3, 5).repeat(8, 1, 1)
    spread = same + torch.randn(8, 3, 5)
    assert minibatch_std(same, 4).shape == (8, 1, 5)
    assert minibatch_std(same, 4).abs().max() < 1e-3
    wide, narrow = minibatch_std(spread * 3, 4), minibatch_std(spread, 4)
    assert torch.allclose(wide, 3 * narrow, rtol=1e-4)
    # members of one group (examples 0, 2, 4, 6 with 8 clips in groups of 4) share the value
    assert torch.equal(narrow[0], narrow[2]) and torch.equal(narrow[0], narrow[6])
    assert minibatch_std(spread[:3], 4).shape == (3, 1, 5)      # 4 does not divide 3: one group


def test_the_critic_takes_the_minibatch_std_feature_when_asked(tmp_path):
    gan = _gan(minibatch_std_group=2)
    _fit(gan, _data(), tmp_path, steps=2)
    width = gan.critic.trunks[0].convs[-1].in_channels        # channels after the last level
    frames = _gan().critic.feature.in_features // width
    assert gan.critic.feature.in_features == (width + 1) * frames   # one more channel: the std


def test_the_fine_branch_and_the_two_resolution_critic_train_and_round_trip(tmp_path):
    plain = _gan()
    assert plain.gen.fine is None and len(plain.critic.fronts) == 1
    two_resolutions = dict(fine_n_fft=128, fine_hop=32, critic_fine_n_fft=128, critic_fine_hop=32,
                           critic_fine_mels=20, critic_fine_widths=[8, 8])
    gan = _gan(**two_resolutions)
    assert gan.gen.fine is not None and len(gan.critic.trunks) == 2
    x = torch.zeros(3, 1, SAMPLES)
    coarse, fine = gan.critic.features(x)
    assert fine.shape[1:] == (20, num_frames(SAMPLES, 32))        # hop 32 against the smoke's 64
    assert coarse.shape[1:] == (16, num_frames(SAMPLES, 64))
    with pytest.raises(ValueError, match="reads 2 resolution"):
        gan.critic((coarse,), torch.zeros(3, dtype=torch.long))
    # the fine head adds to the waveform: silencing it changes the clip
    z, desc, labels = torch.randn(2, gan.latent_dim), torch.zeros(2, len(timbral.NAMES)), torch.tensor([0, 1])
    with torch.no_grad():
        torch.manual_seed(4)
        both = gan.gen(z, desc, labels)
        assert both.shape == (2, 1, SAMPLES)
        head, gan.gen.fine = gan.gen.fine, None
        torch.manual_seed(4)
        main = gan.gen(z, desc, labels)
        gan.gen.fine = head
    assert not torch.allclose(both, main, atol=1e-4)
    _fit(gan, _data(), tmp_path, steps=2)
    # the fine trunk is trained through the critic's loss
    assert gan.critic.trunks[1].inp.weight.grad is not None
    assert float(gan.critic.trunks[1].inp.weight.grad.abs().sum()) > 0
    again = _gan(**two_resolutions)
    again.load_state_dict(gan.state_dict())
    with torch.no_grad():      # the noise phases are drawn per call: the same seed for both
        torch.manual_seed(5)
        ours = gan.gen(z, desc, labels)
        torch.manual_seed(5)
        assert torch.equal(again.gen(z, desc, labels), ours)
    with pytest.raises(RuntimeError, match="Unexpected key.*fine"):   # a plain config cannot load it
        plain.load_state_dict(gan.state_dict())


def test_spectral_norm_holds_each_critic_layer_at_unit_gain():
    gan = _gan(critic_spectral_norm=True)
    feats, labels = gan.critic.features(torch.randn(4, 1, SAMPLES) * 0.1), torch.zeros(4, dtype=torch.long)
    for _ in range(30):                   # the power iteration runs once per training-mode call
        gan.critic(feats, labels)
    layers = [gan.critic.trunks[0].inp, gan.critic.trunks[0].down[-1], gan.critic.feature, gan.critic.score]
    for layer in layers:
        assert float(torch.linalg.matrix_norm(layer.weight.detach().flatten(1), 2)) == pytest.approx(1.0, rel=0.05)
    plain = _gan().critic
    assert float(torch.linalg.matrix_norm(plain.feature.weight.detach(), 2)) < 0.9   # default init: not 1


def test_declares_and_implements_a_conditional_latent_generator():
    gan = _gan()
    assert isinstance(gan, LatentGenerator) and declared_vs_implemented(gan) == []
    assert "latent" in gan.meta.capabilities and "encode" not in gan.meta.capabilities


def test_fit_learns_descriptor_statistics_from_the_training_split(tmp_path):
    data = _data()
    gan = _gan()
    _fit(gan, data, tmp_path)
    values = timbral.timbral_matrix(data.train.audio, RATE)
    assert torch.allclose(gan.desc_mean, values.mean(dim=0), atol=1e-4)
    assert gan.train_desc.shape == (len(data.train), len(timbral.NAMES))
    assert torch.equal(gan.train_labels, data.train.labels)


def test_codes_carry_the_class_s_descriptors_and_condition_extra_overrides_them(tmp_path):
    gan = _gan()
    _fit(gan, _data(), tmp_path)
    gan.eval()
    labels = torch.tensor([0, 0, 2, 2])
    z = gan.sample_latent(4, condition=Condition(labels=labels), generator=torch.Generator().manual_seed(0))
    assert z.shape == (4, gan.latent_dim + len(timbral.NAMES))
    desc = z[:, gan.latent_dim:]
    for row, label in zip(desc, labels):      # each row is one training clip's of that class
        members = gan.train_desc[gan.train_labels == label]
        assert bool(((members - row).abs().max(dim=1).values < 1e-6).any())
    asked = gan.desc_mean[0] + 2 * gan.desc_std[0]
    cond = Condition(labels=labels, extra={"brightness": torch.full((4,), float(asked))})
    z2 = gan.sample_latent(4, condition=cond, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(z2[:, gan.latent_dim], torch.full((4,), 2.0), atol=1e-5)
    assert torch.equal(z2[:, gan.latent_dim + 1:], z[:, gan.latent_dim + 1:])
    with torch.no_grad():   # decode honours extra too: the same audio as the code that holds it
        assert torch.equal(gan.decode(z, condition=cond), gan.decode(z2, condition=Condition(labels=labels)))
    with pytest.raises(ValueError, match="attack_s"):
        gan.sample(4, condition=Condition(labels=labels, extra={"attack_s": torch.zeros(4)}))
    with pytest.raises(ValueError, match="needs condition.labels"):
        gan.decode(z)


def test_soft_clip_lets_the_critic_judge_the_bounded_clip_that_sampling_returns():
    loud = {"init_log_mag": 4.0}        # a head that starts far above full scale
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(0))
    d, labels = torch.zeros(3, len(timbral.NAMES)), torch.tensor([0, 1, 2])
    plain = _gan(soft_clip=False, **loud).eval()
    with torch.no_grad():
        trained_on = plain.gen(z, d, labels)
        sampled = plain.decode(torch.cat([z, d], dim=1), condition=Condition(labels=labels))
    assert trained_on.abs().max() > 1.5                     # what the critic sees in training …
    assert not torch.equal(trained_on.clamp(-1, 1), trained_on)
    assert torch.equal(sampled, trained_on.clamp(-1, 1))    # … is not what is scored: clipped
    soft = _gan(soft_clip=True, **loud).eval()
    trained_on = soft.gen(z, d, labels)
    with torch.no_grad():
        sampled = soft.decode(torch.cat([z, d], dim=1), condition=Condition(labels=labels))
    assert trained_on.abs().max() <= 1.0                   # tanh: float32 rounds its top to 1
    assert torch.allclose(sampled, trained_on.detach())     # the clip scored is the clip judged
    trained_on.pow(2).sum().backward()                       # and saturated samples still learn
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in soft.gen.synth.parameters())
    assert soft.gen.synth.proj.bias.grad.abs().sum() > 0


def test_checkpoint_round_trip_reproduces_samples_and_refuses_another_configuration(tmp_path):
    gan = _gan()
    _fit(gan, _data(), tmp_path)
    buf = io.BytesIO()
    torch.save(gan.state_dict(), buf)
    other = _gan()
    buf.seek(0)
    other.load_state_dict(torch.load(buf, weights_only=False))
    gan.eval(), other.eval()
    labels = torch.tensor([0, 1, 2])

    def draw(b):
        return b.sample(3, condition=Condition(labels=labels), generator=torch.Generator().manual_seed(5))
    assert torch.equal(draw(gan), draw(other))
    buf.seek(0)
    with pytest.raises(ValueError, match="timbral descriptors|conditions on"):
        _gan(use_descriptors=False).load_state_dict(torch.load(buf, weights_only=False))


@pytest.mark.parametrize("loss", ["ns_r1", "wgan_gp"])
def test_both_losses_train_and_log_their_terms(tmp_path, loss):
    gan = _gan(loss=loss, r1_every=1)
    before = [p.detach().clone() for p in gan.gen.parameters()]
    _fit(gan, _data(), tmp_path, steps=2)
    rows = [r for r in read_jsonl(tmp_path / "events.jsonl") if r["kind"] == "train"]
    assert len(rows) == 2 and all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in rows)
    assert rows[0]["penalty"] > 0          # R1 (every step here) or the gradient penalty
    assert any(not torch.equal(a, b) for a, b in zip(before, gan.gen.parameters()))


def test_lr_final_fraction_anneals_both_rates_over_the_protocol_s_max_steps(tmp_path):
    gan = _gan(lr_final_fraction=0.0, lr_g=1e-3, lr_d=2e-3)
    _fit(gan, _data(), tmp_path, steps=4)
    # the last update (step 3 of 4) ran at a quarter of each base rate
    assert gan.opt_g.param_groups[0]["lr"] == pytest.approx(1e-3 / 4)
    assert gan.opt_d.param_groups[0]["lr"] == pytest.approx(2e-3 / 4)


def test_a_nan_stops_the_run_before_it_reaches_the_weights(tmp_path):
    gan = _gan()
    data = _data()
    data.train.audio[0, 0, 10] = float("nan")     # the critic's loss on real clips turns NaN
    data.train.extra.update({n: torch.zeros(len(data.train)) for n in timbral.NAMES})
    weights = [p.detach().clone() for p in gan.critic.parameters()]
    with pytest.raises(NonFiniteLoss, match="d_loss"):
        _fit(gan, data, tmp_path, steps=50)
    assert all(torch.equal(a, b) for a, b in zip(weights, gan.critic.parameters()))


def test_a_non_finite_gradient_stops_the_run_before_either_update(tmp_path, monkeypatch):
    gan = _gan()
    critic, gen = ([p.detach().clone() for p in m.parameters()] for m in (gan.critic, gan.gen))
    backward = torch.Tensor.backward

    def poisoned(loss, *args, **kwargs):      # finite losses, one NaN gradient on the generator
        backward(loss, *args, **kwargs)
        grad = next(gan.gen.parameters()).grad
        if grad is not None:
            grad.view(-1)[0] = float("nan")
    monkeypatch.setattr(torch.Tensor, "backward", poisoned)
    with pytest.raises(NonFiniteGradient, match="drumgan generator: the gradient norm is nan at step 0"):
        _fit(gan, _data(), tmp_path, steps=3)
    assert all(torch.equal(a, b) for a, b in zip(critic, gan.critic.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(gen, gan.gen.parameters()))


def test_a_diverging_critic_stops_the_run_with_its_scores(tmp_path):
    gan = _gan(max_critic_score=1e-6)
    with pytest.raises(CriticDiverged, match="critic diverged at step 0"):
        _fit(gan, _data(), tmp_path, steps=5)
    rows = read_jsonl(tmp_path / "events.jsonl")
    assert [r["step"] for r in rows] == [0]      # the reason's numbers are in the training log


def test_descriptor_sweep_reports_a_spearman_per_descriptor_and_the_flat_classes(tmp_path):
    from baselines.drumgan.sweep import descriptor_sweep

    data = _data()
    data.train.extra.update(timbral.timbral_descriptors(data.train.audio[:, 0], RATE))
    data.train.extra["boominess"][data.train.labels == 2] = timbral.FLOOR_DB  # flat for "noise"
    gan = _gan()
    _fit(gan, data, tmp_path, steps=1)
    result = descriptor_sweep(gan, data, ("brightness", "boominess"), levels=3, base=2)
    for name in ("brightness", "boominess"):
        item = result["descriptors"][name]
        assert -1.0 <= item["spearman"] <= 1.0
        for row in item["per_class"].values():
            assert len(row["asked"]) == 3 and row["asked"] == sorted(row["asked"])
    assert "noise" in result["descriptors"]["boominess"]["flat_classes"]
    assert "noise" not in result["descriptors"]["boominess"]["per_class"]

"""The ``ddsp`` baseline: contract, training loop, its sampling prior, checkpoints, size.

Runs on the tiny ``ddsp_smoke.yaml`` configuration and an in-code data set (decaying tones at
class-specific pitches and noise bursts at 8 kHz), so the file takes seconds on a CPU.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
import torch
import yaml

from baselines.ddsp.baseline import DDSP
from bench.api.baseline import Autoencoder, Condition, LatentGenerator, declared_vs_implemented
from bench.api.fit import Budget, FitContext, NonFiniteLoss
from tests.baselines.tiny import CLASSES, RATE, SAMPLES, tiny_clips, tiny_data
from bench.io_atomic import read_jsonl
from bench.metrics.recon import mrstft_distance

CONF = Path(__file__).resolve().parents[2] / "bench" / "conf" / "baseline"
_clips, _data = tiny_clips, tiny_data


def _config(name: str) -> dict:
    cfg = yaml.safe_load((CONF / f"{name}.yaml").read_text())
    cfg.pop("name")
    return cfg


def _build(**overrides) -> DDSP:
    torch.manual_seed(0)
    return DDSP(num_classes=CLASSES, sample_rate=RATE, clip_samples=SAMPLES,
                **{**_config("ddsp_smoke"), **overrides})


def _fit(b, data, tmp_path, *, steps, batch_size=4, val_every=5, wall=60.0):
    def recon() -> float:
        cond = Condition(labels=data.valid.labels)
        y = b.decode(b.encode(data.valid.audio, condition=cond), condition=cond)
        return float(mrstft_distance(y, data.valid.audio).mean())
    ctx = FitContext(budget=Budget(steps, wall, batch_size, val_every), device=torch.device("cpu"),
                     seed=0, run_dir=tmp_path, baseline=b, validate_fn=recon)
    try:
        summary = b.fit(data, ctx)
    finally:
        ctx.close()
    return summary, read_jsonl(tmp_path / "events.jsonl")


def _samples(b, seed, labels=(0, 1, 2, 0)):
    labels = torch.tensor(labels)
    return b.sample(len(labels), condition=Condition(labels=labels),
                    generator=torch.Generator().manual_seed(seed))


def test_declares_what_it_implements_and_names_its_prior():
    b = _build()
    assert declared_vs_implemented(b) == []
    assert isinstance(b, Autoencoder) and isinstance(b, LatentGenerator)
    assert DDSP.meta.capabilities == {"sample", "conditional", "encode", "latent"}
    assert "Shier" in DDSP.meta.citation and "Engel" in DDSP.meta.citation
    assert "Gaussian mixture fitted on the training clips' latent means" in DDSP.meta.description


def test_the_quick_configuration_is_smaller_than_the_autoencoders():
    # the VAE and AAE rows train about 1.4 M parameters under the quick protocol
    b = DDSP(num_classes=9, sample_rate=16000, clip_samples=16000, **_config("ddsp"))
    trained = sum(p.numel() for p in b.net.parameters() if p.requires_grad)
    assert 100_000 < trained < 1_000_000
    # the same configuration under a lower rate keeps its partials below Nyquist
    low = DDSP(num_classes=CLASSES, sample_rate=RATE, clip_samples=SAMPLES, **_config("ddsp"))
    assert float(low.net.anchors.max()) == pytest.approx(0.45 * RATE) and low.net.anchors.max() < RATE / 2


def test_fit_logs_each_step_validates_and_refits_the_prior(tmp_path):
    b = _build()
    before = b.density.means.clone()
    summary, events = _fit(b, _data(), tmp_path, steps=7, val_every=3)
    train = [e for e in events if e["kind"] == "train"]
    valid = [e for e in events if e["kind"] == "valid"]
    assert [e["step"] for e in train] == list(range(7))
    assert {"loss", "recon", "kl", "kl_weight"} <= set(train[0])
    assert all(math.isfinite(e["loss"]) for e in train)
    assert [e["step"] for e in valid] == [3, 6]
    assert summary.steps == 7 and summary.stopped_because == "max_steps"
    assert summary.extra["density_components"]["0"] == 2  # 4 clips, 2 per component
    assert not torch.equal(before, b.density.means)
    best = torch.load(tmp_path / "checkpoints" / "best.pt", weights_only=False)
    assert "density" in best["state"]  # a kept checkpoint carries the prior it was fitted with


def test_the_prior_is_fitted_to_the_encoders_codes(tmp_path):
    b = _build()
    data = _data(per_class=4)
    _fit(b, data, tmp_path, steps=2, val_every=0)
    with torch.no_grad():
        codes = b.encode(data.train.audio)
    for c in range(CLASSES):
        z = b.sample_latent(2000, condition=Condition(labels=torch.full((2000,), c)),
                            generator=torch.Generator().manual_seed(0))
        own = codes[data.train.labels == c].mean(0)
        assert torch.allclose(z.mean(0), own, atol=0.1 * float(codes.std()) + 1e-3)


def test_fit_stops_on_the_wall_budget(tmp_path):
    summary, events = _fit(_build(), _data(), tmp_path, steps=10_000, wall=0.0)
    assert summary.steps == 0 and summary.stopped_because == "max_wall_s"
    assert not [e for e in events if e["kind"] == "train"]


def test_lr_final_fraction_anneals_the_rate_over_the_protocol_s_max_steps(tmp_path):
    constant, annealed = _build(), _build(lr_final_fraction=0.25)
    for b in (constant, annealed):
        _fit(b, _data(), tmp_path / str(id(b)), steps=4, val_every=0)
    base = constant.lr
    assert constant.opt.param_groups[0]["lr"] == pytest.approx(base)
    # the last update (step 3 of 4) ran at 1 − 0.75 · 3/4 of the base rate
    assert annealed.opt.param_groups[0]["lr"] == pytest.approx(base * (1 - 0.75 * 3 / 4))


def test_an_lr_final_fraction_outside_0_1_is_refused_when_the_baseline_is_built():
    with pytest.raises(ValueError, match=r"lr_final_fraction\) must lie in \[0, 1\], got 1.5"):
        _build(lr_final_fraction=1.5)


@pytest.mark.slow
def test_reconstruction_loss_falls_when_overfitting_a_tiny_set(tmp_path):
    b = _build()
    # bound by steps only: a loaded machine must not cut the run short
    _, events = _fit(b, _data(per_class=1), tmp_path, steps=60, batch_size=3, val_every=0,
                     wall=1e9)
    recon = [e["recon"] for e in events if e["kind"] == "train"]
    assert len(recon) == 60
    first, last = sum(recon[:5]) / 5, sum(recon[-5:]) / 5
    assert last < 0.7 * first, (first, last)  # measured 0.47–0.53 over 3 seeds


def test_samples_have_the_contract_shape_and_seeds_reproduce_them():
    b = _build().eval()
    x = _samples(b, 0)
    assert x.shape == (4, 1, SAMPLES) and x.dtype == torch.float32
    assert torch.isfinite(x).all() and x.abs().max() <= 1.0
    assert torch.equal(_samples(b, 1), _samples(b, 1))
    assert not torch.equal(_samples(b, 1), _samples(b, 2))
    assert b.sample(5, generator=torch.Generator().manual_seed(0)).shape == (5, 1, SAMPLES)
    with pytest.raises(ValueError, match="3 labels"):
        b.sample(2, condition=Condition(labels=torch.tensor([0, 1, 2])))


def test_checkpoint_round_trip_reproduces_samples_prior_and_optimiser(tmp_path):
    b = _build()
    _fit(b, _data(), tmp_path, steps=3, val_every=0)
    buf = io.BytesIO()
    torch.save(b.state_dict(), buf)
    buf.seek(0)
    other = _build()
    assert not torch.equal(_samples(b.eval(), 3), _samples(other.eval(), 3))
    other.load_state_dict(torch.load(buf, weights_only=False))
    assert torch.equal(_samples(b.eval(), 3), _samples(other.eval(), 3))
    assert torch.equal(b.density.chol, other.density.chol) and other.steps_done == 3
    saved, loaded = b.opt.state_dict()["state"], other.opt.state_dict()["state"]
    assert saved.keys() == loaded.keys() and len(saved) > 0
    assert all(torch.equal(saved[k]["exp_avg"], loaded[k]["exp_avg"]) for k in saved)
    with pytest.raises(ValueError, match="not a ddsp checkpoint"):
        other.load_state_dict({"baseline": "vae", "format": 1})


def test_encode_decode_shapes_and_errors():
    b = _build().eval()
    data = _data()
    cond = Condition(labels=data.test.labels)
    with torch.no_grad():
        z = b.encode(data.test.audio, condition=cond)
        y = b.decode(z, condition=cond)
    assert z.shape == (len(data.test), b.latent_dim)
    assert y.shape == data.test.audio.shape and y.abs().max() <= 1.0
    with pytest.raises(ValueError, match="expected audio of shape"):
        b.encode(torch.zeros(2, 1, SAMPLES + 1))
    with pytest.raises(ValueError, match="class labels must lie in"):
        b.decode(z[:2], condition=Condition(labels=torch.tensor([0, CLASSES])))


def test_fit_refuses_data_of_another_shape(tmp_path):
    b = DDSP(num_classes=CLASSES, sample_rate=RATE, clip_samples=SAMPLES // 2, **_config("ddsp_smoke"))
    with pytest.raises(ValueError, match="built for 8000 Hz × 2000 samples"):
        _fit(b, _data(), tmp_path, steps=2)


def test_a_non_finite_loss_stops_the_run_before_any_update(tmp_path, monkeypatch):
    b = _build()
    before = {k: v.clone() for k, v in b.net.state_dict().items()}
    monkeypatch.setattr(b.recon_loss.mrstft, "forward", lambda x, y: torch.tensor(float("nan")))
    with pytest.raises(NonFiniteLoss, match="non-finite"):
        _fit(b, _data(), tmp_path, steps=5)
    after = b.net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    events = read_jsonl(tmp_path / "events.jsonl")
    assert len(events) == 1 and math.isnan(events[0]["loss"])

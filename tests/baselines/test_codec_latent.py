"""The codec-latent baseline: residual VQ, the causal prior, the stage budget split, the
pretrained-codec adapter's fail-fast path, and the plugin contract.

Everything runs on toy vectors, tiny models and the conformance kit's 8 kHz data, so the file
takes seconds on a CPU.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from baselines.codec_latent.baseline import CodecLatent, CodecLatentDac, CodecLatentEncodec, stage_budget
from baselines.codec_latent.pretrained import DAC_CHECKPOINT, ENCODEC_CHECKPOINT, PretrainedCodecUnavailable
from baselines.codec_latent.prior import CodePrior
from baselines.codec_latent.rvq import ResidualVQ
from bench.api.baseline import Condition, declared_vs_implemented
from bench.api.fit import Budget, FitContext
from bench.io_atomic import read_jsonl
from bench.validate import run_conformance, tiny_datamodule

CONF = Path(__file__).resolve().parents[2] / "bench" / "conf" / "baseline"


def _smoke(**overrides) -> dict:
    cfg = yaml.safe_load((CONF / "codec_latent_smoke.yaml").read_text())
    cfg.pop("name")
    return {**cfg, **overrides}


def _baseline(data, **overrides) -> CodecLatent:
    torch.manual_seed(0)
    return CodecLatent(num_classes=data.num_classes, sample_rate=data.sample_rate,
                       clip_samples=data.clip_samples, **_smoke(**overrides))


def _fit(b: CodecLatent, data, tmp_path: Path, budget: Budget, clock=None):
    kw = {} if clock is None else {"clock": clock}
    ctx = FitContext(budget=budget, device=torch.device("cpu"), seed=0, run_dir=tmp_path,
                     baseline=b, **kw)
    try:
        return b.fit(data, ctx)
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def data():
    return tiny_datamodule()


# --- residual vector quantisation ----------------------------------------------------------

def _toy_vectors(seed: int, n: int = 512, dim: int = 8, clusters: int = 6) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(clusters, dim, generator=g)
    return centres[torch.randint(clusters, (n,), generator=g)] + 0.3 * torch.randn(n, dim, generator=g)


def test_rvq_codes_round_trip_to_the_quantised_vectors_and_levels_refine():
    torch.manual_seed(0)
    rvq = ResidualVQ(dim=8, levels=3, codebook_size=16)
    x = _toy_vectors(0)
    rvq.train()
    for _ in range(20):
        rvq(x)
    rvq.eval()
    q = rvq(x)
    assert q.codes.shape == (len(x), 3) and q.codes.dtype == torch.long
    torch.testing.assert_close(rvq.embed(q.codes), q.quantized)   # codes → the same vectors
    torch.testing.assert_close(q.straight_through, q.quantized)   # straight-through carries them
    errors = [(x - _partial(rvq, q.codes, k)).pow(2).mean().item() for k in (1, 2, 3)]
    assert errors[0] > errors[1] > errors[2], errors               # each level removes error
    with pytest.raises(ValueError, match=r"codes must lie in \[0, 16\)"):
        rvq.embed(torch.full((2, 3), 16))


def _partial(rvq: ResidualVQ, codes: torch.Tensor, k: int) -> torch.Tensor:
    """The sum of the first ``k`` levels' code vectors."""
    return sum(rvq.codebooks[level][codes[:, level]] for level in range(k))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rvq_commitment_loss_falls_on_a_toy_set(seed):
    """Encoder outputs as free parameters on clustered toy vectors, trained by the commitment
    loss alone while the EMA codebooks follow them: the outputs settle onto their codes."""
    torch.manual_seed(seed)
    z = nn.Parameter(_toy_vectors(seed))
    rvq = ResidualVQ(dim=8, levels=2, codebook_size=16).train()
    opt = torch.optim.Adam([z], lr=0.05)
    commitments = []
    for _ in range(100):
        q = rvq(z)
        opt.zero_grad()
        q.commitment.backward()
        opt.step()
        commitments.append(q.commitment.item())
    first, last = sum(commitments[:3]) / 3, sum(commitments[-3:]) / 3
    assert last < 0.1 * first, (first, last)
    assert z.grad is not None and len(torch.unique(q.codes[:, 0])) > 1   # not one collapsed code


def test_rvq_restarts_dead_codes_at_batch_vectors():
    torch.manual_seed(0)
    rvq = ResidualVQ(dim=4, levels=1, codebook_size=8, dead_threshold=0.5).train()
    x = torch.randn(64, 4)
    rvq(x)
    rvq.codebooks[0, 3] = 1e6          # a code nothing is near: never chosen
    rvq.ema_count[0, 3] = 0.0
    rvq(x)
    assert rvq.codebooks[0, 3].abs().max() < 100     # moved back among the data


# --- the prior -------------------------------------------------------------------------------

def _prior(**kw) -> CodePrior:
    torch.manual_seed(0)
    return CodePrior(num_classes=3, frames=5, levels=2, codebook_size=7, d_model=32, layers=2,
                     heads=4, **kw).eval()


def test_prior_is_causal_a_later_code_never_changes_an_earlier_logit():
    prior = _prior()
    codes = torch.randint(7, (2, 5, 2), generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 2])
    tokens = prior.flatten(codes)
    base = prior.logits(tokens, labels)
    for t in range(tokens.shape[1]):
        changed = tokens.clone()
        changed[:, t] = (changed[:, t] + 1) % 7
        out = prior.logits(changed, labels)
        # logit t predicts token t: it and every earlier one see only tokens < t
        torch.testing.assert_close(out[:, : t + 1], base[:, : t + 1], rtol=0, atol=1e-6)
        if t + 1 < tokens.shape[1]:
            assert (out[:, t + 1] - base[:, t + 1]).abs().max() > 1e-4   # the next one does see it


def test_prior_class_token_conditions_every_logit():
    prior = _prior()
    tokens = torch.randint(7, (1, 10), generator=torch.Generator().manual_seed(1))
    a = prior.logits(tokens, torch.tensor([0]))
    b = prior.logits(tokens, torch.tensor([1]))
    assert ((a - b).abs().amax(dim=-1) > 1e-4).all()


def test_prior_kv_cache_gives_the_full_pass_logits():
    prior = _prior()
    tokens = torch.randint(7, (3, 10), generator=torch.Generator().manual_seed(2))
    labels = torch.tensor([0, 1, 2])
    full = prior.logits(tokens, labels)
    cache = prior.new_cache()
    stepwise = torch.stack([prior.next_logits(tokens, labels, t, cache) for t in range(10)], dim=1)
    torch.testing.assert_close(stepwise, full, rtol=1e-4, atol=1e-5)


def test_prior_samples_are_seeded_and_learn_a_class_dependent_sequence():
    """Two classes, each always the same code sequence: after training, sampling each class
    returns its sequence; the same generator seed gives the same codes."""
    prior = _prior(dropout=0.0).train()
    target = torch.randint(7, (3, 5, 2), generator=torch.Generator().manual_seed(3))
    labels = torch.tensor([0, 1, 2])
    opt = torch.optim.Adam(prior.parameters(), lr=3e-3)
    for _ in range(150):
        loss = prior.loss(target, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    prior.eval()
    assert prior.loss(target, labels).item() < 0.1 * math.log(7)
    drawn = prior.sample(labels, torch.Generator().manual_seed(0))
    assert (drawn == target).float().mean() > 0.9
    again = prior.sample(labels, torch.Generator().manual_seed(0))
    assert torch.equal(drawn, again)


# --- the stage budget split ----------------------------------------------------------------

def test_stage_budget_gives_the_codec_its_fraction_and_the_prior_the_rest():
    assert stage_budget(Budget(3000, 300.0, 32, 250), 0.7) == (2100, 210.0)
    assert stage_budget(Budget(3, 120.0, 4, 2), 0.7) == (2, 84.0)       # at least one prior step
    assert stage_budget(Budget(1, 120.0, 4, 2), 0.5)[0] == 1
    assert stage_budget(Budget(100, 10.0, 4, 2), 0.0) == (0, 0.0)
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="codec_fraction"):
            stage_budget(Budget(100, 10.0, 4, 2), bad)


def test_fit_splits_the_steps_between_codec_and_prior(data, tmp_path):
    b = _baseline(data, codec_fraction=0.6)
    summary = _fit(b, data, tmp_path, Budget(10, 1e9, 4, 0))
    events = [e for e in read_jsonl(tmp_path / "events.jsonl") if e["kind"] == "train"]
    codec = sorted({e["step"] for e in events if "recon" in e})
    prior = sorted({e["step"] for e in events if "prior_nll" in e})
    assert codec == list(range(6)) and prior == list(range(6, 10))
    assert summary.steps == 10 and summary.stopped_because == "max_steps"
    assert (summary.extra["codec_steps"], summary.extra["prior_steps"]) == (6, 4)


def test_prior_keeps_its_best_valid_nll_checked_every_prior_val_every_steps(data, tmp_path):
    b = _baseline(data, codec_fraction=0.5, prior_val_every=3)
    summary = _fit(b, data, tmp_path, Budget(20, 1e9, 4, 0))     # protocol: no validations
    events = [e for e in read_jsonl(tmp_path / "events.jsonl") if "prior_valid_nll" in e]
    # prior steps 10..19: a check after every third (12, 15, 18) and one at the end (19)
    assert [e["step"] for e in events] == [12, 15, 18, 19]
    assert summary.extra["prior_valid_nll"] == min(e["prior_valid_nll"] for e in events)
    with pytest.raises(ValueError, match="prior_val_every"):
        _baseline(data, prior_val_every=0)


def test_codec_stage_ends_on_its_best_checked_weights(data, tmp_path, monkeypatch):
    """The codec is checked every codec_val_every steps and at the end of its stage; the prior
    then learns the codes of the best-checked codec, whatever the last steps did."""
    b = _baseline(data, codec_fraction=0.5, codec_val_every=2)
    distances = iter([3.0, 1.0, 2.0, 5.0, 4.0])     # checks at steps 2, 4, 6, 8 and the last (9)
    snapshots = []

    def fake_distance(audio):
        snapshots.append({k: v.clone() for k, v in b.codec.state_dict().items()})
        return next(distances)

    monkeypatch.setattr(b, "codec_distance", fake_distance)
    summary = _fit(b, data, tmp_path, Budget(20, 1e9, 4, 0))
    checks = [e["step"] for e in read_jsonl(tmp_path / "events.jsonl") if "codec_valid_mrstft" in e]
    assert checks == [2, 4, 6, 8, 9]
    assert (summary.extra["codec_best_step"], summary.extra["codec_valid_mrstft"]) == (4, 1.0)
    kept, last = snapshots[1], snapshots[-1]
    for name, value in b.codec.state_dict().items():
        assert torch.equal(value, kept[name]), name
    assert not all(torch.equal(v, last[k]) for k, v in kept.items())  # training had moved on


def test_fit_splits_the_wall_budget_between_codec_and_prior(data, tmp_path, monkeypatch):
    """A fake clock advanced one second per training step: the codec stops at its share of the
    wall budget, the prior at the protocol's."""
    now = [0.0]
    b = _baseline(data, codec_fraction=0.3)
    codec_step, prior_loss = b.codec_step, b.prior.loss

    def tick(fn):
        def wrapped(*args, **kw):
            now[0] += 1.0
            return fn(*args, **kw)
        return wrapped
    monkeypatch.setattr(b, "codec_step", tick(codec_step))
    monkeypatch.setattr(b.prior, "loss", tick(prior_loss))
    summary = _fit(b, data, tmp_path, Budget(10_000, 10.0, 4, 0), clock=lambda: now[0])
    assert summary.extra["codec_steps"] == 3
    assert summary.extra["prior_steps"] == 7
    assert summary.stopped_because == "max_wall_s"


# --- the pretrained codec ------------------------------------------------------------------

@pytest.mark.parametrize("variant, checkpoint, host", [
    (CodecLatentEncodec, ENCODEC_CHECKPOINT, "dl.fbaipublicfiles.com"),
    (CodecLatentDac, DAC_CHECKPOINT, "github.com/descriptinc/descript-audio-codec")])
def test_pretrained_codec_without_weights_fails_at_once_naming_the_file(data, tmp_path, variant,
                                                                        checkpoint, host):
    with pytest.raises(PretrainedCodecUnavailable) as err:
        variant(num_classes=data.num_classes, sample_rate=data.sample_rate,
                clip_samples=data.clip_samples, pretrained_dir=str(tmp_path))
    message = str(err.value)
    assert str(tmp_path / checkpoint) in message
    assert host in message and "codec: self" in message
    assert variant.meta.variant_of == "codec_latent" and variant.meta.devices


def test_pretrained_variant_configs_name_their_classes():
    for config, cls in (("codec_latent_encodec", CodecLatentEncodec), ("codec_latent_dac", CodecLatentDac)):
        cfg = yaml.safe_load((CONF / f"{config}.yaml").read_text())
        assert cfg["name"] == f"{cls.__module__}:{cls.__name__}" and cls.meta.name == config


# --- the plugin ------------------------------------------------------------------------------

def test_passes_the_conformance_kit():
    checks = run_conformance(CodecLatent, _smoke())
    failed = [f"{c.name}: {c.detail}" for c in checks if not c.ok]
    assert not failed, failed
    assert len(checks) >= 8


def test_latent_is_the_quantised_codec_embedding(data, tmp_path):
    b = _baseline(data)
    _fit(b, data, tmp_path, Budget(6, 1e9, 4, 0))
    b.eval()
    assert not declared_vs_implemented(b)
    x = data.test.audio[:4]
    z = b.encode(x)
    assert z.shape == (4, b.codec.code_dim * b.codec.frames) == (4, b.latent_dim)
    codes = b.codec.quantize(b.codec.encode(x)).codes
    torch.testing.assert_close(z, b.codec.embed(codes).flatten(1))    # encode quantises
    torch.testing.assert_close(b.decode(z), b.codec.decode(b.codec.embed(codes)).clamp(-1, 1))
    g = torch.Generator().manual_seed(5)
    cond = Condition(labels=torch.tensor([0, 1, 2, 3]))
    drawn = b.sample_codes(4, condition=cond, generator=g)
    latent = b.sample_latent(4, condition=cond, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(latent, b.codec.embed(drawn).flatten(1))
    with pytest.raises(ValueError, match=f"expected latents of shape \\(n, {b.latent_dim}\\)"):
        b.decode(torch.zeros(2, 3))


def test_checkpoint_refuses_another_codec_and_round_trips_the_stage(data, tmp_path):
    b = _baseline(data)
    _fit(b, data, tmp_path, Budget(4, 1e9, 4, 0))
    state = b.state_dict()
    assert state["stage"] == "prior" and state["codec_steps"] == 2
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    other = _baseline(data)
    other.load_state_dict(torch.load(buf, weights_only=False))
    assert (other.stage, other.codec_steps, other.steps_done) == ("prior", 2, 4)
    with pytest.raises(ValueError, match="not a codec_latent checkpoint"):
        other.load_state_dict({**state, "codec_kind": "encodec_24khz"})


def test_the_istft_heads_projection_learns_at_its_own_rate(data):
    b = _baseline(data, codec_lr=0.002, head_lr_mult=5.0)
    groups = b.codec_opt.param_groups
    head = {id(p) for p in b.codec.synth.proj.parameters()}
    assert [g["lr"] for g in groups] == [0.002, 0.01]
    assert {id(p) for p in groups[1]["params"]} == head
    assert not head & {id(p) for p in groups[0]["params"]}
    assert sum(len(g["params"]) for g in groups) == len(list(b.codec.parameters()))


def test_config_errors_name_the_problem(data):
    with pytest.raises(ValueError, match="codec_fraction"):
        _baseline(data, codec_fraction=1.0)
    with pytest.raises(ValueError, match="codec widths"):
        _baseline(data, codec_widths=[])
    with pytest.raises(ValueError, match="multiple of heads"):
        _baseline(data, prior_d_model=30, prior_heads=4)
    with pytest.raises(ValueError, match="head_lr_mult"):
        _baseline(data, head_lr_mult=0.0)


def test_quick_config_builds_at_protocol_scale():
    cfg = yaml.safe_load((CONF / "codec_latent.yaml").read_text())
    assert cfg.pop("name") == "codec_latent"
    b = CodecLatent(num_classes=9, sample_rate=16000, clip_samples=16000, **cfg)
    assert (b.codec.frames, b.codec.levels) == (15, 4)       # 60 tokens per clip
    assert b.latent_dim == 32 * 15


@pytest.mark.slow
def test_both_stages_learn_on_the_kit(data, tmp_path):
    """Codec reconstruction and prior NLL both fall within one short budget."""
    b = _baseline(data, codec_fraction=0.5)
    before = b.codec_distance(data.valid.audio)
    summary = _fit(b, data, tmp_path, Budget(160, 1e9, 8, 40))
    after = b.codec_distance(data.valid.audio)
    assert after < 0.8 * before, (before, after)
    events = [e for e in read_jsonl(tmp_path / "events.jsonl") if "prior_nll" in e]
    first = sum(e["prior_nll"] for e in events[:5]) / 5
    last = sum(e["prior_nll"] for e in events[-5:]) / 5
    assert last < 0.8 * first, (first, last)
    assert summary.extra["prior_valid_nll"] < math.log(b.codec.codebook_size)

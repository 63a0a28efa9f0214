"""Latency and parameter count against a baseline whose cost we know: it sleeps a fixed time per
call plus a fixed time per clip, and counts its calls."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from bench.api.baseline import Baseline, BaselineMeta, FitSummary
from bench.api.metric import MetricSkipped, ScoreContext
from bench.metrics.latency import Latency, ParamCount, parameter_count, tensor_counts
from bench.protocol import LatencyConfig, ProtocolConfig

SR, T = 16000, 8000
CALL_S, PER_CLIP_S = 0.010, 0.002


class Sleeper(Baseline):
    meta = BaselineMeta(name="sleeper", version="1", capabilities=frozenset({"sample", "conditional"}))

    def __init__(self) -> None:
        super().__init__(num_classes=2, sample_rate=SR, clip_samples=T)
        self.encoder = torch.nn.Linear(10, 5)                         # 55 parameters
        self.decoder = torch.nn.Sequential(torch.nn.Conv1d(5, 3, 4),  # 63
                                           torch.nn.Conv1d(3, 1, 2, bias=False))  # 6
        self.decoder[1].weight.requires_grad_(False)
        self.same_encoder = self.encoder                              # shared: counted once
        self.calls: list[tuple[int, object]] = []

    def fit(self, data, ctx):
        return FitSummary(steps=0, wall_s=0.0)

    def sample(self, n, *, condition=None, generator=None):
        self.calls.append((n, condition))
        time.sleep(CALL_S + PER_CLIP_S * n)
        return torch.zeros(n, 1, T)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def context(baseline, latency: LatencyConfig, run_info=None) -> ScoreContext:
    protocol = ProtocolConfig(name="test", version="1", latency=latency, bootstrap=50)
    empty = np.zeros((0, T), np.float32)
    return ScoreContext(generated=empty, generated_labels=np.zeros(0, int), real_test=empty,
                        real_test_labels=np.zeros(0, int), real_train=empty,
                        real_train_labels=np.zeros(0, int), classes=["a", "b"], sample_rate=SR,
                        protocol=protocol, embed=lambda name, x: np.zeros((len(x), 1)),
                        capabilities=baseline.meta.capabilities, baseline=baseline,
                        run_info=run_info or {})


def test_latency_of_a_baseline_that_sleeps_a_known_time(tmp_path):
    checkpoint = tmp_path / "best.pt"
    checkpoint.write_bytes(b"x" * 1234)
    sleeper = Sleeper()
    ctx = context(sleeper, LatencyConfig(warmup=2, repeats=5, throughput_batch=8),
                  {"checkpoint": str(checkpoint), "fit_seconds": 12.5})
    result = Latency().compute(ctx)
    d = result.details

    single = [n for n, _ in sleeper.calls if n == 1]
    assert len(single) == 2 + 20                    # repeats below 20 are raised to 20
    assert d["timed_calls"] == result.n == 20 and d["warmup_calls"] == 2
    assert all(cond.labels.tolist() == [0] for n, cond in sleeper.calls if n == 1)

    expected_ms = 1000 * (CALL_S + PER_CLIP_S)
    assert result.value == d["median_ms"]
    assert expected_ms <= d["median_ms"] < expected_ms + 8.0   # sleep overshoots, never undershoots
    assert d["min_ms"] <= d["median_ms"] <= d["p95_ms"]
    assert result.ci95[0] <= d["median_ms"] <= result.ci95[1]
    assert d["real_time_factor"] == pytest.approx((T / SR) / (d["median_ms"] / 1000))
    assert 20 < d["real_time_factor"] <= (T / SR) / (CALL_S + PER_CLIP_S)

    batch_s = CALL_S + 8 * PER_CLIP_S
    assert d["throughput_batch"] == 8 and sum(n == 8 for n, _ in sleeper.calls) == 1 + 3
    assert 0.4 * 8 / batch_s < d["throughput_clips_per_s"] <= 8 / batch_s

    assert d["params"] == {"trained": 55 + 63, "frozen": 6, "buffers": 0}
    assert d["checkpoint_bytes"] == 1234 and d["fit_seconds"] == 12.5
    assert d["device"] == "cpu" and d["torch_version"] == torch.__version__
    assert d["num_threads"] == torch.get_num_threads()


def test_unconditional_baseline_gets_no_condition():
    sleeper = Sleeper()
    ctx = context(sleeper, LatencyConfig(warmup=0, repeats=20, throughput_batch=2))
    ctx.capabilities = frozenset({"sample"})
    Latency().compute(ctx)
    assert len(sleeper.calls) == 20 + 4 and all(cond is None for _, cond in sleeper.calls)


def test_parameter_count_is_exact():
    sleeper = Sleeper()
    expected = sum(p.numel() for p in sleeper.encoder.parameters()) + \
        sum(p.numel() for p in sleeper.decoder.parameters())
    assert parameter_count(sleeper) == expected == 124
    assert parameter_count(sleeper, trainable_only=True) == 124 - 6
    sleeper.decoder.register_buffer("bank", torch.zeros(5, 7))   # stored, not learnt
    assert tensor_counts(sleeper) == {"trained": 118, "frozen": 6, "buffers": 35}
    result = ParamCount().compute(context(sleeper, LatencyConfig()))
    assert result.value == 118   # trained only: frozen parameters and buffers are apart
    assert (result.details["frozen"], result.details["buffers"], result.details["stored_values"]) == (6, 35, 159)
    assert ParamCount.higher_is_better is False


def test_module_less_baseline_has_zero_parameters_and_missing_one_is_skipped():
    class Plain(Sleeper):
        def __init__(self) -> None:
            Baseline.__init__(self, num_classes=2, sample_rate=SR, clip_samples=T)
            self.calls = []

    assert ParamCount().compute(context(Plain(), LatencyConfig())).value == 0
    ctx = context(Plain(), LatencyConfig())
    ctx.baseline = None
    with pytest.raises(MetricSkipped):
        Latency().compute(ctx)

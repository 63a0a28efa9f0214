"""Plugin output is checked at the call: a wrong-shape or NaN ``sample()`` is named as such, by the
kit (sampling is checked before fit, every check runs) and by the harness's own calls."""
from __future__ import annotations

from typing import Any

import pytest
import torch

from bench.api.baseline import Baseline, BaselineMeta, FitSummary
from bench.api.output_check import PluginOutputError, check_audio, checked_sample
from bench.validate import main as validate_main
from bench.validate import run_conformance, tiny_datamodule

KIT_CHECKS = ["is a Baseline with BaselineMeta", "constructs; declared capabilities match methods",
              "sample before fit: shape, dtype, finite, range", "fit honours a 3-step budget",
              "sample: shape, dtype, finite, range", "sample: same generator seed → same audio",
              "sample: different seeds → different audio", "state_dict round-trip reproduces samples"]


class _PerClassNoise(Baseline):
    """The issue's plugin: a learned gain per class times seeded noise; fits with the loop."""

    meta = BaselineMeta(name="perclass", version="0", capabilities=frozenset({"sample", "conditional"}))

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.gain = torch.nn.Parameter(torch.full((self.num_classes,), 0.5))
        self.step = 0

    def fit(self, data, ctx) -> FitSummary:
        self.step = ctx.start_step
        while not ctx.should_stop(self.step):
            ctx.log(self.step, loss=0.0)
            self.step += 1
            if ctx.should_validate(self.step):
                ctx.validate(self.step)
        return FitSummary(steps=self.step, wall_s=ctx.elapsed(), stopped_because=ctx.stopped_because)

    def noise(self, n, condition, generator) -> torch.Tensor:
        labels = condition.labels if condition is not None else torch.zeros(n, dtype=torch.long)
        x = torch.rand(n, self.clip_samples, generator=generator) * 2 - 1
        return (self.gain.detach()[labels, None] * x).clamp(-1, 1)

    def sample(self, n, *, condition=None, generator=None):
        return self.noise(n, condition, generator).unsqueeze(1)

    def state_dict(self) -> dict[str, Any]:
        return {"gain": self.gain.detach().clone(), "step": self.step}

    def load_state_dict(self, state) -> None:
        self.gain.data.copy_(state["gain"])
        self.step = state["step"]


class _FlatShape(_PerClassNoise):
    meta = BaselineMeta(name="flatshape", version="0", capabilities=frozenset({"sample", "conditional"}))

    def sample(self, n, *, condition=None, generator=None):
        return self.noise(n, condition, generator)            # (n, T): forgot the channel axis


class _NaNs(_PerClassNoise):
    meta = BaselineMeta(name="nans", version="0", capabilities=frozenset({"sample", "conditional"}))

    def sample(self, n, *, condition=None, generator=None):
        out = self.noise(n, condition, generator).unsqueeze(1)
        out[1, 0, 5] = float("nan")
        return out


def test_a_good_plugin_passes_every_check_in_order():
    checks = run_conformance(_PerClassNoise)
    assert [c.name for c in checks] == KIT_CHECKS
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]


@pytest.mark.parametrize("cls,what", [(_FlatShape, "of shape (4, 4000); expected shape (4, 1, 4000)"),
                                      (_NaNs, "1 NaN/inf value(s) in clip(s) [1]")])
def test_bad_samples_are_named_first_and_every_check_still_runs(cls, what):
    checks = run_conformance(cls)
    assert [c.name for c in checks] == KIT_CHECKS          # nothing skipped after a failure
    failed = [c for c in checks if not c.ok]
    first = failed[0]
    assert first.name == "sample before fit: shape, dtype, finite, range"
    assert f"baseline {cls.meta.name!r}: sample(n=4) returned" in first.detail
    assert what in first.detail
    fit = next(c for c in checks if c.name.startswith("fit honours"))
    # the fit's validation loop calls sample too: its error names sample, not an embedder
    assert not fit.ok and "sample(n=" in fit.detail and "mel:" not in fit.detail


def test_validate_prints_the_named_failure(capsys):
    assert validate_main([f"{__name__}:_FlatShape"]) == 1
    out = capsys.readouterr().out
    first_fail = next(line for line in out.splitlines() if line.startswith("FAIL"))
    assert "sample before fit" in first_fail and "PluginOutputError: baseline 'flatshape'" in first_fail


def test_harness_fit_path_names_sample():
    """The validation loop inside fit (what `drumbench run` reported as "fit failed")."""
    from bench.runner.validation import validation_fn

    data = tiny_datamodule()
    b = _NaNs(num_classes=data.num_classes, sample_rate=data.sample_rate, clip_samples=data.clip_samples)

    class Protocol:
        validation_embedder = "mel"

    validate = validation_fn(b, data, Protocol(), torch.device("cpu"))
    with pytest.raises(PluginOutputError, match=r"baseline 'nans': sample\(n=\d+\) returned 1 NaN"):
        validate()


class _Stub:
    meta = BaselineMeta(name="stub", version="0", capabilities=frozenset({"sample"}))
    clip_samples = 8

    def __init__(self, out):
        self.out = out

    def sample(self, n, *, condition=None, generator=None):
        return self.out


@pytest.mark.parametrize("out,message", [
    (torch.zeros(2, 8).numpy(), "returned ndarray of shape (2, 8); expected a torch.Tensor"),
    (torch.zeros(2, 1, 8, dtype=torch.float64), "float64 tensor of shape (2, 1, 8); expected dtype float32"),
    (torch.full((2, 1, 8), 1.5), "outside [-1, 1] (peak 1.5)"),
    (torch.full((2, 1, 8), float("inf")), "16 NaN/inf value(s) in clip(s) [0, 1]"),
    (torch.zeros(3, 1, 8), "shape (3, 1, 8); expected shape (2, 1, 8)"),
])
def test_checked_sample_refuses_each_kind_of_bad_output(out, message):
    with pytest.raises(PluginOutputError) as err:
        checked_sample(_Stub(out), 2)
    assert str(err.value).startswith("baseline 'stub': sample(n=2) returned")
    assert message in str(err.value)


def test_good_output_passes_through_unchanged():
    x = torch.rand(2, 1, 8) * 2 - 1
    assert checked_sample(_Stub(x), 2) is x
    assert check_audio(x, baseline=_Stub(x), call="decode(z)", n=2, clip_samples=8) is x


class _Unbuildable(_PerClassNoise):
    meta = BaselineMeta(name="unbuildable", version="0", capabilities=frozenset({"sample"}))

    def __init__(self, **kw: Any) -> None:
        raise RuntimeError("needs a GPU it does not ask for")


def test_checks_after_a_failed_construction_are_reported_not_dropped():
    checks = run_conformance(_Unbuildable)
    assert [c.name for c in checks] == KIT_CHECKS
    assert checks[0].ok and not checks[1].ok and "needs a GPU" in checks[1].detail
    assert all(not c.ok and c.detail == "not run: the baseline could not be constructed"
               for c in checks[2:])

"""The conformance kit passes every built-in baseline and catches broken plugins."""
from __future__ import annotations

from typing import Any

import pytest
import torch

from bench import registry
from bench.api.baseline import Baseline, BaselineMeta, FitSummary
from bench.validate import load_config, main, run_conformance

BUILTINS = list(registry.KINDS["baselines"].builtins)  # every built-in, variants included


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_baselines_pass_the_kit(name):
    cls = registry.resolve("baselines", name)
    checks = run_conformance(cls, load_config(None, cls))
    failed = [f"{c.name}: {c.detail}" for c in checks if not c.ok]
    assert not failed, failed
    assert len(checks) >= 6


class _Sloppy(Baseline):
    """Declares an encoder it does not have, ignores the seed and the budget, and clips badly."""

    meta = BaselineMeta(name="sloppy", version="0", capabilities=frozenset({"sample", "encode"}))

    def fit(self, data, ctx) -> FitSummary:
        return FitSummary(steps=10**6, wall_s=0.0)

    def sample(self, n, *, condition=None, generator=None):
        return 2 * torch.rand(n, 1, self.clip_samples)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state) -> None:
        pass


def test_kit_reports_a_capability_lie():
    checks = run_conformance(_Sloppy)
    bad = {c.name: c.detail for c in checks if not c.ok}
    assert any("declares 'encode'" in d for d in bad.values()), bad


class _Careless(_Sloppy):
    meta = BaselineMeta(name="careless", version="0", capabilities=frozenset({"sample"}))


def test_kit_reports_budget_range_and_determinism_failures():
    checks = {c.name: c for c in run_conformance(_Careless)}
    assert not checks["fit honours a 3-step budget"].ok
    assert "max_steps=3" in checks["fit honours a 3-step budget"].detail


class _Unseeded(_Careless):
    meta = BaselineMeta(name="unseeded", version="0", capabilities=frozenset({"sample"}))

    def fit(self, data, ctx):
        return FitSummary(steps=0, wall_s=0.0)


def test_kit_reports_range_and_determinism_failures():
    checks = {c.name: c for c in run_conformance(_Unseeded)}
    assert not checks["sample: shape, dtype, finite, range"].ok
    assert "outside [-1, 1]" in checks["sample: shape, dtype, finite, range"].detail
    assert not checks["sample: same generator seed → same audio"].ok


def test_cli_validate_exit_codes(capsys):
    assert main(["noise"]) == 0
    assert "checks passed, 0 checks failed" in capsys.readouterr().out
    assert main([f"{__name__}:_Unseeded"]) == 1


def test_registry_did_you_mean():
    with pytest.raises(registry.UnknownName, match="Did you mean 'vae'"):
        registry.resolve("baselines", "vea")

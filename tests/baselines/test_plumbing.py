"""The shared training plumbing: gradient clipping that refuses a non-finite gradient, and the
learning rate annealed over the step budget."""
from __future__ import annotations

import pytest
import torch

from baselines._common.plumbing import anneal_lr, clip_gradients
from bench.api.fit import NonFiniteGradient, NonFiniteLoss


def _param_with_grad(grad: torch.Tensor) -> torch.nn.Parameter:
    p = torch.nn.Parameter(torch.zeros_like(grad))
    p.grad = grad.clone()
    return p


def test_clip_gradients_scales_a_large_finite_gradient_to_the_bound():
    p = _param_with_grad(torch.tensor([3.0, 4.0]))          # norm 5
    clip_gradients([p], 1.0, step=7, what="toy")
    assert torch.linalg.vector_norm(p.grad).item() == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_clip_gradients_stops_on_a_non_finite_gradient_naming_the_step(bad):
    p = _param_with_grad(torch.tensor([1.0, bad]))
    with pytest.raises(NonFiniteGradient, match=r"toy: the gradient norm is .* at step 7") as err:
        clip_gradients([p], 1.0, step=7, what="toy")
    assert isinstance(err.value, NonFiniteLoss)   # the runner's non-finite handling applies


def _adam(lr: float = 1e-3) -> torch.optim.Adam:
    return torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=lr)


def test_anneal_lr_falls_linearly_from_the_base_rate_to_its_final_fraction_at_max_steps():
    opt = _adam()
    rates = [anneal_lr(opt, 2e-3, step, 100, 0.1) for step in (0, 50, 100, 250)]
    assert rates == pytest.approx([2e-3, 1.1e-3, 2e-4, 2e-4])   # held past max_steps
    assert opt.param_groups[0]["lr"] == pytest.approx(2e-4)
    assert anneal_lr(opt, 2e-3, 60, 100, 1.0) == pytest.approx(2e-3)   # 1: constant


def test_anneal_lr_depends_on_the_step_alone_so_a_resumed_run_matches():
    unbroken, resumed = _adam(), _adam(lr=123.0)    # a fresh optimiser, as after a resume
    for step in range(40):
        anneal_lr(unbroken, 1e-3, step, 60, 0.0)
    assert anneal_lr(resumed, 1e-3, 39, 60, 0.0) == unbroken.param_groups[0]["lr"]


def test_anneal_lr_refuses_a_fraction_outside_0_1():
    with pytest.raises(ValueError, match="final learning-rate fraction"):
        anneal_lr(_adam(), 1e-3, 0, 10, 1.5)

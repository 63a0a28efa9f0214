"""The shared training plumbing: gradient clipping that refuses a non-finite gradient."""
from __future__ import annotations

import pytest
import torch

from baselines._common.plumbing import clip_gradients
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

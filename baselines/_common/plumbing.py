"""Small pieces every trained baseline needs the same way: the labels a generation call is for,
optimiser state that follows its parameters to a device, gradient checks that stop on NaN,
and a learning rate annealed over the protocol's step budget."""
from __future__ import annotations

import torch
from torch import Tensor

from bench.api.baseline import Condition
from bench.api.fit import NonFiniteGradient


def condition_labels(condition: Condition | None, n: int, num_classes: int, device: torch.device,
                     generator: torch.Generator | None = None) -> Tensor:
    """The condition's ``n`` labels on ``device``, or uniformly random classes from ``generator``."""
    labels = None if condition is None else condition.labels
    if labels is None:
        return torch.randint(num_classes, (n,), generator=generator).to(device)
    labels = torch.as_tensor(labels).flatten().to(device, torch.long)
    if labels.shape[0] != n:
        raise ValueError(f"asked for {n} clips but the condition has {labels.shape[0]} labels")
    return labels


def move_optimizer_state(opt: torch.optim.Optimizer, device: torch.device) -> None:
    """Adam's moments follow their parameters; so does the step count where the fused kernel
    reads it on the parameters' device (the unfused one wants it on the CPU)."""
    fused = any(group.get("fused") for group in opt.param_groups)
    for per_param in opt.state.values():
        for key, value in per_param.items():
            if isinstance(value, Tensor) and (key != "step" or fused):
                per_param[key] = value.to(device)


def clip_gradients(params, max_norm: float, step: int, what: str) -> None:
    """Clip the gradients' global norm to ``max_norm``; a NaN or infinite norm stops the run
    (``failed`` with this reason) before the optimiser writes it into the weights."""
    _refuse_non_finite(torch.nn.utils.clip_grad_norm_(params, max_norm), step, what)


def require_finite_gradients(params, step: int, what: str) -> None:
    """The guard of :func:`clip_gradients` without clipping, for a model trained unclipped
    (a GAN): a NaN or infinite gradient stops the run before any optimiser step."""
    grads = [p.grad for p in params if p.grad is not None]
    if grads:
        _refuse_non_finite(torch.nn.utils.get_total_norm(grads), step, what)


def _refuse_non_finite(norm: Tensor, step: int, what: str) -> None:
    if not torch.isfinite(norm):
        raise NonFiniteGradient(f"{what}: the gradient norm is {norm.item()} at step {step} "
                                f"(the loss was finite); no update was made")


def checked_final_fraction(value: float) -> float:
    """A baseline's ``lr_final_fraction``, refused at construction when outside [0, 1]."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"the final learning-rate fraction (lr_final_fraction) must lie in [0, 1], "
                         f"got {value}")
    return float(value)


def anneal_lr(opt: torch.optim.Optimizer, base_lr: float, step: int, max_steps: int,
              final_fraction: float) -> float:
    """Set ``opt``'s learning rate for ``step``: linear from ``base_lr`` down to
    ``final_fraction × base_lr`` at the protocol's ``max_steps`` (budgeted training's linear
    decay, Li, Yumer & Ramanan, ICLR 2020). It is a function of the step alone, so a resumed
    run follows the unbroken one exactly; where the wall budget ends a run first, it stops
    before the rate has fallen all the way. ``final_fraction = 1``: a constant rate."""
    final_fraction = checked_final_fraction(final_fraction)
    progress = min(1.0, max(0, step) / max(1, max_steps))
    lr = base_lr * (1.0 - (1.0 - final_fraction) * progress)
    for group in opt.param_groups:
        group["lr"] = lr
    return lr

"""Small pieces every trained baseline needs the same way: the labels a generation call is for,
and optimiser state that follows its parameters to a device."""
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
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    if not torch.isfinite(norm):
        raise NonFiniteGradient(f"{what}: the gradient norm is {norm.item()} at step {step} "
                                f"(the loss was finite); no update was made")

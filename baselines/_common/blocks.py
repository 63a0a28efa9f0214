"""Convolution blocks at frame rate, conditioned on a class embedding by FiLM (Perez et al. 2018)."""
from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F


class FiLMResBlock(nn.Module):
    """Two dilated 1-D convolutions with a residual path; the condition scales and shifts the
    hidden features (``h · (1 + γ) + β``), so the class reaches every layer."""

    def __init__(self, channels: int, cond_dim: int, kernel_size: int = 3, dilation: int = 1) -> None:
        super().__init__()
        pad = dilation * (kernel_size - 1) // 2
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, padding=pad, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2)
        self.film = nn.Linear(cond_dim, 2 * channels)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        gamma, beta = self.film(cond).unsqueeze(-1).chunk(2, dim=1)
        h = self.conv1(F.leaky_relu(x, 0.2))
        h = h * (1 + gamma) + beta
        h = self.conv2(F.leaky_relu(h, 0.2))
        return x + h


class ConditionedStack(nn.Module):
    """``blocks`` residual blocks with dilations 1, 3, 9, … (cycling), all seeing the condition."""

    def __init__(self, channels: int, cond_dim: int, blocks: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            FiLMResBlock(channels, cond_dim, kernel_size, dilation=3 ** (i % 3)) for i in range(blocks))

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x, cond)
        return x

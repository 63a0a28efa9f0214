"""Residual vector quantisation (RVQ) with EMA codebooks, as in SoundStream and EnCodec.

Level ``l`` quantises what the levels before it left over: ``r_0 = x``, ``c_l = argmin_k
‖r_l − C_l[k]‖``, ``r_{l+1} = r_l − C_l[c_l]``; the quantised vector is ``Σ_l C_l[c_l]``.
Codebooks are not trained by the gradient but by exponential moving averages of the vectors
assigned to each code (van den Oord et al. 2017, appendix; Zeghidour et al. 2021, §3.3), start
from vectors of the first training batch, and a code that stops being used (EMA count below
``dead_threshold``) is restarted at a random vector of the current batch (SoundStream's "codebook
expiry"). The encoder is pulled toward its codes by the commitment loss
``Σ_l ‖r_l − sg(C_l[c_l])‖²`` (mean over vectors and dimensions), and the decoder's gradient
reaches the encoder through the straight-through estimator.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F


@dataclass
class Quantized:
    """What :meth:`ResidualVQ.forward` returns for ``(N, dim)`` inputs."""

    straight_through: Tensor  # (N, dim): the quantised vectors' values, the input's gradient
    quantized: Tensor         # (N, dim): Σ_l C_l[c_l]
    codes: Tensor             # (N, levels) long
    commitment: Tensor        # scalar


class ResidualVQ(nn.Module):
    def __init__(self, dim: int, levels: int, codebook_size: int, decay: float = 0.99,
                 dead_threshold: float = 0.5, eps: float = 1e-5) -> None:
        super().__init__()
        for name, value in (("dim", dim), ("levels", levels), ("codebook_size", codebook_size)):
            if int(value) < 1:
                raise ValueError(f"ResidualVQ: {name} must be a positive integer, got {value!r}")
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ResidualVQ: decay must lie in (0, 1), got {decay}")
        self.dim, self.levels, self.codebook_size = int(dim), int(levels), int(codebook_size)
        self.decay, self.dead_threshold, self.eps = float(decay), float(dead_threshold), float(eps)
        self.register_buffer("codebooks", torch.randn(levels, codebook_size, dim) * 0.1)
        self.register_buffer("ema_count", torch.ones(levels, codebook_size))
        self.register_buffer("ema_sum", self.codebooks.clone())
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def nearest(self, level: int, residual: Tensor) -> Tensor:
        """Index of the nearest code of ``level`` for each row of ``residual``."""
        book = self.codebooks[level]
        dist = (residual.pow(2).sum(1, keepdim=True) - 2 * residual @ book.T
                + book.pow(2).sum(1)[None, :])
        return dist.argmin(dim=1)

    def embed(self, codes: Tensor) -> Tensor:
        """``(N, levels)`` codes → ``(N, dim)`` quantised vectors ``Σ_l C_l[c_l]``."""
        if codes.ndim != 2 or codes.shape[1] != self.levels:
            raise ValueError(f"expected codes of shape (N, {self.levels}), got {tuple(codes.shape)}")
        if bool((codes < 0).any()) or bool((codes >= self.codebook_size).any()):
            raise ValueError(f"codes must lie in [0, {self.codebook_size}), got "
                             f"{int(codes.min())}..{int(codes.max())}")
        out = self.codebooks[0].new_zeros(codes.shape[0], self.dim)
        for level in range(self.levels):
            out = out + self.codebooks[level][codes[:, level]]
        return out

    def forward(self, x: Tensor) -> Quantized:
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (N, {self.dim}), got {tuple(x.shape)}")
        update = self.training and torch.is_grad_enabled()
        if update and not bool(self.initialised):
            self._initialise(x.detach())
        residual = x
        quantized = torch.zeros_like(x)
        codes, commitment = [], x.new_zeros(())
        for level in range(self.levels):
            idx = self.nearest(level, residual.detach())
            if update:
                self._ema_update(level, residual.detach(), idx)
            chosen = self.codebooks[level][idx]
            commitment = commitment + F.mse_loss(residual, chosen.detach())
            quantized = quantized + chosen
            residual = residual - chosen.detach()
            codes.append(idx)
        return Quantized(straight_through=x + (quantized - x).detach(), quantized=quantized,
                         codes=torch.stack(codes, dim=1), commitment=commitment)

    @torch.no_grad()
    def _initialise(self, x: Tensor) -> None:
        """Each level's codes start at residual vectors of this (first) batch."""
        residual = x
        for level in range(self.levels):
            pick = torch.randint(residual.shape[0], (self.codebook_size,), device=x.device)
            self.codebooks[level].copy_(residual[pick])
            self.ema_sum[level].copy_(residual[pick])
            self.ema_count[level].fill_(1.0)
            residual = residual - self.codebooks[level][self.nearest(level, residual)]
        self.initialised.fill_(True)

    @torch.no_grad()
    def _ema_update(self, level: int, residual: Tensor, idx: Tensor) -> None:
        onehot = F.one_hot(idx, self.codebook_size).to(residual.dtype)       # (N, K)
        self.ema_count[level].mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.ema_sum[level].mul_(self.decay).add_(onehot.T @ residual, alpha=1 - self.decay)
        count = self.ema_count[level]
        total = count.sum()
        smoothed = (count + self.eps) / (total + self.codebook_size * self.eps) * total  # Laplace
        self.codebooks[level].copy_(self.ema_sum[level] / smoothed[:, None])
        dead = torch.nonzero(count < self.dead_threshold).flatten()
        if dead.numel():
            pick = torch.randint(residual.shape[0], (dead.numel(),), device=residual.device)
            self.codebooks[level][dead] = residual[pick]
            self.ema_sum[level][dead] = residual[pick]
            self.ema_count[level][dead] = 1.0

"""The class-conditioned prior over codec codes: a causal (decoder-only) transformer.

A clip's codes ``(frames, levels)`` are read frame by frame, coarse level first —
``[f0·l0, f0·l1, …, f0·l(L-1), f1·l0, …]`` — the flattening of VALL-E's and DOSE's token
sequences over residual codes. Position 0 holds the class (a learned start token per class,
the conditioning of Esser et al.'s taming-transformers); position ``t`` holds the embedding of
token ``t−1`` (level-specific tables) plus a learned position embedding, and predicts token ``t``
over the ``codebook_size`` codes of its level. Attention is causal, so a logit never depends on a
later token. Sampling draws the tokens one by one with the caller's ``torch.Generator`` and keeps
each layer's keys and values (a KV cache), so a clip costs one pass over its tokens, not one per
token; ``torch.nn.TransformerEncoder`` has no such cache, hence the small block below.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class CausalBlock(nn.Module):
    """Pre-norm transformer block: causal self-attention and a GELU MLP, each residual."""

    def __init__(self, d_model: int, heads: int, ff_mult: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, ff_mult * d_model), nn.GELU(),
                                 nn.Linear(ff_mult * d_model, d_model), nn.Dropout(dropout))

    def forward(self, x: Tensor, cache: list[Tensor] | None = None) -> Tensor:
        """``x`` ``(B, S, d)``. With ``cache`` (a list, empty at first) ``x`` is the newest
        token(s) only: earlier keys and values are read from it and the new ones appended."""
        b, s, d = x.shape
        if cache and s != 1:
            raise ValueError(f"a cached call after the first takes one token, got {s}")
        q, k, v = self.qkv(self.norm1(x)).view(b, s, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            if cache:
                k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
            cache[:] = [k, v]
        # a cached step's query is the last position, which may see every key: no mask needed
        causal = s > 1
        h = F.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        x = x + F.dropout(self.out(h.transpose(1, 2).reshape(b, s, d)), self.dropout, self.training)
        return x + self.mlp(self.norm2(x))


class CodePrior(nn.Module):
    def __init__(self, *, num_classes: int, frames: int, levels: int, codebook_size: int,
                 d_model: int = 192, layers: int = 4, heads: int = 4, ff_mult: int = 4,
                 dropout: float = 0.1) -> None:
        super().__init__()
        for name, value in (("num_classes", num_classes), ("frames", frames), ("levels", levels),
                            ("codebook_size", codebook_size), ("d_model", d_model),
                            ("layers", layers), ("heads", heads), ("ff_mult", ff_mult)):
            if int(value) < 1:
                raise ValueError(f"CodePrior: {name} must be a positive integer, got {value!r}")
        if d_model % heads:
            raise ValueError(f"CodePrior: d_model ({d_model}) must be a multiple of heads ({heads})")
        self.num_classes, self.frames, self.levels = int(num_classes), int(frames), int(levels)
        self.codebook_size = int(codebook_size)
        self.length = self.frames * self.levels
        self.classes = nn.Embedding(self.num_classes, d_model)
        self.tokens = nn.Embedding(self.levels * self.codebook_size, d_model)
        self.position = nn.Parameter(torch.randn(1, self.length, d_model) * 0.02)
        self.blocks = nn.ModuleList(CausalBlock(d_model, heads, ff_mult, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, self.codebook_size)
        self.register_buffer("level_offset", (torch.arange(self.length) % self.levels) * self.codebook_size,
                             persistent=False)

    def flatten(self, codes: Tensor) -> Tensor:
        """``(B, frames, levels)`` → ``(B, frames·levels)``, frame-major."""
        if codes.ndim != 3 or codes.shape[1:] != (self.frames, self.levels):
            raise ValueError(f"expected codes of shape (batch, {self.frames}, {self.levels}), "
                             f"got {tuple(codes.shape)}")
        return codes.reshape(codes.shape[0], self.length)

    def _check_labels(self, labels: Tensor, batch: int) -> Tensor:
        labels = labels.flatten().long()
        if labels.shape[0] != batch:
            raise ValueError(f"got {labels.shape[0]} labels for a batch of {batch}")
        if bool((labels < 0).any()) or bool((labels >= self.num_classes).any()):
            raise ValueError(f"class labels must lie in [0, {self.num_classes}), got "
                             f"{sorted(set(labels.tolist()))}")
        return labels

    def _inputs(self, tokens: Tensor, labels: Tensor, start: int, stop: int) -> Tensor:
        """Inputs at positions ``start..stop−1``: the class at 0, else the previous token."""
        parts = []
        if start == 0:
            parts.append(self.classes(labels)[:, None])
        lo = max(start, 1)
        if stop > lo:
            parts.append(self.tokens(tokens[:, lo - 1: stop - 1] + self.level_offset[lo - 1: stop - 1]))
        return torch.cat(parts, dim=1) + self.position[:, start:stop]

    def logits(self, tokens: Tensor, labels: Tensor) -> Tensor:
        """``tokens`` ``(B, S)`` (S ≤ frames·levels, the codes so far) → ``(B, S, codebook_size)``
        logits of tokens ``0..S−1`` (logit ``t`` sees the class and tokens ``< t`` only)."""
        b, s = tokens.shape
        if not 1 <= s <= self.length:
            raise ValueError(f"sequence length must lie in [1, {self.length}], got {s}")
        labels = self._check_labels(labels.to(tokens.device), b)
        h = self._inputs(tokens, labels, 0, s)
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h))

    def loss(self, codes: Tensor, labels: Tensor) -> Tensor:
        """Mean cross-entropy (nats per token) of ``(B, frames, levels)`` codes given the class."""
        tokens = self.flatten(codes)
        logits = self.logits(tokens, labels)
        return F.cross_entropy(logits.reshape(-1, self.codebook_size), tokens.reshape(-1))

    @torch.no_grad()
    def sample(self, labels: Tensor, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> Tensor:
        """Codes ``(B, frames, levels)`` drawn token by token for classes ``labels``; the draws run
        on the CPU with ``generator``, so a seed gives the same codes on any device."""
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        device = self.position.device
        labels = self._check_labels(labels.to(device), labels.shape[0])
        b = labels.shape[0]
        tokens = torch.zeros(b, self.length, dtype=torch.long, device=device)
        caches = self.new_cache()
        for t in range(self.length):
            logits = self.next_logits(tokens, labels, t, caches) / temperature
            probs = torch.softmax(logits.double(), dim=-1).cpu()
            tokens[:, t] = torch.multinomial(probs, 1, generator=generator)[:, 0].to(device)
        return tokens.view(b, self.frames, self.levels)

    def new_cache(self) -> list[list[Tensor]]:
        """An empty key/value cache for :meth:`next_logits`."""
        return [[] for _ in self.blocks]

    def next_logits(self, tokens: Tensor, labels: Tensor, t: int, cache: list[list[Tensor]]) -> Tensor:
        """Logits ``(B, codebook_size)`` of token ``t`` from the cache of positions ``< t`` and
        the input at ``t`` (token ``t−1`` of ``tokens``, or the class at 0); appends to the cache.
        Equal to ``logits(tokens[:, :t+1], labels)[:, t]`` up to float rounding."""
        h = self._inputs(tokens, labels, t, t + 1)
        for block, kv in zip(self.blocks, cache):
            h = block(h, kv)
        return self.head(self.norm(h))[:, 0]

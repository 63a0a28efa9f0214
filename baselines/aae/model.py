"""The AAE's discriminator on latent codes (Makhzani et al. 2015): an MLP that tells prior samples
from encoder codes. With a class-mixture prior it also reads the one-hot class, so each class's
codes are matched to that class's component rather than to the mixture as a whole."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class LatentDiscriminator(nn.Module):
    def __init__(self, latent_dim: int, num_classes: int = 0, hidden: int = 256, layers: int = 2) -> None:
        super().__init__()
        self.num_classes = num_classes
        widths = [latent_dim + num_classes] + [hidden] * layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.out = nn.Linear(widths[-1], 1)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Logit that ``z`` came from the prior (of class ``labels`` when class-aware)."""
        if self.num_classes:
            if labels is None:
                raise ValueError("this discriminator is class-aware: pass the labels")
            z = torch.cat([z, F.one_hot(labels, self.num_classes).to(z.dtype)], dim=1)
        h = z
        for layer in self.hidden:
            h = F.leaky_relu(layer(h), 0.2)
        return self.out(h).squeeze(1)

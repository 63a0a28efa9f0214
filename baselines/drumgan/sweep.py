"""Descriptor control check: does asking for more of a timbral descriptor give more of it?

For every class and each swept descriptor, ``base`` codes are drawn from the model's prior (noise
plus a training clip's descriptors of that class); the descriptor is then set to ``levels`` values
spread over the class's training range (its 10th–90th percentiles), the codes are decoded and the
generated clips' descriptor is measured with the same code that described the training clips
(:mod:`bench.data.timbral`). The score per descriptor is the mean over (class, code) of the
Spearman correlation between the requested and the measured values (1: always the same order).
Classes whose training range is flat for a descriptor (e.g. no low end at all in hi-hats) are
listed and left out of that descriptor's mean.

Run on a trained run (the same overrides as ``drumbench run``)::

    python -m baselines.drumgan.sweep baseline=drumgan protocol=quick dataset=synthkit seed=0
"""
from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from bench.api.baseline import Condition
from bench.data import timbral
from bench.data.datamodule import DataModule

SWEPT = ("brightness", "boominess", "warmth")   # declared before measuring: high, low, low mids


@torch.no_grad()
def descriptor_sweep(baseline: Any, data: DataModule, names: Sequence[str] = SWEPT, *,
                     levels: int = 5, base: int = 8, seed: int = 0) -> dict[str, Any]:
    baseline.eval()
    generator = torch.Generator().manual_seed(seed)
    out: dict[str, Any] = {"levels": levels, "codes_per_class": base, "descriptors": {}}
    for name in names:
        column = baseline.descriptor_names.index(name)
        per_class, flat = {}, []
        for c, cls in enumerate(data.classes):
            train = data.train.extra[name][data.train.labels == c].double().numpy() \
                if name in data.train.extra else None
            if train is None or len(train) < 2:
                flat.append(cls)
                continue
            asked = np.percentile(train, np.linspace(10, 90, levels))
            if np.ptp(asked) < 1e-3:
                flat.append(cls)
                continue
            labels = torch.full((base,), c, dtype=torch.long, device=baseline.device)
            z = baseline.sample_latent(base, condition=Condition(labels=labels), generator=generator)
            measured = np.zeros((base, levels))
            for k, value in enumerate(asked):
                cond = Condition(labels=labels, extra={name: torch.full((base,), float(value))})
                clips = baseline.decode(z, condition=cond)
                measured[:, k] = timbral.timbral_matrix(clips.cpu(), data.sample_rate)[:, column].numpy()
            rho = [spearmanr(asked, row).statistic if np.ptp(row) > 0 else 0.0 for row in measured]
            per_class[cls] = {"asked": asked.round(3).tolist(),
                              "measured_mean": measured.mean(axis=0).round(3).tolist(),
                              "spearman_mean": float(np.mean(rho))}
        values = [v["spearman_mean"] for v in per_class.values()]
        out["descriptors"][name] = {"spearman": float(np.mean(values)) if values else float("nan"),
                                    "per_class": per_class, "flat_classes": flat}
    return out


def main(argv: list[str]) -> int:
    from bench.runner.app import compose
    from bench.runner.experiment import Run
    from bench.runner.stages import load_trained

    run = Run(compose(argv))
    baseline = load_trained(run)
    result = descriptor_sweep(baseline, run.data, names=timbral.NAMES)
    result["run_dir"] = str(run.dir)
    print(json.dumps(result, indent=1))
    for name, item in result["descriptors"].items():
        mark = "*" if name in SWEPT else " "
        print(f"{mark} {name:<11} Spearman {item['spearman']:+.2f}  (flat: {item['flat_classes']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

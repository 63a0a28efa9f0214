"""``drumbench new-baseline NAME``: the folder and config a new plugin starts from.

The generated class is a working (if useless) baseline that passes ``drumbench validate``, so an
author changes a running thing instead of starting from a blank page.
"""
from __future__ import annotations

import argparse
import keyword
from pathlib import Path

BASELINE_PY = '''"""{name}: describe what this baseline reproduces (paper, citation) and how it deviates."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from bench.api.baseline import Baseline, BaselineMeta, Condition, FitSummary


class {cls}(Baseline):
    meta = BaselineMeta(name="{name}", version="0.1", capabilities=frozenset({{"sample", "conditional"}}),
                        citation="", description="One sentence: what this baseline is.")

    def __init__(self, *, hidden: int = 32, lr: float = 1e-3, **kw: Any) -> None:
        super().__init__(**kw)
        self.net = nn.Sequential(nn.Embedding(self.num_classes, hidden), nn.Linear(hidden, self.clip_samples))
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.step = 0

    def fit(self, data, ctx) -> FitSummary:
        batches = data.train_batches(ctx.budget.batch_size, ctx.generator, ctx.device)
        self.step = ctx.start_step
        while not ctx.should_stop(self.step):
            batch = next(batches)
            loss = (torch.tanh(self.net(batch.labels)) - batch.audio[:, 0]).pow(2).mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            ctx.log(self.step, loss=loss.item())
            self.step += 1
            if ctx.should_validate(self.step):
                ctx.validate(self.step)
        return FitSummary(steps=self.step, wall_s=ctx.elapsed(), stopped_because=ctx.stopped_because,
                          best_step=ctx.best_step, best_value=ctx.best_value)

    def sample(self, n: int, *, condition: Condition | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        labels = (condition.labels if condition is not None and condition.labels is not None
                  else torch.randint(0, self.num_classes, (n,), generator=generator))
        noise = 0.01 * torch.randn(n, self.clip_samples, generator=generator)
        out = torch.tanh(self.net(labels.to(self.device))) + noise.to(self.device)
        return out.clamp(-1, 1).unsqueeze(1)

    def state_dict(self) -> dict[str, Any]:
        return {{"net": self.net.state_dict(), "opt": self.opt.state_dict(), "step": self.step}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.step = state["step"]
'''

CONFIG = """# drumbench run baseline={name} (put this file where Hydra finds the baseline group:
# bench/conf/baseline/ for built-ins, or your package's conf/baseline/ with
# hydra.searchpath=[pkg://your_package.conf])
_target_: {module}.baseline.{cls}
hidden: 32
lr: 0.001
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="drumbench new-baseline")
    parser.add_argument("name")
    parser.add_argument("--dir", type=Path, default=Path("baselines"))
    args = parser.parse_args(argv)
    name = args.name
    if not name.isidentifier() or keyword.iskeyword(name):
        print(f"error: {name!r} must be a Python identifier (letters, digits, _)")
        return 2
    folder = args.dir / name
    if folder.exists():
        print(f"error: {folder} already exists")
        return 2
    cls = "".join(part.capitalize() for part in name.split("_")) or name
    module = ".".join(folder.parts)
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "baseline.py").write_text(BASELINE_PY.format(name=name, cls=cls))
    (folder / "README.md").write_text(f"# {name}\n\nWhat it reproduces, citation, deviations.\n")
    (folder / f"{name}.yaml").write_text(CONFIG.format(name=name, module=module, cls=cls))
    print(f"created {folder}/ — check it with: drumbench validate {module}.baseline:{cls} "
          f"--config {folder / (name + '.yaml')}")
    return 0

"""``drumbench new-baseline NAME``: the code and config a new baseline starts from.

Two forms: in-tree (``--dir``, a folder under drumbench's ``baselines/``) and a package of the
author's own (``--package DIR``: pyproject with the entry point, the class, ``conf/baseline/``
configs, a README and a test), which passes ``drumbench validate NAME`` right after
``pip install -e DIR``. The generated class is a working (if useless) baseline, so an author
changes a running thing instead of starting from a blank page.
"""
from __future__ import annotations

import argparse
import keyword
import sys
from pathlib import Path

from bench.io_atomic import atomic_write_text

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
        batches = ctx.batches(data, ctx.budget.batch_size)  # a resumed run sees the same order
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

IN_TREE_CONFIG = """# drumbench run baseline={name}: move this file to bench/conf/baseline/{name}.yaml and add
# "{name}": "{module}.baseline:{cls}" to the baselines table in bench/registry.py
name: {module}.baseline:{cls}
hidden: 32
lr: 0.001
"""

PACKAGE_CONFIG = """# drumbench run baseline={name}: found through the drumbench.baselines entry point in
# pyproject.toml, which also puts this package's conf/ folder on Hydra's search path.
name: {name}
hidden: {hidden}
lr: 0.001
"""

PYPROJECT = """[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "{name}: a drumbench baseline"
requires-python = ">=3.11"
dependencies = ["drumbench"]

# The one registration: drumbench finds the class here, and Hydra finds {name}/conf/.
[project.entry-points."drumbench.baselines"]
{name} = "{name}.baseline:{cls}"

[tool.setuptools.packages.find]
include = ["{name}*"]

[tool.setuptools.package-data]
"{name}" = ["conf/**/*.yaml"]
"""

PACKAGE_README = """# {name}

A [drumbench](https://github.com/) baseline. What it reproduces (paper, citation) and where it
deviates: fill in.

```bash
pip install -e .                       # registers the baseline and its configs
drumbench validate {name}              # the conformance kit, on conf/baseline/{name}_smoke.yaml
drumbench run baseline={name} protocol=smoke dataset=synthkit_smoke
python -m pytest tests                 # the same kit as a test
```
"""

PACKAGE_TEST = """\"\"\"{name} passes drumbench's conformance kit (the package must be installed).\"\"\"
from bench import registry
from bench.validate import load_config, run_conformance


def test_{name}_passes_the_conformance_kit():
    cls = registry.resolve("baselines", "{name}")
    checks = run_conformance(cls, load_config(None, cls, "{name}"))
    failed = [f"{{c.name}}: {{c.detail}}" for c in checks if not c.ok]
    assert not failed, failed
"""


def class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) or name


def _module_path(folder: Path) -> str:
    """The dotted module of an in-tree folder, relative to the current directory."""
    try:
        rel = folder.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        raise ValueError(f"--dir {folder.parent} is outside the current folder, so it is not an "
                         f"importable module path; for a baseline of your own outside drumbench "
                         f"use --package DIR") from None
    if not all(part.isidentifier() and not keyword.iskeyword(part) for part in rel.parts):
        raise ValueError(f"--dir {folder.parent}: every folder of {rel} must be a Python "
                         f"identifier to be imported as a module")
    return ".".join(rel.parts)


def write_in_tree(name: str, parent: Path) -> str:
    folder = parent / name
    if folder.exists():
        raise FileExistsError(f"{folder} already exists")
    cls = class_name(name)
    module = _module_path(folder)
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "baseline.py").write_text(BASELINE_PY.format(name=name, cls=cls))
    (folder / "README.md").write_text(f"# {name}\n\nWhat it reproduces, citation, deviations.\n")
    (folder / f"{name}.yaml").write_text(IN_TREE_CONFIG.format(name=name, module=module, cls=cls))
    return (f"created {folder}/ — check it with: drumbench validate {module}.baseline:{cls} "
            f"--config {folder / (name + '.yaml')}")


def write_package(name: str, root: Path) -> str:
    """An installable package: after ``pip install -e root``, ``drumbench validate name``."""
    if (root / "pyproject.toml").exists() or (root / name).exists():
        raise FileExistsError(f"{root} already holds a package ({root / 'pyproject.toml'} or "
                              f"{root / name} exists)")
    cls = class_name(name)
    pkg = root / name
    (pkg / "conf" / "baseline").mkdir(parents=True)
    (root / "tests").mkdir(exist_ok=True)
    files = {
        root / "pyproject.toml": PYPROJECT.format(name=name, cls=cls, dist=name.replace("_", "-")),
        root / "README.md": PACKAGE_README.format(name=name),
        root / "tests" / f"test_{name}.py": PACKAGE_TEST.format(name=name),
        pkg / "__init__.py": "",
        pkg / "baseline.py": BASELINE_PY.format(name=name, cls=cls),
        pkg / "conf" / "__init__.py": "",
        pkg / "conf" / "baseline" / f"{name}.yaml": PACKAGE_CONFIG.format(name=name, hidden=32),
        pkg / "conf" / "baseline" / f"{name}_smoke.yaml": PACKAGE_CONFIG.format(name=name, hidden=8),
    }
    for path, text in files.items():
        atomic_write_text(path, text)
    return (f"created package {root}/ — install and check it with:\n"
            f"  pip install -e {root}\n  drumbench validate {name}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="drumbench new-baseline")
    parser.add_argument("name")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--dir", type=Path, default=None,
                       help="in-tree: the folder (default baselines/) under the current directory")
    where.add_argument("--package", type=Path, default=None,
                       help="an installable package of your own in this folder")
    args = parser.parse_args(argv)
    name = args.name
    if not name.isidentifier() or keyword.iskeyword(name):
        print(f"error: {name!r} must be a Python identifier (letters, digits, _)", file=sys.stderr)
        return 2
    try:
        if args.package is not None:
            print(write_package(name, args.package))
        else:
            print(write_in_tree(name, args.dir if args.dir is not None else Path("baselines")))
    except (FileExistsError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0

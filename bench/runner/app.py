"""The Hydra application behind ``drumbench run`` (single runs and ``-m`` sweeps)."""
from __future__ import annotations

import hydra
from omegaconf import DictConfig

from bench.protocol import register_configs
from bench.runner.experiment import run_experiment

register_configs()


@hydra.main(version_base=None, config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    record = run_experiment(cfg)
    print(f"{record['status']}: {record['run_dir']}")


def compose(overrides: list[str]) -> DictConfig:
    """The same configuration ``drumbench run`` would build, for in-process callers (suite, tests)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="bench.conf", version_base=None):
        return hydra_compose(config_name="config", overrides=list(overrides))

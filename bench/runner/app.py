"""The Hydra application behind ``drumbench run`` (single runs and ``-m`` sweeps).

Every job goes through :func:`bench.runner.job.run_job`, whichever launcher runs it (basic,
joblib, submitit): a failed run is recorded and returned, so a sweep never stops at one; a
single run that failed exits non-zero. ``bench.runner.launch`` drives sweeps and summarises them.
"""
from __future__ import annotations

import hydra
from omegaconf import DictConfig

from bench.plugin_configs import register_with_hydra
from bench.protocol import register_configs

register_configs()
register_with_hydra()   # installed plugins' conf/ folders: no hydra.searchpath override needed


@hydra.main(version_base=None, config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    from bench.runner.job import job_file, hydra_job, run_job

    outcome = run_job(cfg)
    if outcome.status == "failed" and job_file(hydra_job()) is None:
        raise SystemExit(1)  # a single run: the reason is printed above; a sweep goes on
    return outcome.to_json()


def compose(overrides: list[str]) -> DictConfig:
    """The same configuration ``drumbench run`` would build, for in-process callers (suite, tests)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="bench.conf", version_base=None):
        return hydra_compose(config_name="config", overrides=list(overrides))


def config_options(group: str) -> list[str]:
    """The configs Hydra can see in ``group`` (built-in and plugin search paths alike)."""
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="bench.conf", version_base=None):
        return sorted(GlobalHydra.instance().config_loader().get_group_options(group))

"""An installed package's entry point also puts its conf/ folder on Hydra's search path."""
from __future__ import annotations

import importlib
from importlib.metadata import EntryPoint

import pytest

import bench.plugin_configs as plugin_configs
from bench.runner.app import compose, config_options


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch):
    """Two installed packages: `fakedrum` ships conf/ (without __init__.py), `bare` ships none."""
    conf = tmp_path / "fakedrum" / "conf" / "baseline"
    conf.mkdir(parents=True)
    (tmp_path / "fakedrum" / "__init__.py").write_text("raise RuntimeError('imported!')\n")
    (conf / "fakedrum.yaml").write_text("name: fakedrum\nwidth: 5\n")
    (conf / "fakedrum_smoke.yaml").write_text("name: fakedrum\nwidth: 1\n")
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    eps = {"drumbench.baselines": [EntryPoint("fakedrum", "fakedrum.models.gan:Fake", "drumbench.baselines"),
                                   EntryPoint("own", "baselines.vae.baseline:VAE", "drumbench.baselines")],
           "drumbench.embedders": [EntryPoint("bare", "bare:Embed", "drumbench.embedders")]}
    monkeypatch.setattr(plugin_configs, "entry_points", lambda group: eps.get(group, []))
    return tmp_path


def test_plugin_conf_folders_are_found_without_importing_the_package(fake_plugins):
    assert plugin_configs.plugin_config_modules() == {"fakedrum": fake_plugins / "fakedrum" / "conf"}
    options = plugin_configs.group_options("baseline")
    assert options["fakedrum"] == "fakedrum" and options["fakedrum_smoke"] == "fakedrum"
    assert options["vae"] == "built-in"
    assert plugin_configs.find_config("baseline", "fakedrum_smoke") == \
        fake_plugins / "fakedrum" / "conf" / "baseline" / "fakedrum_smoke.yaml"
    assert plugin_configs.find_config("baseline", "nothing") is None


def test_hydra_composes_a_plugin_config_with_no_search_path_override(fake_plugins):
    cfg = compose(["baseline=fakedrum_smoke", "baseline.width=3"])
    assert cfg.baseline.name == "fakedrum" and cfg.baseline.width == 3
    assert "fakedrum" in config_options("baseline") and "vae" in config_options("baseline")
